"""The I/O layer: the drivers that perform the core's actions (HTTP, sleeping, files, streams),
the HTTP transports, deadlines, file writing, fork safety and the private event loop."""
