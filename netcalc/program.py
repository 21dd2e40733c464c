"""The `netcalc` program (the console script and `python -m netcalc`): the process is
set up before the command line's modules load, then `cli.main` runs.

One short run makes few reference cycles; looking for them as often as a long-lived
program must (every 700 allocations) took ~4 ms of a ~90 ms summary, most of it while
the modules load and their dataclasses are made.
"""

import gc

gc.set_threshold(50_000, *gc.get_threshold()[1:])

from .cli import main  # noqa: E402  (after the threshold: the imports allocate the most)

__all__ = ["main"]
