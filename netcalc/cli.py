"""The program: `main()` runs a command and owns errors and exit codes.

httpie's split: a NetcalcError prints `file:line:col: error: ...` and exits 1
(2 for usage and missing tools); any other exception is a netcalc bug, reported
in one line unless --debug. The commands are in netcalc/commands, the group in
command_line.py.
"""

from __future__ import annotations

import sys

from .command_line import run
from .errors import NetcalcError

EXIT_INTERNAL = 3


class _Interrupts:
    """Ctrl-C noticed even where a library turns the KeyboardInterrupt into another
    error (torch's lazy imports during tracing do)."""

    seen = False

    @classmethod
    def handle(cls, signum, frame):
        cls.seen = True
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal

    _Interrupts.seen = False
    if argv is None:      # the program itself, not a test calling main()
        signal.signal(signal.SIGINT, _Interrupts.handle)
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args     # accepted anywhere on the line, not only before the command
    args = [a for a in args if a != "--debug"]
    try:
        # a command's own verdict (verify: 1 when numbers differ) is its return value
        code = run(args)
        return code if isinstance(code, int) else 0
    except NetcalcError as error:
        if _Interrupts.seen:
            print("netcalc: interrupted", file=sys.stderr)
            return 130
        print(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("netcalc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()     # `netcalc ... | head` closed the pipe: not an error
        return 0
    except Exception as bug:  # noqa: BLE001 - the one place that turns bugs into one line
        if _Interrupts.seen:
            print("netcalc: interrupted", file=sys.stderr)
            return 130
        if debug:
            raise
        print(f"netcalc: internal error: {type(bug).__name__}: {bug} "
              "(run again with --debug for the traceback, and please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL
