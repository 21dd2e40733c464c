"""Verify netcalc against torch on a GPU: the spec library and a dozen real models.

    sh scripts/gpu_check.sh                      # CUDA: 12 corpus models and specs/*.yaml
                                                 # in float32, float16, bfloat16; models not
                                                 # begun after --budget 420 s are skipped
    sh scripts/gpu_check.sh --device cpu         # a short list (--quick), ~1-2 min, 2 cores
    python scripts/gpu_check.py --specs specs/alexnet.yaml --models none --dtypes float32

For each model and dtype, one row:

- verify's verdict (✓/✗): `netcalc verify --device DEVICE --dtype DTYPE` run in this
  process (every layer's output shape, parameters, buffers and MACs against torch's);
- fwd ms: verify's median forward latency;
- fwd peak / est: torch.cuda.max_memory_allocated over verify's timed forward passes,
  beside netcalc's inference estimate (parameters, buffers, the activations' peak);
- train peak / est: one training step (forward, backward, Adam) on the real model in
  train mode, max_memory_allocated beside netcalc's training estimate (`summary
  --optimizer adam`'s memory.training_bytes). float32 trains in float32; float16 and
  bfloat16 train with automatic mixed precision (float32 weights, torch.autocast to the
  half dtype, a GradScaler for float16), against netcalc's `--dtype float32 --amp`
  estimate, which is what that holds (pure half training keeps Adam's state in half
  precision, where netcalc's estimate counts float32 state). The step measured is the
  second: the first allocates Adam's state and the gradients, which then stay (zeroed,
  not freed) as in any training loop, and netcalc's figure counts them.

On the CPU the peaks are "-" (torch measures allocations on a GPU only); a dtype torch
has no CPU kernel for in some layer (float16 3-d pooling) is "skipped (no CPU kernel)",
not a failure; float16's training step is skipped there (autocast to float16 runs
without fast CPU kernels: minutes a step). Exit status 1 if any
verify differs (✗) or anything raised, 2 for a usage error. `--json FILE` writes every
row's figures (and verify's whole JSON).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import re
import statistics
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CORPUS_FILE = ROOT / "tests" / "corpus" / "models.py"
DTYPES = ("float32", "float16", "bfloat16")
FLOATS = ("float16", "bfloat16", "float32", "float64")

# A dozen corpus models, one of each kind (resnet50 itself is specs/resnet50.yaml)
MODELS = ("resnext50_32x4d", "vit_tiny_patch16_224", "swin_tiny_patch4_window7_224",
          "convnext_atto", "efficientnet_b0", "mobilenetv3_large_100", "fcn_resnet50",
          "r3d_18", "bert_mlm", "gpt2", "llama", "t5")
# --quick (the CPU's default): about a minute on 2 quiet cores, two with load
QUICK_SPECS = ("specs/lenet5.yaml", "specs/squeezenet1_1.yaml", "specs/resnet18.yaml",
               "specs/mobilenet_v3_small.yaml")
QUICK_MODELS = MODELS
QUICK_DTYPES = ("float32", "bfloat16")

PASS, FAIL = "✓", "✗"


@dataclass
class Row:
    model: str
    dtype: str
    verdict: str = ""                    # ✓, ✗, skipped (...), error
    latency_ms: float | None = None
    peak_bytes: int | None = None
    estimated_bytes: int | None = None
    train_peak_bytes: int | None = None
    train_estimate_bytes: int | None = None
    train_mode: str = ""                 # float32, amp
    train_ms: float | None = None
    held_bytes: int | None = None        # allocated before the model was (in its peaks)
    seconds: float = 0.0
    note: str = ""
    verify: dict | None = field(default=None, repr=False)   # verify's JSON

    @property
    def failed(self) -> bool:
        return self.verdict in (FAIL, "error")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    torch = _import_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = _device(torch, args.device)
    if device is None:
        print("gpu_check: --device cuda: torch sees no GPU here (use --device cpu)",
              file=sys.stderr)
        return 2
    quick = args.quick if args.quick is not None else device.type == "cpu"
    specs = _specs(args.specs, quick)
    models = _names(args.models, QUICK_MODELS if quick else MODELS)
    dtypes = _names(args.dtypes, QUICK_DTYPES if quick else DTYPES)
    if args.runs is None and quick and device.type == "cpu":
        args.runs = 1
    unknown = [d for d in dtypes if d not in (*DTYPES, "float64")]
    if unknown:
        print(f"gpu_check: --dtypes {','.join(unknown)}: choose from float32, float16, "
              "bfloat16, float64", file=sys.stderr)
        return 2
    missing = [s for s in specs if not Path(s).is_file()]
    if missing:
        print(f"gpu_check: no such spec: {', '.join(missing)}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}"
          + (f" (CUDA {torch.version.cuda})" if device.type == "cuda" else "")
          + f"; netcalc {_netcalc_version()}; batch {args.batch}")
    print(f"{len(specs)} spec{'s' if len(specs) != 1 else ''}, {len(models)} corpus "
          f"model{'s' if len(models) != 1 else ''}, dtypes {', '.join(dtypes)}"
          + ("; quick list" if quick else "")
          + (f"; time budget {args.budget:.0f} s" if args.budget else ""))
    print("train: one Adam step, the second of two (float32 as is; float16/bfloat16 with "
          "AMP, against netcalc's --amp estimate)" if args.train else "train: skipped")
    print()
    print(_header())
    rows: list[Row] = []
    corpus = _corpus() if models else {}
    # the corpus first: should the budget run out, the spec library's last (vgg19,
    # wide_resnet50_2) go, the biggest and the most like the others
    work = [("model", m) for m in models] + [("spec", s) for s in specs]
    for kind, target in work:
        if args.budget and time.perf_counter() - start > args.budget:
            for dtype in dtypes:
                rows.append(_emit(Row(_label(kind, target), dtype,
                                      verdict="skipped (time budget)")))
            continue
        if kind == "spec":
            rows.extend(_check_spec(torch, device, target, dtypes, args))
        else:
            rows.extend(_check_model(torch, device, target, corpus, dtypes, args))
    total = time.perf_counter() - start
    print()
    _print_totals(rows, total)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"device": name, "torch": torch.__version__, "seconds": total,
             "rows": [_as_dict(r) for r in rows]}, ensure_ascii=False, indent=1) + "\n")
    return 1 if any(r.failed for r in rows) else 0


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="gpu_check", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu", "auto"), default="cuda",
                        help="where torch runs the models (default cuda)")
    parser.add_argument("--quick", dest="quick", action="store_true", default=None,
                        help="the short lists (the default on the CPU): "
                             f"{', '.join(QUICK_SPECS)}; the dozen corpus models; "
                             f"{', '.join(QUICK_DTYPES)}; verify --runs 1")
    parser.add_argument("--full", dest="quick", action="store_false",
                        help="the whole lists, on the CPU too")
    parser.add_argument("--specs", default=None,
                        help="spec files, comma-separated, or 'all' (specs/*.yaml) or "
                             "'none' (default: all; --quick: a short list)")
    parser.add_argument("--models", default=None,
                        help="corpus models (tests/corpus/models.py), comma-separated, or "
                             "'none' or 'all' (default: a dozen, one of each kind)")
    parser.add_argument("--dtypes", default=None,
                        help="comma-separated (default float32,float16,bfloat16; --quick: "
                             "float32,bfloat16)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--runs", type=int, default=None,
                        help="verify's timed forward passes (default: 10 on a GPU, 3 on "
                             "the CPU, 1 with --quick there)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's CPU threads (torch.set_num_threads)")
    parser.add_argument("--no-train", dest="train", action="store_false",
                        help="skip the training step")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds; models not begun by then are skipped (default 420 "
                             "on a GPU, none on the CPU)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write every row's figures here")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.budget is None and args.device != "cpu":
        args.budget = 420.0
    return args


def _import_torch():
    import torch

    from netcalc.torch_bridge.capture import make_torchvision_importable
    make_torchvision_importable(torch)
    return torch


def _netcalc_version() -> str:
    from netcalc import __version__
    return __version__


def _device(torch, name: str):
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        return None
    return torch.device(name)


def _names(text: str | None, default: tuple[str, ...]) -> list[str]:
    if text is None:
        return list(default)
    if text == "none":
        return []
    if text == "all":
        return list(_corpus())
    return [part.strip() for part in text.split(",") if part.strip()]


def _specs(text: str | None, quick: bool) -> list[str]:
    if text is None:
        text = ",".join(QUICK_SPECS) if quick else "all"
    if text == "all":
        return [str(p.relative_to(ROOT)) for p in sorted((ROOT / "specs").glob("*.yaml"))]
    if text == "none":
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def _corpus() -> dict[str, tuple[str, ...]]:
    """The corpus's models: name -> its --input values (empty if the file is missing)."""
    if not CORPUS_FILE.is_file():
        return {}
    spec = importlib.util.spec_from_file_location("_gpu_check_corpus", CORPUS_FILE)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:   # noqa: BLE001 - a file being written as we read it
        print(f"gpu_check: cannot read {CORPUS_FILE.relative_to(ROOT)}: {error}",
              file=sys.stderr)
        return {}
    return {entry[0]: tuple(entry[1]) for entry in getattr(module, "CORPUS", [])
            if hasattr(module, entry[0])}


