"""`netcalc verify`: the spec built in torch, run, and compared layer by layer."""

from __future__ import annotations

import json
import sys

import pytest

from helpers import PUBLISHED, SPECS, break_rule, run_cli, spec_cases, summarize
from netcalc.layers import lookup
from dataclasses import replace
from netcalc.spec import load_spec
from netcalc.torch_bridge import verify as verify_module

Conv2d = lookup("conv2d")


@pytest.mark.parametrize("path", spec_cases(heavy_is_slow=True))
def test_every_spec_verifies_on_the_cpu(path, capsys):
    code, out, err = run_cli(capsys, "verify", str(path), "--device", "cpu", "--runs", "0",
                             "--format", "json")
    result = json.loads(out)
    failed = [layer["name"] for layer in result["layers"] if not layer["ok"]]
    assert (code, failed, result["ok"]) == (0, [], True), err
    assert all(layer["macs"]["netcalc"] == layer["macs"]["torch"] for layer in result["layers"])
    layer_macs = sum(layer["macs"]["torch"] for layer in result["layers"])
    assert result["totals"]["macs"]["torch"] == layer_macs


@pytest.mark.parametrize("name", ["alexnet", "resnet18"])
def test_torch_measures_the_published_totals(name, capsys):
    code, out, _ = run_cli(capsys, "verify", str(SPECS / f"{name}.yaml"), "--device", "cpu",
                           "--runs", "0", "--format", "json")
    totals = json.loads(out)["totals"]
    assert code == 0
    assert (totals["params"]["torch"], totals["macs"]["torch"]) == PUBLISHED[name]


def test_the_model_has_the_specs_qualified_names():
    from netcalc.torch_bridge.model import build_model

    spec = load_spec(SPECS / "resnet18.yaml")
    model = build_model(spec, summarize(SPECS / "resnet18.yaml"))
    leaves = [name for name, module in model.named_modules() if not list(module.children())]
    assert leaves == [layer.name for layer in spec.layers]
    assert "layer2.0.downsample.0" in leaves
    assert dict(model.named_parameters())["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)


def test_batch_and_input_reach_torch(capsys):
    code, out, _ = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"), "--batch", "3",
                           "--input", "3x100x120", "--runs", "0", "--format", "json")
    result = json.loads(out)
    assert code == 0
    assert result["layers"][0]["output_shape"]["torch"] == [3, 64, 24, 29]
    # 64·24·29 outputs per image, each 11·11·3 MACs, three images
    assert result["layers"][0]["macs"]["torch"] == 3 * 64 * 24 * 29 * 363


def test_a_wrong_rule_is_shown_with_both_values_and_exit_1(capsys, monkeypatch):
    break_rule(monkeypatch, "conv2d", "macs", lambda self, x, y: 7)
    code, out, _ = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"), "--runs", "0")
    assert code == 1
    assert "netcalc 7 ≠ torch 70,276,800" in out
    assert "✗ 5 of 22 layers differ from torch" in out


def test_the_table_lists_every_layer_with_a_tick(capsys):
    code, out, _ = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"), "--runs", "2")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert code == 0 and len(rows) == 22
    assert all(row.rstrip("│ ").endswith("✓") for row in rows)
    assert "Params   61,100,840 ✓" in out
    assert "median forward over 2 runs" in out
    assert "✓ all 22 layers match torch" in out


def test_torch_refusing_a_layer_is_located(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, "
                    "kernel_size: 3}\n")
    # build a module torch will refuse at run time: the wrong in_channels
    original = Conv2d.arguments
    monkeypatch.setattr(Conv2d, "arguments",
                        lambda self, x: {**original(self, x), "in_channels": 5})
    code, _, err = run_cli(capsys, "verify", str(spec), "--runs", "0")
    assert code == 1
    assert err.startswith(f"{spec}:3:5: error: layer 'conv2d_1' (conv2d): torch refused it: ")
    assert "Traceback" not in err


def test_a_forward_that_would_not_fit_is_refused_first(capsys, monkeypatch):
    monkeypatch.setattr(verify_module, "available_ram", lambda: 100 * 2**20)
    code, _, err = run_cli(capsys, "verify", str(SPECS / "vgg16.yaml"), "--batch", "64")
    assert code == 2
    assert "may need up to 4.15 GiB" in err and "there is 100.00 MiB" in err


def test_without_torch_it_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` raises ImportError
    code, out, err = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"))
    assert (code, out) == (2, "")
    assert "pip install 'netcalc-nn[torch]'" in err and "Traceback" not in err
    assert "pip install -c constraints.txt '.[torch]'" in err


def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, _, err = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"), "--device", "cuda")
    assert code == 2 and "torch sees no GPU" in err


def test_quantities_compare_both_ways():
    from netcalc.verification import Quantity
    assert Quantity(3, 3).ok and not Quantity((1, 2), (1, 3)).ok
    assert not replace(Quantity(1, 1), torch=None).ok


def test_gpu_timing_synchronizes_and_reads_the_peak(capsys):
    """The CUDA branch, with a stand-in for torch.cuda (this machine has no GPU)."""
    import contextlib
    from types import SimpleNamespace

    from netcalc.render.verify import plain_text
    from netcalc.torch_bridge.verify import _time

    calls = []
    cuda = SimpleNamespace(synchronize=lambda target: calls.append("sync"),
                           reset_peak_memory_stats=lambda target: calls.append("reset"),
                           max_memory_allocated=lambda target: 3 * 2**20)
    fake_torch = SimpleNamespace(cuda=cuda, inference_mode=contextlib.nullcontext)
    latency, peak = _time(fake_torch, lambda: calls.append("run"),
                          SimpleNamespace(type="cuda"), runs=4)
    # a warm-up, then a reset of the peak, then each timed run waits for the GPU
    assert calls == ["run", "sync", "reset"] + ["run", "sync"] * 4
    assert peak == 3 * 2**20 and latency >= 0

    code, out, _ = run_cli(capsys, "verify", str(SPECS / "alexnet.yaml"), "--runs", "0",
                           "--format", "json")
    result = json.loads(out)
    assert (result["peak_bytes"], result["estimate_to_peak"], result["latency_ms"]) == \
        (None, None, None)
    checked = verify_module.verify(load_spec(SPECS / "alexnet.yaml"),
                                   summarize(SPECS / "alexnet.yaml"), device="cpu", runs=0)
    shown = plain_text(replace(checked, peak_bytes=200 * 2**20,
                               estimate_to_peak=checked.estimated_bytes / (200 * 2**20)))
    assert "Memory   torch peak 200.00 MiB (max_memory_allocated); netcalc estimates " \
           "234.57 MiB (1.17× the peak)" in shown
