"""How long netcalc takes to read a real model, against what torch takes to build and run it.

    .venv/bin/python scripts/bench_capture.py [--runs 3] [--models resnet18,gpt2 | all]
                                              [--no-summary] [--no-7b] [--json FILE]

For each corpus model (tests/corpus/models.py; a dozen by default, one of each kind),
each figure the median of --runs fresh processes, the kinds taking turns:

- capture s: netcalc's `capture()` + `to_spec()` + `analyze()` (the model built on the
  meta device, torch.export, netcalc's spec and numbers), timed inside the process;
- build+fwd s: torch's own: the model built on the CPU with real random weights, then
  one forward pass under torch.no_grad(), timed inside the process;
- ratio: capture / (build + forward); issue's goal: at most 1.5;
- summary s: the whole `netcalc summary TARGET --input ... --format json` as a user
  runs it (the venv's `netcalc` script), start-up and imports included.

The in-process timers start after the imports both need: torch, netcalc's modules, the
model zoo (timm, torchvision, transformers), and the zoo's lazily imported modules for
this model (one untimed build on the meta device, in both processes alike).

Last, Llama-2-7B's configuration (32 layers of 4096, 6.7 B parameters) on 128 tokens:
the whole `netcalc summary` wall time and the child's peak RSS (getrusage); torch is
not asked to build it (27 GB of float32 weights).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = ROOT / "tests" / "corpus" / "models.py"
NETCALC = Path(sys.executable).parent / "netcalc"
MODELS = ("resnet18", "resnext50_32x4d", "efficientnet_b0", "mobilenetv3_large_100",
          "vit_tiny_patch16_224", "swin_tiny_patch4_window7_224", "fcn_resnet50", "r3d_18",
          "bert_mlm", "gpt2", "llama", "t5")
GOAL = 1.5
LLAMA_7B = f"{Path(__file__).resolve().relative_to(ROOT)}:llama2_7b"
LLAMA_7B_INPUT = ("input_ids=128",)


def llama2_7b():
    """Llama-2-7B's shape, randomly initialised (netcalc builds it on meta: no weights)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=32))


# -- the child processes -------------------------------------------------------------

def _child(kind: str, name: str, values: list[str]) -> dict:
    """One measurement in this fresh process, as a dict."""
    import torch

    from netcalc.analyze import analyze
    from netcalc.torch_bridge.capture import (capture, make_torchvision_importable,
                                              sample_inputs, to_spec)
    from netcalc.torch_bridge.fx_import import load_module

    make_torchvision_importable(torch)
    for library in ("torchvision", "timm", "transformers"):
        try:
            __import__(library)
        except ImportError:
            pass
    target = f"{CORPUS_FILE.relative_to(ROOT)}:{name}"
    try:                         # the zoo's lazy imports for this model, untimed
        with torch.device("meta"):
            load_module(target, {})
    except Exception:   # noqa: BLE001 - a model that must be built for real (RegNet)
        pass
    if kind == "capture":
        begun = time.perf_counter()
        captured = capture(target, tuple(values), {}, 1)
        captured_s = time.perf_counter() - begun
        spec, _ = to_spec(captured)
        spec_s = time.perf_counter() - begun - captured_s
        summary = analyze(spec)
        total = time.perf_counter() - begun
        return {"seconds": total, "capture_s": captured_s, "to_spec_s": spec_s,
                "analyze_s": total - captured_s - spec_s, "layers": len(summary.layers),
                "params": summary.totals.params, "macs": summary.totals.macs}
    begun = time.perf_counter()
    model = load_module(target, {}).eval()
    built = time.perf_counter() - begun
    inputs = {}
    for input_name, shape, dtype in sample_inputs(torch, model, tuple(values), 1):
        full = (1, *shape)
        inputs[input_name] = (torch.randint(0, 100, full) if dtype.startswith("int")
                              else torch.randn(full))
    if "use_cache" in _parameters(model):
        inputs["use_cache"] = False
    with torch.no_grad():
        model(**inputs)
    total = time.perf_counter() - begun
    return {"seconds": total, "build_s": built, "forward_s": total - built,
            "params": sum(p.numel() for p in model.parameters())}


def _parameters(model) -> set[str]:
    import inspect
    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set()


# -- the parent --------------------------------------------------------------------

