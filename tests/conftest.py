import sys
from pathlib import Path

# The tests' helpers (layer_cases, torch_measure) import each other by name.
sys.path.insert(0, str(Path(__file__).parent))

import os

from hypothesis import HealthCheck, settings

# `HYPOTHESIS_PROFILE=thorough pytest` for a long hunt; the default keeps CI quick.
settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
