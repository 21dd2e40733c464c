"""netcalc against the tools people use instead: whole-process wall time and peak memory.

    python3 bench/benchmark.py [--runs 15] [--peer-runs 5] [--scale 1000,10000,100000]
                               [--scale-runs 3] [--timeout 120] [--no-peers] [--no-scale]
                               [--setup] [--json FILE]

In one run on this machine, each command as a whole process, so that start-up
and imports count as a user pays them:

- `netcalc summary specs/NET.yaml --format json` for resnet50, alexnet,
  densenet121 and vit_b_16, and the table of resnet50, through the venv's own
  `netcalc` script (a pyenv `python3` shim would add ~75 ms to each start);
  `python -c pass` and `python -c "import yaml"` with the same interpreter are
  the floors;
- the same networks as torch modules (tests/reference_*.py, torchvision's
  source) through torchinfo's `summary`, fvcore's `FlopCountAnalysis`,
  ptflops' `get_model_complexity_info` and torch's `FlopCounterMode`, each a
  `python -c` script that imports torch, builds the model and calls the tool;
- generated ResNet-style stacks of about 1k, 10k and 100k layers, summarized
  to JSON, with the time per layer, to show how the cost grows.

The commands take turns (one round runs each once), so load from other
processes falls on all of them alike; each is run once first to warm the file
cache and Python's bytecode cache (the commands run without
PYTHONDONTWRITEBYTECODE, as after a `pip install`). Figures: median wall
time, CPU time (user + system, less sensitive to load) and peak RSS from
wait4. Then netcalc's speed-up over the fastest peer per network, and the
targets (issues 8 and 17) with the margin by which each is met or missed. A
benchmark, not a test: the figures belong to the machine.

It runs in its own virtual environment, bench/.venv (git-ignored), made on
the first run (or with --setup), with torch pinned by constraints.txt to the
CPU build, torchinfo, fvcore and ptflops; netcalc is installed there from this
checkout at every run, as `pip install .` installs it (not editable: an
editable install's finder runs at every start of Python, which a user's
install never pays).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
NETWORKS = ("resnet50", "alexnet", "densenet121", "vit_b_16")
PEER_PACKAGES = ("torchinfo", "fvcore", "ptflops")
VERSIONS_OF = ("netcalc-nn", "pyyaml", "rich", "torch", *PEER_PACKAGES)

# Each network as a torch module: torchvision's source, written in the tests.
TORCH_MODELS = {
    "resnet50": ("reference_models", "resnet50"),
    "alexnet": ("reference_models", "TorchvisionAlexNet"),
    "densenet121": ("reference_cnns", "densenet121"),
    "vit_b_16": ("reference_mobile", "vit_b_16"),
}
# What a user writes: import torch, build the model, call the tool.
PEER_SETUP = ("import sys; sys.path.insert(0, 'tests')\n"
              "import torch\n"
              "from {module} import {factory}\n"
              "model = {factory}().eval()\n"
              "x = torch.zeros(1, 3, 224, 224)\n")
PEER_CALLS = {
    "torchinfo": "from torchinfo import summary\nsummary(model, input_data=x)\n",
    "fvcore": ("from fvcore.nn import FlopCountAnalysis\n"
               "print(FlopCountAnalysis(model, x).total())\n"),
    "ptflops": ("from ptflops import get_model_complexity_info\n"
                "print(get_model_complexity_info(model, (3, 224, 224)))\n"),
    "FlopCounterMode": ("from torch.utils.flop_counter import FlopCounterMode\n"
                        "with FlopCounterMode():\n    model(x)\n"),
}

# The targets, on 2-core machines: issue 8's, as issue 17 restated them once netcalc
# went back to click and the standard dataclasses (JSON at most 100 ms, and at least
# 15× faster than the fastest peer).
JSON_TARGET_MS = 100
TABLE_TARGET_MS = 100
RSS_TARGET_MIB = 40
SPEEDUP_TARGET = 15

# One block of the scale specs: a basic residual block, 7 layers.
SCALE_SPEC = """\
name: stack_{layers}
input: [16, 8, 8]
blocks:
  basic:
    layers:
      - {{type: conv2d, name: conv1, out_channels: 16, kernel_size: 3, padding: 1, bias: false}}
      - {{type: batchnorm2d, name: bn1}}
      - {{type: relu, name: relu1}}
      - {{type: conv2d, name: conv2, out_channels: 16, kernel_size: 3, padding: 1, bias: false}}
      - {{type: batchnorm2d, name: bn2}}
      - {{type: add, name: add, inputs: [bn2, input]}}
      - {{type: relu, name: relu2}}
