"""`verify --dtype float16/bfloat16` on the CPU, and `verify -o FILE`.

torch 2.x runs convolutions, linear layers, pooling and norms in half precision on
the CPU, so verify compares shapes, parameters and MACs as in float32. Where torch
has no CPU kernel for the dtype (3-d average pooling, and local response norm built
on it), that is a limit of the environment, like a missing tool: exit 2 with one
located line, not exit 1, which says netcalc's numbers differ from torch's.
"""

from __future__ import annotations

import json
import os

import pytest

from helpers import SPECS, break_rule, run_cli
from netcalc.torch_bridge import verify as verify_module

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

LENET = str(SPECS / "lenet5.yaml")
HALVES = ["float16", "bfloat16"]


@pytest.fixture
def built(monkeypatch):
    """The models verify builds (to check the dtype they ran in)."""
    models = []
    build = verify_module.build_model

    def keep(*args, **kwargs):
        models.append(build(*args, **kwargs))
        return models[-1]

    monkeypatch.setattr(verify_module, "build_model", keep)
    return models


@pytest.mark.parametrize("dtype", HALVES)
def test_half_precision_verifies_on_the_cpu(dtype, built, capsys):
    code, out, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--dtype", dtype,
                             "--runs", "0", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["dtype"], result["device"], result["ok"]) == (dtype, "cpu", True)
    assert len(result["layers"]) == 12 and all(layer["ok"] for layer in result["layers"])
    assert {name: value["torch"] for name, value in result["totals"].items()} == \
        {"params": 61_706, "buffers": 0, "macs": 416_520}
    # the model really ran in that dtype, not float32
    assert {p.dtype for p in built[0].parameters()} == {getattr(torch, dtype)}


@pytest.mark.parametrize("dtype", HALVES)
def test_half_precision_halves_the_memory_estimate(dtype, capsys):
    estimates = {}
    for each in ("float32", dtype):
        code, out, _ = run_cli(capsys, "verify", LENET, "--device", "cpu", "--dtype", each,
                               "--runs", "0", "--format", "json")
        assert code == 0
        estimates[each] = json.loads(out)["estimated_bytes"]
    assert estimates[dtype] * 2 == estimates["float32"]


def test_timed_half_precision_runs_on_the_cpu(capsys):
    code, out, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--dtype", "float16",
                             "--runs", "1")
    assert code == 0, err
    assert "float16 · torch" in out and "✓ all 12 layers match torch" in out


NO_HALF_KERNEL = "input: [2, 4, 8, 8]\nlayers:\n  - {type: conv3d, out_channels: 3, kernel_size: 3}\n  - {type: avgpool3d, kernel_size: 2}\n"


@pytest.mark.parametrize("dtype, torch_name", [("float16", "Half"), ("bfloat16", "BFloat16")])
def test_a_layer_torch_cannot_run_in_that_dtype_on_the_cpu_is_a_usage_error(
        dtype, torch_name, tmp_path, capsys):
    spec = tmp_path / "pool3d.yaml"
    spec.write_text(NO_HALF_KERNEL)
    try:
        torch.nn.AvgPool3d(2).to(getattr(torch, dtype))(torch.zeros(1, 1, 2, 2, 2,
                                                                     dtype=getattr(torch, dtype)))
        pytest.skip(f"this torch has a CPU {dtype} avg_pool3d (the next test fakes one)")
    except NotImplementedError:
        pass
    code, out, err = run_cli(capsys, "verify", str(spec), "--device", "cpu", "--dtype", dtype,
                             "--runs", "0")
    assert (code, out) == (2, "")
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"{spec}:4:5: error: layer 'avgpool3d_1' (avgpool3d): torch ")
    assert f"cannot run it in {dtype} on the CPU (\"avg_pool3d_out_frame\" not implemented " \
           f"for '{torch_name}'): verify with --dtype float32 or on a GPU" in err
    # float32 verifies the same spec
    assert run_cli(capsys, "verify", str(spec), "--device", "cpu", "--runs", "0")[0] == 0


def _no_kernel_for(torch_name: str):
    def forward(self, x):
        raise NotImplementedError(f'"avg_pool2d" not implemented for \'{torch_name}\'')
    return forward


def test_a_missing_kernel_is_told_apart_from_a_disagreement(monkeypatch, capsys):
    # the same message for the dtype verify runs in: the environment (exit 2) ...
    monkeypatch.setattr(torch.nn.AvgPool2d, "forward", _no_kernel_for("Half"))
    code, _, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--dtype", "float16",
                           "--runs", "0")
    assert code == 2
    assert "layer 'c1.pool' (avgpool2d): torch " in err and "cannot run it in float16" in err
    # ... for another dtype than the run's: torch refusing what netcalc accepted (exit 1)
    code, _, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--runs", "0")
    assert code == 1
    assert "layer 'c1.pool' (avgpool2d): torch refused it: \"avg_pool2d\" not implemented" in err


# -- verify -o ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["table", "json"])
def test_the_report_goes_to_the_file_and_nothing_to_stdout(fmt, tmp_path, capsys):
    target = tmp_path / f"report.{fmt}"
    old_umask = os.umask(0o027)
    try:
        code, out, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--runs", "0",
                                 "--format", fmt, "-o", str(target))
    finally:
        os.umask(old_umask)
    assert (code, out) == (0, "")
    text = target.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)["ok"] is True
    else:
        assert "\x1b[" not in text                      # plain text, no colours
        assert "✓ all 12 layers match torch" in text
    assert os.listdir(tmp_path) == [target.name]       # renamed into place, no temporary
    assert target.stat().st_mode & 0o777 == 0o640       # 0666 less the umask, as open() makes


def test_a_failed_verification_still_writes_its_report(tmp_path, capsys, monkeypatch):
    # exit 1 is the verdict (numbers differ); the report saying which is the point
    break_rule(monkeypatch, "conv2d", "macs", lambda self, x, y: 7)
    target = tmp_path / "report.json"
    target.write_text("old report")
    code, out, _ = run_cli(capsys, "verify", LENET, "--device", "cpu", "--runs", "0",
                           "--format", "json", "-o", str(target))
    assert (code, out) == (1, "")
    report = json.loads(target.read_text())
    assert report["ok"] is False and report["failed_layers"] == 2


def test_a_report_that_cannot_be_written_leaves_nothing(tmp_path, capsys):
    target = tmp_path / "missing" / "report.json"
    code, out, err = run_cli(capsys, "verify", LENET, "--device", "cpu", "--runs", "0",
                             "--format", "json", "-o", str(target))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: cannot write {target}: no such directory ")
    assert os.listdir(tmp_path) == []

