"""Whole-process wall time and peak memory of `netcalc summary`, side by side.

    python bench/summary_speed.py [--netcalc .venv/bin/netcalc] [--runs 15]

Runs each command --runs times (after one warm-up) through the virtual
environment's own `netcalc` script (a pyenv `python3` shim would add ~75 ms
to every start) and prints the median and spread of the wall time and the
peak resident memory, next to two floors measured in the same run with the
same interpreter: `python -c pass` and `python -c "import yaml"`.
A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(argv: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of one run of argv, output discarded."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{process.stderr.read().decode()}")
    process.stderr.close()
    return elapsed, usage.ru_maxrss


def measure(argv: list[str], runs: int) -> tuple[float, float, float, int]:
    run_once(argv)  # warm the file cache
    samples = [run_once(argv) for _ in range(runs)]
    times = sorted(t for t, _ in samples)
    return statistics.median(times), times[0], times[-1], max(rss for _, rss in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netcalc", default=str(ROOT / ".venv" / "bin" / "netcalc"))
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    netcalc = Path(args.netcalc)
    python = netcalc.parent / "python"
    if not netcalc.exists():
        raise SystemExit(f"no {netcalc}: install first (sh scripts/test.sh makes .venv)")

    commands = [
        ("python -c pass (floor)", [str(python), "-c", "pass"]),
        ("python -c 'import yaml'", [str(python), "-c", "import yaml"]),
    ]
    for spec in ("alexnet", "resnet18", "resnet50", "vgg16"):
        commands.append((f"summary {spec} --format json",
                         [str(netcalc), "summary", f"specs/{spec}.yaml", "--format", "json"]))
    commands.append(("summary resnet50 (table)", [str(netcalc), "summary", "specs/resnet50.yaml"]))

    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.runs} runs each, after one warm-up")
    print(f"{'command':34} {'median':>9} {'min':>9} {'max':>9} {'peak RSS':>10}")
    for label, argv in commands:
        median, low, high, rss = measure(argv, args.runs)
        print(f"{label:34} {median * 1000:7.1f}ms {low * 1000:7.1f}ms {high * 1000:7.1f}ms "
              f"{rss / 1024:7.1f}MiB")


if __name__ == "__main__":
    main()
