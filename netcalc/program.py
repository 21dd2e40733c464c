"""The `netcalc` program (the console script and `python -m netcalc`): the process is
set up before the command line's modules load, `cli.main` runs, and the process ends.

One short run makes few reference cycles; looking for them as often as a long-lived
program must (every 700 allocations) took ~4 ms of a ~90 ms summary, most of it while
the modules load and their dataclasses are made. And at its end the interpreter's
teardown frees every object one by one (~12 ms of it) although the process is about to
go: a run that loaded no library with cleanup of its own (torch) ends at once.
"""

import gc
import os
import sys

gc.set_threshold(50_000, *gc.get_threshold()[1:])

from . import cli  # noqa: E402  (after the threshold: the imports allocate the most)


def main() -> int:
    code = cli.main()
    if "torch" in sys.modules:        # its atexit handlers run as usual
        return code
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):   # a reader that left (`| head`), or closed
        pass
    os._exit(code)
