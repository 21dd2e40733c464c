import sys
from pathlib import Path

# The tests' helpers (layer_cases, torch_measure) import each other by name.
sys.path.insert(0, str(Path(__file__).parent))

import os

from hypothesis import HealthCheck, settings

if os.environ.get("PYTEST_XDIST_WORKER"):
    # a worker per core (pytest-xdist): torch's own threads would only fight the
    # other workers for the cores (the suite took ~105 s so, ~75 s with one thread
    # each); read when torch is first imported, which no test has done yet
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# The default keeps the whole run under about two and a half minutes on 2 cores;
# `pytest --thorough` (or HYPOTHESIS_PROFILE=thorough for the draws alone) hunts longer.
settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser):
    parser.addoption("--thorough", action="store_true",
                     help="netcalc: run the cases marked slow too, and draw 1,500 hypothesis "
                          "examples a test instead of 60 (an hour or more on 2 cores)")
    parser.addoption("--corpus", action="store_true",
                     help="netcalc: run the corpus of real timm, transformers and torchvision "
                          "models (tests/corpus; needs tests/corpus/requirements.txt, "
                          "which `scripts/test.sh --corpus` installs)")


def pytest_configure(config):
    if config.getoption("--thorough"):
        os.environ["HYPOTHESIS_PROFILE"] = "thorough"      # for the tests that read it
        settings.load_profile("thorough")


def pytest_collection_modifyitems(config, items):
    """Without --thorough, the slow cases are deselected (`-n 0` counts them in the
    summary line; under pytest-xdist only the workers see them go); without --corpus,
    the corpus's."""
    if not config.getoption("--corpus"):
        corpus = [item for item in items if item.get_closest_marker("corpus")]
        if corpus:
            config.hook.pytest_deselected(items=corpus)
            items[:] = [item for item in items if not item.get_closest_marker("corpus")]
    if config.getoption("--thorough"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
