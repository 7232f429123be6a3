"""The command line's exit codes and its usage error.

=====  =====================================================================================
code   meaning
=====  =====================================================================================
0      success
1      error: the API, the network, a file, an input the service refused
2      usage: an unknown option, a missing or malformed argument (the command was not run)
3      the prediction ended unsuccessfully (failed or cancelled): ``run``, ``predictions wait``
130    interrupted (Ctrl-C); a prediction that was started goes on
141    standard output was closed by its reader (``| head``): nothing more is printed, as a
       command killed by SIGPIPE (another output that cannot be written is an error: 1)
=====  =====================================================================================
"""

from __future__ import annotations

import errno

OK = 0
ERROR = 1
USAGE = 2
UNSUCCESSFUL = 3
INTERRUPTED = 130
BROKEN_PIPE = 141

EPILOG = """\
exit codes:
  0    success
  1    error (API, network, file, refused input)
  2    usage error (the command was not run)
  3    the prediction failed or was cancelled (run, predictions wait)
  130  interrupted (Ctrl-C); a started prediction goes on
  141  stdout closed by its reader (| head): the command stopped quietly

When stdout is not a terminal, lists are tab-separated lines (one record a line, no
header) and progress goes to stderr; NO_COLOR turns off every colour and style."""


class UsageError(Exception):
    """The command line is wrong (exit code 2): said on one line with the command's name."""


class OutputError(Exception):
    """A command's stdout or stderr could not be written (closed pipe, full disk...)."""

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(f"cannot write to {stream}: {error.strerror or error}")
        self.stream = stream
        self.error = error

    @property
    def broken_pipe(self) -> bool:
        """The reader went away (``| head``): not worth a word."""
        return self.error.errno in (errno.EPIPE, errno.ECONNRESET) or isinstance(
            self.error, BrokenPipeError
        )
