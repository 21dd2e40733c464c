"""Compare specs with torchvision's own models, where torchvision is installed.

The test machines have no torchvision (the tests write reference models by
hand); a machine that has it, a GPU machine say, runs this script:

    python scripts/compare_torchvision.py [--device cuda] [--batch 1]

For each spec with a torchvision counterpart it runs the torchvision model
under FlopCounterMode and prints parameters, buffers, MACs and output shape
from both, and whether every parametric layer matches in execution order
(output shape, parameters, MACs). On CUDA it also prints the forward time
(median of 20 after warm-up) and peak memory beside netcalc's estimate.
Exit status 1 if anything differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netcalc.analyze import analyze  # noqa: E402
from netcalc.spec import load_spec  # noqa: E402

# spec -> (torchvision factory name, input side)
MODELS = {
    "alexnet": ("alexnet", 224),
    "vgg16": ("vgg16", 224),
    "resnet18": ("resnet18", 224),
    "resnet50": ("resnet50", 224),
}


def torch_figures(model, shape, device):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = model.to(device).eval()
    shapes = {}
    order = []

    def record(name):
        def hook(module, args, output):
            if name not in shapes:
                order.append(name)
                shapes[name] = tuple(output.shape)
        return hook

    modules = dict(model.named_modules())
    hooks = [m.register_forward_hook(record(n)) for n, m in modules.items()
             if not list(m.children()) and any(True for _ in m.parameters())]
    x = torch.zeros(shape, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    for h in hooks:
        h.remove()
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    layers = [(shapes[n], sum(p.numel() for p in modules[n].parameters()),
               sum(per_module.get(f"{root}.{n}", {}).values()) // 2) for n in order]
    figures = {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": counter.get_total_flops() // 2,
        "output": tuple(y.shape),
        "layers": layers,
    }
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        times = []
        with torch.no_grad():
            for i in range(30):
                torch.cuda.synchronize()
                start = time.perf_counter()
                model(x)
                torch.cuda.synchronize()
                if i >= 10:
                    times.append(time.perf_counter() - start)
        figures["ms"] = 1000 * statistics.median(times)
        figures["peak_bytes"] = torch.cuda.max_memory_allocated()
        figures["resident_bytes"] = base       # parameters, buffers and the input
    return figures


def main() -> int:
    import torch
    import torchvision

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    failures = 0
    for spec, (factory, side) in MODELS.items():
        ours = analyze(load_spec(ROOT / "specs" / f"{spec}.yaml"), batch=args.batch)
        model = getattr(torchvision.models, factory)(weights=None)
        theirs = torch_figures(model, (args.batch, 3, side, side), args.device)
        our_layers = [(r.output_shape, r.params, r.macs) for r in ours.layers if r.params]
        checks = {
            "params": (ours.totals.params, theirs["params"]),
            "buffers": (ours.totals.buffers, theirs["buffers"]),
            "macs": (ours.totals.macs, theirs["macs"]),
            "output": (tuple(next(iter(ours.outputs.values()))), theirs["output"]),
            "layers": (our_layers, theirs["layers"]),
        }
        bad = [k for k, (a, b) in checks.items() if a != b]
        failures += bool(bad)
        line = (f"{spec:10} params {theirs['params']:>12,} buffers {theirs['buffers']:>7,} "
                f"MACs {theirs['macs']:>15,} layers {len(theirs['layers']):>3} "
                f"{'all equal' if not bad else 'DIFFER: ' + ', '.join(bad)}")
        if "ms" in theirs:
            t = ours.totals
            estimate = t.input_bytes + t.param_bytes + t.buffer_bytes + t.activation_bytes
            line += (f" | {theirs['ms']:.2f} ms, peak {theirs['peak_bytes'] / 2**20:.1f} MiB "
                     f"(resident {theirs['resident_bytes'] / 2**20:.1f}); netcalc total "
                     f"{estimate / 2**20:.1f} MiB")
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
