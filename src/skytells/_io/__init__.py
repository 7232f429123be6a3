"""The I/O layer: the drivers that perform the core's actions (HTTP, sleeping, files, streams),
the HTTP transports (each bounding a whole exchange by its deadline), file writing and fork
safety."""