# -- one model --------------------------------------------------------------------

def _label(kind: str, target: str) -> str:
    return Path(target).name if kind == "spec" else target


def _check_spec(torch, device, path: str, dtypes, args) -> list[Row]:
    from netcalc.analyze import analyze
    from netcalc.spec import load_spec
    from netcalc.torch_bridge.model import build_model
    from netcalc.torch_bridge.verify import verify

    label = _label("spec", path)
    try:
        spec = load_spec(path)
    except Exception as error:   # noqa: BLE001 - reported in its row
        return [_emit(_error_row(label, d, error)) for d in dtypes]

    def check(dtype):
        summary = analyze(spec, batch=args.batch, dtype=dtype)
        return verify(spec, summary, device=device.type, runs=args.runs)

    def build():
        summary = analyze(spec, batch=args.batch)
        model = build_model(spec, summary)
        inputs = {name: _sample(torch, shape, summary.input_dtypes[name], device)
                  for name, shape in summary.inputs.items()}
        return model, list(inputs.values()), {}

    def estimate(amp):
        return analyze(spec, batch=args.batch, optimizer="adam", amp=amp).memory.training_bytes

    return _check(torch, device, label, dtypes, args, check, build, estimate)


def _check_model(torch, device, name: str, corpus, dtypes, args) -> list[Row]:
    from netcalc.analyze import analyze
    from netcalc.torch_bridge.capture import capture, forward_signature, to_spec
    from netcalc.torch_bridge.fx_import import load_module
    from netcalc.torch_bridge.verify import verify_model

    if name not in corpus:
        why = "not in the corpus" if CORPUS_FILE.is_file() else "no tests/corpus/models.py"
        return [_emit(Row(name, d, verdict=f"skipped ({why})")) for d in dtypes]
    target = f"{CORPUS_FILE.relative_to(ROOT)}:{name}"
    begun = time.perf_counter()
    try:
        spec, _ = to_spec(capture(target, corpus[name], {}, args.batch))
    except Exception as error:   # noqa: BLE001 - reported in its row
        missing = _missing_library(error)
        if missing:
            return [_emit(Row(name, d, verdict=f"skipped ({missing} not installed)"))
                    for d in dtypes]
        return [_emit(_error_row(name, d, error)) for d in dtypes]
    captured_s = time.perf_counter() - begun
    def check(dtype):
        summary = analyze(spec, batch=args.batch, dtype=dtype)
        return verify_model(target, {}, summary, device=device.type, runs=args.runs)

    def build():
        summary = analyze(spec, batch=args.batch)
        model = load_module(target, {})
        named = {n: _sample(torch, shape, summary.input_dtypes[n], device)
                 for n, shape in summary.inputs.items()}
        if "use_cache" in forward_signature(model).parameters:
            named["use_cache"] = False
        return model, [], named

    def estimate(amp):
        return analyze(spec, batch=args.batch, optimizer="adam", amp=amp).memory.training_bytes

    return _check(torch, device, name, dtypes, args, check, build, estimate,
                  note=f"capture {captured_s:.1f} s")


def _check(torch, device, label, dtypes, args, check, build, estimate,
           note: str = "") -> list[Row]:
    """verify in each dtype, then the training steps, then the rows (`note` on the first)."""
    from netcalc.render.verify import as_dict

    rows = []
    for dtype in dtypes:
        begun = time.perf_counter()
        row = Row(label, dtype)
        row.held_bytes = _clean(torch, device)
        try:
            result = check(dtype)
        except Exception as error:   # noqa: BLE001 - reported in its row
            missing = _no_kernel(error, dtype)
            if missing is None:
                row = _error_row(label, dtype, error)
            else:
                row.verdict = "skipped (no CPU kernel)" if device.type == "cpu" \
                    else "skipped (no kernel)"
                row.note = missing
        else:
            row.verdict = PASS if result.ok else FAIL
            row.latency_ms, row.peak_bytes = result.latency_ms, result.peak_bytes
            row.estimated_bytes = result.estimated_bytes
            row.verify = as_dict(result)
            if not result.ok:
                row.note = _differences(row.verify)
        row.seconds = time.perf_counter() - begun
        rows.append(row)
    if args.train:
        _train_rows(torch, device, rows, build, estimate)
    if rows and note:
        rows[0].note = _join(note, rows[0].note)
    for row in rows:
        _emit(row)
    return rows


def _train_rows(torch, device, rows: list[Row], build, estimate) -> None:
    """One model in float32 on the device, trained one step per row's dtype."""
    wanted = [r for r in rows if r.dtype in DTYPES and not r.verdict.startswith("skipped")
              and r.verdict != "error"]
    if not wanted:
        return
    begun = time.perf_counter()
    held = _clean(torch, device)
    if held is not None:
        for row in wanted:
            row.held_bytes = max(row.held_bytes or 0, held)
    try:
        model, args, kwargs = build()
        model = model.to(device=device, dtype=torch.float32)
    except Exception as error:   # noqa: BLE001 - reported in its rows
        for row in wanted:
            row.note = _join(row.note, f"train: {_short(error)}")
            row.verdict = FAIL if row.verdict == FAIL else "error"
        return
    built_s = (time.perf_counter() - begun) / len(wanted)
    estimates: dict[bool, int] = {}
    for row in wanted:
        begun = time.perf_counter()
        amp = row.dtype != "float32"
        if device.type == "cpu" and row.dtype == "float16":
            # autocast to float16 on the CPU runs without fast kernels: minutes a step
            row.note = _join(row.note, "train: skipped (float16 autocast is slow on the CPU)")
            continue
        row.train_mode = "amp" if amp else "float32"
        try:
            if amp not in estimates:
                estimates[amp] = estimate(amp)
            row.train_estimate_bytes = estimates[amp]
            row.train_peak_bytes, row.train_ms = _train_step(
                torch, device, model, args, kwargs, getattr(torch, row.dtype) if amp else None)
        except Exception as error:   # noqa: BLE001 - reported in its row
            row.note = _join(row.note, f"train: {_short(error)}")
            row.verdict = FAIL if row.verdict == FAIL else "error"
        row.seconds += time.perf_counter() - begun + built_s
    del model, args, kwargs
    _clean(torch, device)


def _train_step(torch, device, model, args, kwargs, half):
    """Peak bytes (None on the CPU) and milliseconds of the second of two Adam steps."""
    cuda = device.type == "cuda"
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    scaler = torch.amp.GradScaler(device.type) if half is torch.float16 else None

    def step():
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast(device.type, dtype=half) if half is not None else nullcontext():
            loss = _loss(torch, model(*args, **kwargs))
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    try:
        for _ in range(3):      # Adam's state and the gradients, allocated once (a step
            step()              # GradScaler skips for an overflow allocates no state)
            if optimizer.state:
                break
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        begun = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(device)
        ms = (time.perf_counter() - begun) * 1000
        peak = torch.cuda.max_memory_allocated(device) if cuda else None
    finally:
        optimizer.zero_grad(set_to_none=True)     # the gradients go with the model
        optimizer.state.clear()
    return peak, ms


def _loss(torch, output):
    """The mean of every floating-point output that carries a gradient (in float32,
    without a float32 copy of a large half-precision output)."""
    tensors = []

    def walk(value):
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and value.requires_grad:
                tensors.append(value)
        elif isinstance(value, dict) or hasattr(value, "items"):
            for item in value.values():
                walk(item)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)

    walk(output)
    if not tensors:
        raise RuntimeError(f"no output with a gradient in {type(output).__name__}")
    return sum(t.mean(dtype=torch.float32) for t in tensors)


def _sample(torch, shape, dtype: str, device):
    """Random images; token ids within every vocabulary (0..99)."""
    if dtype in ("int64", "int32"):
        return torch.randint(0, 100, shape, dtype=getattr(torch, dtype), device=device)
    return torch.randn(shape, dtype=torch.float32, device=device)


def _clean(torch, device) -> int | None:
    """Free the last model's tensors, so that the next peak is its own; the bytes still
    allocated then (cuBLAS's workspaces: every peak after counts them too)."""
    gc.collect()
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def _no_kernel(error: BaseException, dtype: str) -> str | None:
    """What torch has no kernel for in `dtype` here, if that is the error: verify's usage
    error for a spec (exit 2), or torch's own message from a corpus model's run."""
    from netcalc.errors import UsageError

    text = str(error)
    if isinstance(error, UsageError) and "cannot run it in" in text:
        return text.split(": torch ", 1)[0].rpartition("error: ")[2]    # the layer
    name = {"float16": "Half", "bfloat16": "BFloat16", "float64": "Double"}.get(dtype)
    found = re.search(r"(\"?\w+\"?) not implemented for '(\w+)'", text)
    if found and found.group(2) == name:
        return found.group(0)
    return None