layers:
  - {{type: conv2d, name: stem, out_channels: 16, kernel_size: 3, padding: 1}}
  - {{type: basic, name: stage, repeat: {repeat}}}
  - {{type: adaptiveavgpool2d, name: pool, output_size: 1}}
  - {{type: flatten, name: flatten}}
  - {{type: linear, name: fc, out_features: 10}}
"""
SCALE_BLOCK_LAYERS = 7
SCALE_OTHER_LAYERS = 4   # stem, pool, flatten, fc


# Python writes and reads its bytecode cache, as after `pip install`: where
# PYTHONDONTWRITEBYTECODE is set, every start would compile netcalc from source.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Command:
    tool: str
    network: str
    argv: list[str]
    runs: int
    layers: int = 0                         # scale commands: how many layers the spec has
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    peak_rss_kib: int = 0
    error: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_s) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu_s) * 1000

    @property
    def rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    def as_json(self) -> dict:
        figures = {"median_ms": self.median_ms, "min_ms": min(self.wall_s) * 1000,
                   "max_ms": max(self.wall_s) * 1000, "cpu_median_ms": self.cpu_ms,
                   "peak_rss_mib": self.rss_mib} if self.wall_s and not self.error else {}
        return {"tool": self.tool, "network": self.network, "argv": self.argv,
                "runs": len(self.wall_s), "layers": self.layers or None,
                "wall_s": self.wall_s, "cpu_s": self.cpu_s, **figures, "error": self.error}


def run_once(command: Command, timeout: float) -> None:
    """Run the command once, output discarded; add its wall and CPU time and peak RSS.

    A run past `timeout` seconds is stopped and the command marked failed, so
    that a slow case (a cost that grows faster than the layers) shows as such
    instead of holding up the benchmark.
    """
    with tempfile.TemporaryFile() as stderr:   # a pipe could fill and stall the child
        start = time.perf_counter()
        process = subprocess.Popen(command.argv, cwd=ROOT, env=CHILD_ENV,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        if elapsed >= timeout:
            command.error = f"stopped after {timeout:g} s"
            return
        if process.returncode != 0:
            stderr.seek(0)
            lines = stderr.read().decode(errors="replace").strip().splitlines() or ["(no output)"]
            command.error = f"exit {process.returncode}: {lines[-1][:160]}"
            return
    command.wall_s.append(elapsed)
    command.cpu_s.append(usage.ru_utime + usage.ru_stime)
    command.peak_rss_kib = max(command.peak_rss_kib, usage.ru_maxrss)   # KiB on Linux


def measure(commands: list[Command], progress: str, timeout: float) -> float:
    """One warm-up each, then rounds in which each command still due runs once.

    Returns the seconds it all took."""
    start = time.perf_counter()
    for command in commands:
        run_once(command, timeout)
        command.wall_s.clear()
        command.cpu_s.clear()
        command.peak_rss_kib = 0
    rounds = max(c.runs for c in commands)
    for round_ in range(rounds):
        if sys.stderr.isatty():
            print(f"\r{progress}: round {round_ + 1} of {rounds}", end="", file=sys.stderr,
                  flush=True)
        for command in commands:
            if round_ < command.runs and not command.error:
                run_once(command, timeout)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return time.perf_counter() - start


# -- the virtual environment --------------------------------------------------------

def venv_versions(python: Path) -> dict[str, str] | None:
    """The installed versions of VERSIONS_OF, or None when one is missing."""
    script = ("import importlib.metadata as m, json, sys\n"
              f"print(json.dumps({{p: m.version(p) for p in {VERSIONS_OF!r}}}))")
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else None


def ensure_venv(force: bool) -> dict[str, str]:
    python = VENV / "bin" / "python"
    versions = None if force or not python.exists() else venv_versions(python)
    if versions is None:
        print(f"setting up {VENV.relative_to(ROOT)} (torch from constraints.txt, "
              f"{', '.join(PEER_PACKAGES)}, netcalc)", file=sys.stderr)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt")]
        subprocess.run([*pip, "torch", *PEER_PACKAGES], check=True)
    # this checkout's netcalc as a user's `pip install .` leaves it, whatever was there
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                    str(ROOT)], check=True)
    versions = venv_versions(python)
    if versions is None:
        raise SystemExit(f"{VENV} lacks one of {', '.join(VERSIONS_OF)}: run again with --setup")
    return versions


# -- the machine --------------------------------------------------------------------

def machine(python: Path) -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    script = "import platform; print(platform.python_version())"
    version = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                             check=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": version, "interpreter": str(python)}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- the commands -------------------------------------------------------------------

def netcalc_commands(runs: int) -> list[Command]:
    python, netcalc = str(VENV / "bin" / "python"), str(VENV / "bin" / "netcalc")
    commands = [Command("python -c pass", "-", [python, "-c", "pass"], runs),
                Command("python -c 'import yaml'", "-", [python, "-c", "import yaml"], runs)]
    for network in NETWORKS:
        commands.append(Command("netcalc json", network,
                                [netcalc, "summary", f"specs/{network}.yaml", "--format", "json"],
                                runs))
    commands.append(Command("netcalc table", "resnet50",
                            [netcalc, "summary", "specs/resnet50.yaml"], runs))
    return commands


def peer_commands(runs: int) -> list[Command]:
    python = str(VENV / "bin" / "python")
    commands = []
    for network in NETWORKS:
        module, factory = TORCH_MODELS[network]
        setup = PEER_SETUP.format(module=module, factory=factory)
        for tool, call in PEER_CALLS.items():
            commands.append(Command(tool, network, [python, "-c", setup + call], runs))
    return commands


def scale_commands(sizes: list[int], runs: int, directory: Path) -> list[Command]:
    netcalc = str(VENV / "bin" / "netcalc")
    commands = []
    for size in sizes:
        repeat = max(1, round((size - SCALE_OTHER_LAYERS) / SCALE_BLOCK_LAYERS))
        layers = repeat * SCALE_BLOCK_LAYERS + SCALE_OTHER_LAYERS
        spec = directory / f"stack_{layers}.yaml"
        spec.write_text(SCALE_SPEC.format(layers=layers, repeat=repeat))
        commands.append(Command("netcalc json", f"stack of {layers:,} layers",
                                [netcalc, "summary", str(spec), "--format", "json"], runs,
                                layers=layers))
    return commands


def check_layer_count(command: Command, timeout: float) -> None:
    """The generated spec has the layers we say it has (netcalc's own count)."""
    try:
        done = subprocess.run(command.argv, cwd=ROOT, env=CHILD_ENV, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        command.error = f"stopped after {timeout:g} s"
        return
    if done.returncode != 0:
        command.error = f"exit {done.returncode}: {done.stderr.strip()[-160:]}"
        return
    counted = json.loads(done.stdout)["totals"]["layers"]
    if counted != command.layers:
        raise SystemExit(f"{command.network}: netcalc counts {counted} layers")


def max_layers(python: Path) -> int | None:
    done = subprocess.run([str(python), "-c",
                           "from netcalc.spec.build import MAX_LAYERS; print(MAX_LAYERS)"],
                          capture_output=True, text=True)
    return int(done.stdout) if done.returncode == 0 else None


# -- the report ---------------------------------------------------------------------

def print_table(commands: list[Command]) -> None:
    print(f"{'tool':26} {'network':22} {'runs':>4} {'median ms':>10} {'min ms':>9} "
          f"{'max ms':>9} {'CPU ms':>9} {'peak RSS MiB':>13}")
    for c in commands:
        if c.error:
            print(f"{c.tool:26} {c.network:22} failed: {c.error}")
            continue
        print(f"{c.tool:26} {c.network:22} {len(c.wall_s):>4} {c.median_ms:10.1f} "
              f"{min(c.wall_s) * 1000:9.1f} {max(c.wall_s) * 1000:9.1f} {c.cpu_ms:9.1f} "
              f"{c.rss_mib:13.1f}")


def speedups(netcalc: list[Command], peers: list[Command]) -> list[dict]:
    rows = []
    for network in NETWORKS:
        ours = next(c for c in netcalc if c.tool == "netcalc json" and c.network == network)
        theirs = [c for c in peers if c.network == network and not c.error]
        if ours.error or not theirs:
            continue
        fastest = min(theirs, key=lambda c: c.median_ms)
        rows.append({"network": network, "netcalc_ms": ours.median_ms,
                     "fastest_peer": fastest.tool, "fastest_peer_ms": fastest.median_ms,
                     "speedup": fastest.median_ms / ours.median_ms})
    return rows


def verdict(name: str, value: float, limit: float, unit: str, at_least: bool = False) -> dict:
    met = value >= limit if at_least else value < limit
    margin = abs(value - limit)
    word = "met" if met else "MISSED"
    side = ("above" if at_least else "under") if met else ("short of" if at_least else "over")
    line = (f"{name}: {value:.1f}{unit} against {'≥' if at_least else '<'} {limit:g}{unit}: "
            f"{word}, {margin:.1f}{unit} ({margin / limit:.0%}) {side} the target")
    return {"target": name, "value": value, "limit": limit, "met": met, "line": line}


def targets(netcalc: list[Command], rows: list[dict]) -> list[dict]:
    by_key = {(c.tool, c.network): c for c in netcalc}
    json_r50, table_r50 = by_key["netcalc json", "resnet50"], by_key["netcalc table", "resnet50"]
    out = []
    if not json_r50.error:
        out.append(verdict("summary resnet50 --format json, median wall", json_r50.median_ms,
                           JSON_TARGET_MS, " ms"))
    if not table_r50.error:
        out.append(verdict("summary resnet50 (table), median wall", table_r50.median_ms,
                           TABLE_TARGET_MS, " ms"))
    summaries = [c for c in netcalc if c.tool.startswith("netcalc") and not c.error]
    if summaries:
        worst = max(summaries, key=lambda c: c.peak_rss_kib)
        out.append(verdict(f"peak RSS, every netcalc summary above (largest: {worst.network} "
                           f"{worst.tool.split()[1]})", worst.rss_mib, RSS_TARGET_MIB, " MiB"))
    for row in rows:
        out.append(verdict(f"speed-up over the fastest peer, {row['network']}", row["speedup"],
                           SPEEDUP_TARGET, "×", at_least=True))
    return out


def print_scale(commands: list[Command], limit: int | None) -> list[dict]:
    print(f"{'layers':>8} {'runs':>4} {'median s':>9} {'µs/layer':>9} {'CPU s':>7} "
          f"{'peak RSS MiB':>13} {'KiB/layer':>10} {'marginal µs/layer':>18}")
    rows, previous = [], None
    for c in commands:
        if c.error:
            print(f"{c.layers:8,} failed: {c.error}")
            rows.append({"layers": c.layers, "error": c.error})
            continue
        seconds = c.median_ms / 1000
        marginal = ((seconds - previous[1]) / (c.layers - previous[0]) * 1e6
                    if previous else None)
        rows.append({"layers": c.layers, "median_s": seconds,
                     "us_per_layer": seconds / c.layers * 1e6, "cpu_s": c.cpu_ms / 1000,
                     "peak_rss_mib": c.rss_mib, "marginal_us_per_layer": marginal})
        print(f"{c.layers:8,} {len(c.wall_s):>4} {seconds:9.2f} {seconds / c.layers * 1e6:9.1f} "
              f"{c.cpu_ms / 1000:7.2f} {c.rss_mib:13.1f} {c.peak_rss_kib / c.layers:10.2f} "
              + (f"{marginal:18.1f}" if marginal is not None else f"{'-':>18}"))
        previous = (c.layers, seconds)
    print("marginal: (t − t of the size above) / (layers − its layers), the cost of a layer "
          "without the start-up")
    measured = [row for row in rows if "error" not in row]
    if limit and len(measured) < len(rows):
        print(f"core limit MAX_LAYERS = {limit:,} (netcalc/spec/build.py): no estimate, "
              f"since a size failed")
    elif limit and len(measured) >= 2:
        # on from the largest size at the rates between the two largest
        low, high = measured[-2], measured[-1]
        more = (limit - high["layers"]) / (high["layers"] - low["layers"])
        seconds = high["median_s"] + (high["median_s"] - low["median_s"]) * more
        mib = high["peak_rss_mib"] + (high["peak_rss_mib"] - low["peak_rss_mib"]) * more
        print(f"core limit MAX_LAYERS = {limit:,} (netcalc/spec/build.py): at the rates between "
              f"the two largest sizes, about {seconds:.0f} s and {mib:,.0f} MiB")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15,
                        help="timed runs of each netcalc command and floor (default 15)")
    parser.add_argument("--peer-runs", type=int, default=5,
                        help="timed runs of each torch tool; each takes seconds (default 5)")
    parser.add_argument("--scale", default="1000,10000,100000",
                        help="layer counts of the generated specs (default 1000,10000,100000)")
    parser.add_argument("--scale-runs", type=int, default=3,
                        help="timed runs of each generated spec (default 3)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="stop any one run after this many seconds and mark it failed "
                             "(default 120)")
    parser.add_argument("--no-peers", action="store_true", help="skip the torch tools")
    parser.add_argument("--no-scale", action="store_true", help="skip the generated specs")
    parser.add_argument("--setup", action="store_true",
                        help="(re)install bench/.venv's packages before measuring")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args()
    if min(args.runs, args.peer_runs, args.scale_runs) < 1:
        parser.error("run counts must be at least 1")

    versions = ensure_venv(args.setup)
    python = VENV / "bin" / "python"
    host = machine(python)
    started, load_before = time.time(), loadavg()
    print(f"{host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB, "
          f"Linux {host['kernel']}, Python {host['python']} ({VENV.relative_to(ROOT)})")
    print("versions: " + ", ".join(f"{name} {v}" for name, v in versions.items()))
    print(f"load average (1, 5, 15 min) at the start: {', '.join(map(str, load_before))}")

    netcalc = netcalc_commands(args.runs)
    took = measure(netcalc, "netcalc and floors", args.timeout)
    peers = [] if args.no_peers else peer_commands(args.peer_runs)
    if peers:
        took += measure(peers, "torch tools", args.timeout)
    print(f"\nWhole-process wall time: median of the timed runs (one warm-up run first); "
          f"netcalc {args.runs} runs" + ("" if args.no_peers else
                                         f", torch tools {args.peer_runs}")
          + f"; {took:.0f} s in all")
    print_table(netcalc + peers)

    rows = speedups(netcalc, peers)
    if rows:
        print("\nnetcalc summary --format json against the fastest torch tool per network")
        for row in rows:
            print(f"  {row['network']:12} netcalc {row['netcalc_ms']:7.1f} ms   "
                  f"{row['fastest_peer']:16} {row['fastest_peer_ms']:8.1f} ms   "
                  f"{row['speedup']:6.1f}× faster")

    checks = targets(netcalc, rows)
    print("\nThe targets (issues 8 and 17)")
    for check in checks:
        print(f"  {check['line']}")

    scale_rows, limit = [], None
    if not args.no_scale:
        sizes = [int(s) for s in args.scale.split(",")]
        with tempfile.TemporaryDirectory(prefix="netcalc-bench-") as directory:
            scaled = scale_commands(sizes, args.scale_runs, Path(directory))
            check_layer_count(scaled[0], args.timeout)
            took = measure(scaled, "generated specs", args.timeout)
        limit = max_layers(python)
        print(f"\nScale: generated ResNet-style stacks ({SCALE_BLOCK_LAYERS}-layer basic blocks "
              f"under repeat:), summary --format json to /dev/null, median of "
              f"{args.scale_runs} runs; {took:.0f} s in all")
        scale_rows = print_scale(scaled, limit)

    load_after = loadavg()
    print(f"\nload average at the end: {', '.join(map(str, load_after))}; "
          f"took {time.time() - started:.0f} s")
    if args.json:
        report = {"machine": host, "versions": versions,
                  "load": {"start": load_before, "end": load_after},
                  "runs": {"netcalc": args.runs, "peers": args.peer_runs,
                           "scale": args.scale_runs},
                  "commands": [c.as_json() for c in netcalc + peers],
                  "speedups": rows, "targets": checks, "scale": scale_rows,
                  "max_layers": limit}
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
