"""netcalc's engine in one process: how long loading and analyzing a spec takes, per spec
and per layer, and re-analyzing it at another param value (what `netcalc fit` repeats).

    python3 bench/engine.py [--runs 200] [--specs resnet50,densenet121,vit_b_16]

Runs with the interpreter that runs it and the netcalc it imports (run it with
bench/.venv/bin/python after `python3 bench/benchmark.py --setup` for the installed
one). Each figure is the median of --runs timed calls after five warm-up calls, the
garbage collector left as Python sets it. A benchmark, not a test: the figures
belong to the machine. Issue 18's targets: resnet50 load + analyze ≤ 2 ms (≤ 12 µs a
layer), and analyze at a changed param ≤ 1 ms.

What is computed once is kept (a parsed file, a block's expansion at its values, the
plan of a spec's expansion, a layer's numbers at its input shapes): loading the same
spec again reuses them, as a search or a notebook's loop does. The changed-param
figures are the cost of new values: a spec param (the wide ResNet's width: the plan
replayed, every layer whose arguments read it made anew) and the batch (every layer's
shapes new). The fresh-document figure keeps nothing of the file: parsed, expanded in
full and analyzed, what the first load in a process costs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ResNet-18 with its stage widths one param, for the re-analysis at other widths
WIDE_RESNET = (ROOT / "tests" / "test_fit.py").read_text().split('WIDE_RESNET = """\\\n')[1] \
    .split('"""')[0]

LOAD_TARGET_MS = 2.0
REANALYZE_TARGET_MS = 1.0


def median_ms(call, runs: int) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--specs", default="resnet50,alexnet,densenet121,vit_b_16,gpt2")
    args = parser.parse_args()

    import netcalc
    from netcalc.analyze import analyze
    from netcalc.spec import load_spec
    from netcalc.spec.expand import expand
    from netcalc.spec.loader import load_yaml

    print(f"netcalc from {Path(netcalc.__file__).parent}; {args.runs} runs each, medians")
    print(f"{'spec':14} {'layers':>7} {'load+analyze ms':>16} {'µs/layer':>9} "
          f"{'analyze ms':>11} {'specs/s':>8}")
    figures = {}
    for name in args.specs.split(","):
        path = ROOT / "specs" / f"{name}.yaml"
        layers = len(load_spec(path).layers)
        whole = median_ms(lambda path=path: analyze(load_spec(path)), args.runs)
        loaded = load_spec(path)
        alone = median_ms(lambda loaded=loaded: analyze(loaded), args.runs)
        figures[name] = whole
        print(f"{name:14} {layers:7,} {whole:16.2f} {1e3 * whole / layers:9.1f} "
              f"{alone:11.2f} {1e3 / whole:8.0f}")

    doc = load_yaml(WIDE_RESNET, "wide_resnet.yaml")
    widths = iter(range(10**9))
    reanalyze = median_ms(lambda: analyze(expand(doc, "wide_resnet.yaml",
                                                 {"width": 16 + next(widths) % 240})),
                          args.runs)
    print(f"\nwide ResNet-18 at another width (expand the parsed spec, then analyze): "
          f"{reanalyze:.2f} ms")
    resnet50_text = (ROOT / "specs" / "resnet50.yaml").read_text()
    fresh = median_ms(lambda: analyze(expand(load_yaml(resnet50_text, "resnet50.yaml"),
                                             "resnet50.yaml")), args.runs)
    print(f"resnet50 from a fresh document (parsed, expanded in full, analyzed): "
          f"{fresh:.2f} ms")
    resnet50 = load_spec(ROOT / "specs" / "resnet50.yaml")
    batches = iter(range(2, 10**9))
    rebatched = median_ms(lambda: analyze(resnet50, batch=next(batches)), args.runs)
    print(f"resnet50 analyzed at another batch (all its shapes new): {rebatched:.2f} ms")
    if "resnet50" in figures:
        for what, value, limit in (("resnet50 load + analyze", figures["resnet50"],
                                    LOAD_TARGET_MS),
                                   ("analyze at a changed param (width)", reanalyze,
                                    REANALYZE_TARGET_MS),
                                   ("analyze at a changed param (batch)", rebatched,
                                    REANALYZE_TARGET_MS)):
            verdict = "met" if value <= limit else f"missed ({value / limit:.1f}× the target)"
            print(f"issue 18: {what}: {value:.2f} ms against ≤ {limit} ms: {verdict}")


if __name__ == "__main__":
    main()