def _missing_library(error: BaseException) -> str | None:
    text = str(error)
    for library in ("timm", "torchvision", "transformers"):
        if f"No module named '{library}'" in text:
            return library
    return None


def _differences(verify: dict) -> str:
    bad = [name for name, q in verify["totals"].items() if not q["ok"]]
    layers = [layer["name"] for layer in verify["layers"] if not layer["ok"]]
    parts = [f"totals differ: {', '.join(bad)}"] if bad else []
    if layers:
        parts.append(f"{len(layers)} layers differ, first {layers[0]}")
    return "; ".join(parts)


def _error_row(label: str, dtype: str, error: BaseException) -> Row:
    if os.environ.get("GPU_CHECK_DEBUG"):
        traceback.print_exception(error)
    return Row(label, dtype, verdict="error", note=_short(error))


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160] if text else ''}"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# -- output ------------------------------------------------------------------------

COLUMNS = (("model", 30, "<"), ("dtype", 8, "<"), ("", 2, "<"), ("fwd ms", 9, ">"),
           ("fwd peak", 10, ">"), ("fwd est", 10, ">"), ("est/peak", 8, ">"),
           ("train", 7, "<"), ("train peak", 10, ">"), ("train est", 10, ">"),
           ("est/peak", 8, ">"), ("step ms", 9, ">"), ("s", 5, ">"))


def _header() -> str:
    return _line([c[0] for c in COLUMNS])


def _line(cells) -> str:
    return "  ".join(f"{str(cell):{align}{width}}" for cell, (_, width, align)
                     in zip(cells, COLUMNS)).rstrip()


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def ratio(estimate: int | None, peak: int | None) -> str:
    return "-" if not estimate or not peak else f"{estimate / peak:.2f}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def cells(row: Row) -> list[str]:
    """The row's cells as printed (the test reads them back)."""
    if row.verdict not in (PASS, FAIL):
        return [row.model, row.dtype, row.verdict]
    return [row.model, row.dtype, row.verdict, ms(row.latency_ms), mib(row.peak_bytes),
            mib(row.estimated_bytes), ratio(row.estimated_bytes, row.peak_bytes),
            row.train_mode or "-", mib(row.train_peak_bytes), mib(row.train_estimate_bytes),
            ratio(row.train_estimate_bytes, row.train_peak_bytes), ms(row.train_ms),
            f"{row.seconds:.1f}"]


def _emit(row: Row) -> Row:
    shown = cells(row)
    if len(shown) == 3:          # a skipped or failed row: its reason across the columns
        text = "  ".join([f"{shown[0]:<30}", f"{shown[1]:<8}", shown[2]])
    else:
        text = _line(shown)
    note = row.note
    if row.held_bytes and row.held_bytes >= 2**20 and row.verdict in (PASS, FAIL):
        note = _join(note, f"peaks include {mib(row.held_bytes)} held before")
    print(text + (f"   {note}" if note else ""), flush=True)
    return row


def _print_totals(rows: list[Row], total: float) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        key = "skipped" if row.verdict.startswith("skipped") else row.verdict
        counts[key] = counts.get(key, 0) + 1
    trained = [r for r in rows if r.train_peak_bytes and r.train_estimate_bytes]
    forward = [r for r in rows if r.peak_bytes and r.estimated_bytes]
    print(f"{counts.get(PASS, 0)} {PASS}, {counts.get(FAIL, 0)} {FAIL}, "
          f"{counts.get('error', 0)} errors, {counts.get('skipped', 0)} skipped "
          f"of {len(rows)} rows")
    if forward:
        ratios = [r.estimated_bytes / r.peak_bytes for r in forward]
        training = [r.train_estimate_bytes / r.train_peak_bytes for r in trained]
        print(f"netcalc's estimate / torch's peak: forward median {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f} to {max(ratios):.2f})"
              + (f", training median {statistics.median(training):.2f} "
                 f"({min(training):.2f} to {max(training):.2f})" if training else ""))
    print(f"total time: {total:.1f} s")


def _as_dict(row: Row) -> dict:
    return {"model": row.model, "dtype": row.dtype, "verdict": row.verdict,
            "latency_ms": row.latency_ms, "peak_bytes": row.peak_bytes,
            "estimated_bytes": row.estimated_bytes, "train_mode": row.train_mode,
            "train_peak_bytes": row.train_peak_bytes,
            "train_estimate_bytes": row.train_estimate_bytes, "train_ms": row.train_ms,
            "held_bytes": row.held_bytes, "seconds": row.seconds, "note": row.note,
            "cells": cells(row),
            "verify": row.verify}


if __name__ == "__main__":
    sys.exit(main())
