"""`python -m netcalc` runs the same CLI as the `netcalc` script."""

import sys

from .program import main

sys.exit(main())
