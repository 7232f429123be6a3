"""The pure core: every API operation as a sans-IO generator, and the rules it follows.

Nothing here opens a socket, starts a thread, touches an event loop or the disk, or reads the
clock: operations *yield* actions (`protocol`) and receive their results from a driver in
`skytells._io`. A test (tests/test_architecture.py) holds this rule.
"""
