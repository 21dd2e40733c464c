"""The `netcalc` command as a user runs it: formats, files, exit codes, imports."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PUBLISHED, ROOT, SPECS, VIT_B_16_FUSED_ATTENTION_MACS, run_cli, summarize
from netcalc.cli import main


def netcalc(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netcalc", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, **kwargs)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_json_totals_equal_the_published_figures(name, capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / f"{name}.yaml"), "--format", "json")
    assert code == 0
    totals = json.loads(out)["totals"]
    assert (totals["params"], totals["macs"]) == PUBLISHED[name]
    assert totals["flops"] == 2 * totals["macs"]


@pytest.mark.torch
def test_json_contract(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["name"] == "alexnet"
    assert data["inputs"] == {"input": [1, 3, 224, 224]}
    assert "FlopCounterMode" in data["macs_convention"]
    conv1 = data["layers"][0]
    assert conv1["name"] == "conv1.conv"
    assert conv1["type"] == "conv2d"
    assert conv1["inputs"] == ["input"]
    # the contract carries torch's figures for the layer (test_seed_examples owns the
    # tutorial's published ones)
    from torch import nn

    from torch_measure import figures_on_meta
    torch_conv1 = figures_on_meta(lambda: nn.Conv2d(3, 64, 11, stride=4, padding=2),
                                  [(1, 3, 224, 224)])
    assert conv1["output_shape"] == list(torch_conv1.output_shape)
    assert conv1["params"] == conv1["trainable_params"] == torch_conv1.total_params
    assert conv1["param_tensors"] == torch_conv1.params
    assert conv1["macs"] == torch_conv1.macs
    assert conv1["activation_bytes"] == math.prod(torch_conv1.output_shape) * 4
    assert data["outputs"] == {"fc8": [1, 1000]}
    totals = data["totals"]
    assert totals["params"] == sum(layer["params"] for layer in data["layers"])
    assert totals["param_bytes"] == 4 * totals["params"]
    assert totals["total_bytes"] == (totals["input_bytes"] + totals["param_bytes"]
                                     + totals["buffer_bytes"] + totals["activation_bytes"])
    assert {b["name"] for b in data["blocks"]} >= {"conv1", "fc6", "fc7"}


def test_table_shows_the_layers_and_totals(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"))
    assert code == 0
    assert re.search(r"conv1\.conv\s*│\s*conv2d\s*│\s*\[1, 64, 55, 55\]\s*│\s*23,296\s*│\s*"
                     r"70,276,800", out)
    assert "61,100,840 (61.10 M)" in out
    assert "714,188,480 (714.19 M)" in out
    assert "1,428,376,960 (1.43 G)" in out
    assert "Output" in out and "fc8 [1, 1000]" in out


def test_every_number_in_the_table_is_in_the_json(capsys):
    """Renderers format; they never compute (a sum in the table would show up here)."""
    spec = str(SPECS / "resnet18.yaml")
    _, table, _ = run_cli(capsys, "summary", spec, "--depth", "2")
    _, raw, _ = run_cli(capsys, "summary", spec, "--format", "json", "--depth", "2")
    data = json.loads(raw)

    def numbers(value):
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from numbers(v)
        elif isinstance(value, list):
            for v in value:
                yield from numbers(v)

    known = set(numbers(data))
    # exact counts are printed with thousands separators (sizes in MiB are unit conversions)
    shown = {int(n.replace(",", "")) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", table)}
    assert len(shown) > 20
    assert shown <= known, shown - known


def test_depth_collapses_rows(capsys):
    _, out, _ = run_cli(capsys, "summary", str(SPECS / "resnet50.yaml"), "--depth", "1")
    assert "layer1 …" in out and "layer1.0" not in out
    assert "25,557,032" in out


def test_markdown(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "resnet18.yaml"), "--format",
                           "markdown", "--depth", "1")
    assert code == 0
    assert "| Layer | Type | Output shape | Params | MACs |" in out
    assert "| **layer1** | basic_block ×2 | [1, 64, 56, 56] | 147,968 | 462,422,016 |" in out
    assert "11,689,512" in out


def test_csv_has_one_row_per_layer(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert len(rows) == 22
    assert rows[0]["name"] == "conv1.conv" and rows[0]["output_shape"] == "1x64x55x55"
    assert sum(int(r["params"]) for r in rows) == 61_100_840


def test_batch_dtype_and_input_options(capsys):
    _, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format", "json",
                        "--batch", "8", "--dtype", "float16", "--input", "3x256x256")
    data = json.loads(out)
    assert data["inputs"] == {"input": [8, 3, 256, 256]}
    assert data["layers"][0]["output_shape"] == [8, 64, 63, 63]   # (256 + 4 - 11)//4 + 1
    assert data["totals"]["param_bytes"] == 2 * 61_100_840
    assert data["totals"]["params"] == 61_100_840                 # the adaptive pool absorbs it


def test_output_file_is_written_atomically(tmp_path, capsys):
    target = tmp_path / "alexnet.json"
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format", "json",
                           "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["totals"]["params"] == 61_100_840
    assert os.listdir(tmp_path) == ["alexnet.json"]              # no temporary left behind


def test_a_failed_run_leaves_the_old_file_alone(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3]\nlayers: [{type: linear, out_features: 0}]\n")
    target = tmp_path / "out.json"
    target.write_text("previous contents")
    code, _, _ = run_cli(capsys, "summary", str(bad), "--format", "json", "-o", str(target))
    assert code == 1
    assert target.read_text() == "previous contents"
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "out.json"]


def test_an_interrupted_write_leaves_no_half_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "out.md"
    target.write_text("previous contents")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    code, _, err = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format",
                           "markdown", "-o", str(target))
    assert code == 2
    assert "No space left on device" in err
    assert target.read_text() == "previous contents"
    assert os.listdir(tmp_path) == ["out.md"]


def test_table_to_a_file_is_plain_and_unwrapped(tmp_path, capsys):
    target = tmp_path / "resnet50.txt"
    assert main(["summary", str(SPECS / "resnet50.yaml"), "-o", str(target)]) == 0
    text = target.read_text()
    assert "\x1b[" not in text
    assert "layer4.0.downsample.0" in text
    assert all("layer4.0.downsample.0 " in line for line in text.splitlines()
               if "layer4.0.downsample.0" in line)


def test_python_m_netcalc_and_no_torch_on_the_static_path():
    run = netcalc("summary", "specs/resnet50.yaml", "--format", "json")
    assert run.returncode == 0
    assert json.loads(run.stdout)["totals"]["macs"] == 4_089_184_256
    for fmt in ("json", "table"):
        timed = subprocess.run([sys.executable, "-X", "importtime", "-m", "netcalc", "summary",
                                "specs/resnet50.yaml", "--format", fmt],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
        imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines()}
        assert "torch" not in imported and not any(m.startswith("torch.") for m in imported)
        assert "netcalc.torch_bridge" not in imported


def test_closed_pipe_is_not_an_error():
    run = subprocess.run(f"{sys.executable} -m netcalc summary specs/vgg16.yaml --format csv "
                         "| head -n 1", shell=True, capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert run.stdout.startswith("name,type,")
    assert run.stderr == ""


def test_version_and_help(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.startswith("netcalc, version ")
    code, out, _ = run_cli(capsys, "summary", "--help")
    assert code == 0 and "--depth" in out and "--dtype" in out


def test_layers_lists_every_type_with_its_arguments(capsys):
    code, out, _ = run_cli(capsys, "layers", "--format", "json")
    entries = {e["type"]: e for e in json.loads(out)}
    assert code == 0
    conv = {a["name"]: a for a in entries["conv2d"]["arguments"]}
    assert conv["out_channels"]["required"] and conv["stride"]["default"] == 1
    assert entries["concat"]["aliases"] == ["cat"]
    code, out, _ = run_cli(capsys, "layers")
    assert "maxpool2d" in out and "kernel_size" in out


def test_plain_table_aligns_wide_characters_and_is_fast_for_long_tables(tmp_path, capsys):
    from netcalc.render.units import width

    spec = tmp_path / "wide.yaml"
    spec.write_text("input: [8]\nlayers:\n  - {type: linear, name: 全连接层, out_features: 8}\n"
                    "  - {type: linear, name: fc, out_features: 8, repeat: 3000}\n")
    started = __import__("time").perf_counter()
    code, out, _ = run_cli(capsys, "summary", str(spec))
    elapsed = __import__("time").perf_counter() - started
    table_lines = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert code == 0 and len(table_lines) == 3 + 1 + 1 + 1 + 3000 + 1
    assert len({width(line) for line in table_lines}) == 1
    assert "全连接层" in out
    assert elapsed < 10      # a guard, not a benchmark: rich needed ~4 s per 3,000 rows


def test_spec_from_stdin_and_output_to_dash(capsys):
    run = subprocess.run([sys.executable, "-m", "netcalc", "summary", "-", "--format", "csv",
                          "-o", "-"], input="input: [4]\nlayers: [relu]\n", capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0
    assert run.stdout.splitlines()[1].startswith("relu_1,relu,0,input,1x4,")


def test_warnings_go_to_stderr_and_into_the_json(tmp_path, capsys):
    spec = tmp_path / "w.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {type: reshape, shape: [1, 192]}\n"
                    "  - {type: linear, name: head, inputs: [input], out_features: 4}\n")
    code, out, err = run_cli(capsys, "summary", str(spec), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert err.splitlines() == [
        f"{spec}:3:5: warning: layer 'reshape_1' (reshape): shape=[1, 192] fixes the batch dim "
        "at 1: with another --batch it breaks; write -1 first to keep the batch whatever its size",
        f"{spec}:4:5: warning: layer 'head' (linear): applies to the last dim only (8 features) "
        "of [1, 3, 8, 8]; flatten first if you meant 3·8·8 = 192 features"]
    assert [w["layer"] for w in data["warnings"]] == ["reshape_1", "head"]


def test_token_inputs_are_sized_by_their_own_dtype(tmp_path, capsys):
    spec = tmp_path / "tokens.yaml"
    spec.write_text("params: {length: 16}\n"
                    "inputs: {tokens: {shape: [\"${length}\"], dtype: int64}}\n"
                    "layers: [{type: embedding, num_embeddings: 100, embedding_dim: 8}]\n")
    code, out, _ = run_cli(capsys, "summary", str(spec), "--format", "json", "--dtype",
                           "float16")
    data = json.loads(out)
    assert data["input_dtypes"] == {"tokens": "int64"}
    assert data["totals"]["input_bytes"] == 16 * 8
    assert data["layers"][0]["activation_bytes"] == 16 * 8 * 2


def test_json_blocks_do_not_depend_on_depth(capsys):
    _, full, _ = run_cli(capsys, "summary", str(SPECS / "resnet18.yaml"), "--format", "json")
    _, folded, _ = run_cli(capsys, "summary", str(SPECS / "resnet18.yaml"), "--format", "json",
                           "--depth", "1")
    assert json.loads(full)["blocks"] == json.loads(folded)["blocks"]
    assert len(json.loads(full)["blocks"]) == 4 + 8 + 3     # stages, blocks, projections


def test_an_error_after_an_input_override_says_so(capsys):
    code, _, err = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--input", "3x32x32")
    assert code == 1
    assert "layer 'pool5' (maxpool2d): window 3 is larger than the padded input 1" in err
    assert err.splitlines()[-1] == "note: input 'input' is [1, 3, 32, 32], from --input"


def test_output_through_a_symlink_keeps_the_link_and_the_mode(tmp_path, capsys):
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert main(["summary", str(SPECS / "alexnet.yaml"), "--format", "json", "-o", str(link)]) == 0
    assert link.is_symlink()
    assert json.loads(real.read_text())["name"] == "alexnet"
    assert real.stat().st_mode & 0o777 == 0o640


def test_a_view_that_changes_the_batch_is_a_warning(capsys):
    code, _, err = run_cli(capsys, "summary", str(SPECS / "seeds/seed004_netresdeep.yaml"),
                           "--input", "3x64x64")
    assert code == 0
    assert "warning: layer 'view_1' (view): shape=[-1, 2048] turns a batch of 1 into 4: each " \
           "item of [1, 32, 16, 16] has 8,192 elements, not 2,048" in err


def test_small_totals_have_no_redundant_prefix(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text("input: [4]\nlayers:\n  - {type: linear, out_features: 2}\n")
    _, out, _ = run_cli(capsys, "summary", str(path))
    assert "Params   10: 10 trainable" in out and "MACs     8\n" in out


def test_vit_counts_the_attention_that_flop_counter_mode_misses_on_the_fused_path():
    summary = summarize(SPECS / "vit_b_16.yaml")
    attention = [layer for layer in summary.layers if layer.type == "multiheadattention"]
    # per block: q, k, v and output projections 4·197·768² = 464,781,312, and
    # Q·Kᵀ plus A·V 2·12·197²·64 = 59,610,624
    assert [layer.macs for layer in attention] == [464_781_312 + 59_610_624] * 12
    assert summary.totals.macs - sum(layer.macs for layer in attention) \
        == VIT_B_16_FUSED_ATTENTION_MACS


def test_every_library_spec_states_its_published_figures():
    """A model in specs/ is there because it equals a published network."""
    assert {path.stem for path in SPECS.glob("*.yaml")} == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_library_spec_exports_to_the_flat_form_with_the_same_numbers(name, capsys,
                                                                            tmp_path):
    flat = tmp_path / f"{name}_flat.yaml"
    code, _, err = run_cli(capsys, "export", str(SPECS / f"{name}.yaml"), "--to", "yaml",
                           "-o", str(flat))
    assert code == 0, err
    ours, again = summarize(SPECS / f"{name}.yaml"), summarize(flat)
    assert not again.blocks
    assert [(r.type, r.output_shape, r.params, r.macs) for r in again.layers] == \
        [(r.type, r.output_shape, r.params, r.macs) for r in ours.layers]
    assert [r.name for r in again.layers] == [r.name.replace(".", "_") for r in ours.layers]
    assert (again.totals.params, again.totals.macs) == PUBLISHED[name]


def test_output_to_a_device_writes_to_it_and_leaves_it_a_device(capsys):
    # -o /dev/null must not be replaced by a regular file (the atomic rename would do that)
    code, _, _ = run_cli(capsys, "summary", str(SPECS / "lenet5.yaml"), "-o", "/dev/null")
    assert code == 0
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("depth", [None, 2])
def test_a_terminal_table_fits_80_columns_without_cutting_a_number(depth):
    """ResNet-50's table and footer in an 80-column terminal: names and types fold,
    the footer wraps, and every count and shape is there whole."""
    import io
    import re as regex

    from rich.console import Console

    from netcalc.render import table

    result = summarize(SPECS / "resnet50.yaml", depth=depth)
    assert table.narrowest(result) <= 80
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(table.renderable(result, (), 80))
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    cells = [cell.strip() for line in text.splitlines() for cell in line.split("│")]
    for row in result.rows:
        assert f"{row.params:,}" in cells or not row.params, row.name
        assert f"{row.macs:,}" in cells or not row.macs, row.name
        assert str(list(row.output_shape)) in cells, row.name
    footer = " ".join(regex.sub(r"\s+", " ", text).split())
    assert "4,089,184,256 (4.09 G)" in footer and "kept for backward 82.13 MiB" in footer


def test_layers_takes_words_to_find_a_type(capsys):
    from netcalc.layers import REGISTRY
    code, out, _ = run_cli(capsys, "layers", "--format", "json", "attention")
    assert code == 0
    found = {entry["type"] for entry in json.loads(out)}
    assert found == {cls.type_name for cls in REGISTRY.values() if cls.family == "attention"}
    code, out, _ = run_cli(capsys, "layers", "--format", "json", "conv", "3d")
    assert {entry["type"] for entry in json.loads(out)} == {"conv3d", "convtranspose3d"}
    code, _, err = run_cli(capsys, "layers", "lstmm")
    assert code == 2 and "no layer type matches 'lstmm'" in err