def _corpus() -> dict[str, tuple[str, ...]]:
    import importlib.util
    spec = importlib.util.spec_from_file_location("_bench_corpus", CORPUS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {entry[0]: tuple(entry[1]) for entry in module.CORPUS if hasattr(module, entry[0])}


def _measure(kind: str, name: str, values, timeout: float) -> dict:
    """A fresh child process's figures (or its error)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, name,
               *values]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _whole_command(target: str, values, timeout: float) -> dict:
    """`netcalc summary TARGET --format json` as a process: wall time, peak RSS, exit."""
    command = [str(NETCALC), "summary", target, *[a for v in values for a in ("--input", v)],
               "--format", "json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        begun = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        deadline = begun + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = -9
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.005)
        wall = time.perf_counter() - begun
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            return {"error": lines[-1] if lines else f"exit {child.returncode}"}
        out.seek(0)
        result = json.loads(out.read())
    return {"seconds": wall, "max_rss_bytes": usage.ru_maxrss * 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime, "params": result["totals"]["params"],
            "macs": result["totals"]["macs"], "layers": len(result["layers"])}


def _median(results: list[dict]) -> tuple[float | None, str]:
    """The median seconds, or the first error."""
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return None, errors[0]
    return statistics.median(r["seconds"] for r in results), ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(argv[1], argv[2], argv[3:])))
        return 0
    parser = argparse.ArgumentParser(
        prog="bench_capture", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="processes per figure (3)")
    parser.add_argument("--models", default=None,
                        help="corpus models, comma-separated, or 'all' (default: a dozen)")
    parser.add_argument("--no-summary", dest="summary", action="store_false",
                        help="skip the whole `netcalc summary` command")
    parser.add_argument("--no-7b", dest="llama", action="store_false",
                        help="skip the Llama-2-7B configuration")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds a process may take (300)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write every measurement here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    corpus = _corpus() if CORPUS_FILE.is_file() else {}
    names = list(corpus) if args.models == "all" else \
        [n.strip() for n in (args.models.split(",") if args.models else MODELS) if n.strip()]

    import platform

    import torch
    print(f"{platform.node() or 'this machine'}: {os.cpu_count()} cores, "
          f"load {', '.join(f'{x:.1f}' for x in os.getloadavg())}; python "
          f"{platform.python_version()}, torch {torch.__version__}; median of {args.runs} "
          "fresh processes each")
    print()
    header = (f"{'model':30}  {'capture s':>9}  {'build+fwd s':>11}  {'ratio':>6}  "
              f"{'summary s':>9}  {'layers':>6}")
    print(header)
    print("-" * len(header))
    report = {"runs": args.runs, "models": {}, "llama2_7b": None}
    ratios = []
    began = time.perf_counter()
    for name in names:
        if name not in corpus:
            print(f"{name:30}  skipped (not in the corpus)", flush=True)
            continue
        values = corpus[name]
        target = f"{CORPUS_FILE.relative_to(ROOT)}:{name}"
        captures, builds, commands = [], [], []
        for _ in range(args.runs):          # the kinds take turns: load falls on all alike
            captures.append(_measure("capture", name, values, args.timeout))
            builds.append(_measure("torch", name, values, args.timeout))
            if args.summary:
                commands.append(_whole_command(target, values, args.timeout))
        capture_s, capture_error = _median(captures)
        build_s, build_error = _median(builds)
        command_s, command_error = _median(commands) if commands else (None, "")
        ratio = capture_s / build_s if capture_s and build_s else None
        if ratio is not None:
            ratios.append(ratio)
        layers = next((c["layers"] for c in captures if "layers" in c), "")
        print(f"{name:30}  {_seconds(capture_s):>9}  {_seconds(build_s):>11}  "
              f"{'-' if ratio is None else f'{ratio:.2f}':>6}  {_seconds(command_s):>9}  "
              f"{layers:>6}"
              + "".join(f"   {what}: {error}" for what, error in
                        (("capture", capture_error), ("torch", build_error),
                         ("summary", command_error)) if error), flush=True)
        report["models"][name] = {"input": values, "capture": captures, "torch": builds,
                                  "summary": commands, "ratio": ratio}
    print()
    if ratios:
        met = sum(r <= GOAL for r in ratios)
        print(f"median ratio capture / (build + forward): {statistics.median(ratios):.2f} "
              f"over {len(ratios)} models ({min(ratios):.2f} to {max(ratios):.2f}); goal "
              f"≤ {GOAL}: {'met' if statistics.median(ratios) <= GOAL else 'missed'} "
              f"(met by {met} of {len(ratios)})")
    if args.llama:
        runs = [_whole_command(LLAMA_7B, LLAMA_7B_INPUT, max(args.timeout, 600))
                for _ in range(args.runs)]
        seconds, error = _median(runs)
        if error:
            print(f"Llama-2-7B (128 tokens): netcalc summary failed: {error}")
        else:
            rss = max(r["max_rss_bytes"] for r in runs)
            print(f"Llama-2-7B (128 tokens): netcalc summary {seconds:.2f} s wall "
                  f"(median of {len(runs)}), max RSS {rss / 2**20:.0f} MiB; "
                  f"{runs[0]['params']:,} parameters, {runs[0]['macs']:,} MACs, "
                  f"{runs[0]['layers']} layers")
        report["llama2_7b"] = runs
    print(f"total time: {time.perf_counter() - began:.0f} s; load now "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
