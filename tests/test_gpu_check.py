"""scripts/gpu_check.py on the CPU, on specs only (no model zoo): its rows say what
`netcalc verify` and `netcalc summary` say, and its exit status is verify's verdict."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from helpers import ROOT, SPECS, break_rule, run_cli

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

LENET = str(SPECS / "lenet5.yaml")
SQUEEZENET = str(SPECS / "squeezenet1_1.yaml")


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module          # its dataclass looks itself up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("gpu_check", None)


def _run(gpu_check, capsys, tmp_path, *args):
    report = tmp_path / "rows.json"
    code = gpu_check.main(["--device", "cpu", "--models", "none", "--runs", "1",
                           "--json", str(report), *args])
    out, err = capsys.readouterr()
    return code, out, err, json.loads(report.read_text())["rows"] if report.exists() else []


def _printed(out: str, model: str, dtype: str) -> list[str]:
    """The row's cells as printed: split on the runs of spaces between columns."""
    lines = [line for line in out.splitlines() if line.startswith(f"{model} ")
             and line.split()[1] == dtype]
    assert len(lines) == 1, out
    return [cell.strip() for cell in lines[0].split("  ") if cell.strip()]


def test_each_row_is_verifys_verdict_and_numbers(gpu_check, capsys, tmp_path):
    code, out, err, rows = _run(gpu_check, capsys, tmp_path,
                                "--specs", f"{LENET},{SQUEEZENET}", "--dtypes", "float32")
    assert code == 0, out + err
    assert out.startswith("device: cpu") and f"torch {torch.__version__}" in out
    assert "2 ✓, 0 ✗, 0 errors, 0 skipped of 2 rows" in out
    assert out.rstrip().splitlines()[-1].startswith("total time: ")
    for path, row in zip((LENET, SQUEEZENET), rows):
        name = path.rpartition("/")[2]
        cells = _printed(out, name, "float32")
        assert cells == [name, "float32", "✓", *row["cells"][3:]]
        assert cells[4] == cells[8] == "-"                 # no peak memory on the CPU
        # the figures are verify's own ...
        code, verified, _ = run_cli(capsys, "verify", path, "--device", "cpu", "--runs", "0",
                                    "--format", "json")
        verified = json.loads(verified)
        assert code == 0 and verified["ok"] and row["verify"]["ok"]
        assert row["verify"]["totals"] == verified["totals"]
        assert row["estimated_bytes"] == verified["estimated_bytes"]
        assert cells[5] == f"{verified['estimated_bytes'] / 2**20:.1f} MiB"
        assert cells[3] == f"{row['verify']['latency_ms']:.2f}"
        # ... and the training estimate summary's, for Adam in float32
        code, summary, _ = run_cli(capsys, "summary", path, "--format", "json")
        training = json.loads(summary)["memory"]["training_bytes"]
        assert row["train_estimate_bytes"] == training and row["train_mode"] == "float32"
        assert cells[7:9] == ["float32", "-"]
        assert cells[9] == f"{training / 2**20:.1f} MiB"
        assert row["train_ms"] > 0                          # the step ran


def test_a_difference_is_a_cross_and_exit_1(gpu_check, capsys, tmp_path, monkeypatch):
    break_rule(monkeypatch, "conv2d", "macs", lambda self, x, y: 7)
    code, out, _, rows = _run(gpu_check, capsys, tmp_path, "--specs", LENET,
                              "--dtypes", "float32", "--no-train")
    assert code == 1
    assert _printed(out, "lenet5.yaml", "float32")[2] == "✗"
    assert "totals differ: macs" in rows[0]["note"] and "0 ✓, 1 ✗" in out


def test_a_dtype_the_cpu_has_no_kernel_for_is_skipped_not_failed(gpu_check, capsys, tmp_path):
    try:
        torch.nn.AvgPool3d(2).half()(torch.zeros(1, 1, 2, 2, 2, dtype=torch.float16))
        pytest.skip("this torch has a CPU float16 avg_pool3d")
    except NotImplementedError:
        pass
    spec = tmp_path / "pool3d.yaml"
    spec.write_text("input: [2, 4, 8, 8]\nlayers:\n  - {type: conv3d, out_channels: 3, "
                    "kernel_size: 3}\n  - {type: avgpool3d, kernel_size: 2}\n")
    code, out, _, rows = _run(gpu_check, capsys, tmp_path, "--specs", str(spec),
                              "--dtypes", "float32,float16")
    assert code == 0, out
    assert [r["verdict"] for r in rows] == ["✓", "skipped (no CPU kernel)"]
    assert "float16   skipped (no CPU kernel)   layer 'avgpool3d_1' (avgpool3d)" in out
    assert "1 ✓, 0 ✗, 0 errors, 1 skipped of 2 rows" in out


def test_a_missing_corpus_model_is_skipped(gpu_check, capsys, tmp_path):
    code, out, _, rows = _run(gpu_check, capsys, tmp_path, "--specs", "none",
                              "--models", "no_such_model", "--dtypes", "float32")
    assert code == 0
    assert rows[0]["verdict"] == "skipped (not in the corpus)"
