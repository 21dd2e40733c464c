"""`summary --format csv`: its header, one row per layer of plain integers, names that
survive a CSV reader, and the same numbers as `--format json`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT, SPECS, run_cli, summarize_text
from netcalc.errors import SpecError
from dataclasses import replace
from netcalc.render.csv import render as render_csv

HEADER = ("name,type,depth,inputs,output_shape,params,trainable_params,weight_params,"
          "bias_params,buffers,macs,flops,param_bytes,buffer_bytes,activation_bytes,rf_kind,"
          "rf_size,rf_jump,rf_start")
INTEGER_COLUMNS = ("depth", "params", "trainable_params", "weight_params", "bias_params",
                   "buffers", "macs", "flops", "param_bytes", "buffer_bytes", "activation_bytes")

# Names as odd as a spec allows: letters of any script, digits alone (nn.Sequential's
# `0`), full-width digits, and the dots that qualify a block's layers.
ODD_SPEC = """\
name: 奇怪的网络
input: [3, 8, 8]
blocks:
  res:
    layers:
      - {type: conv2d, name: 卷积, out_channels: 3, kernel_size: 2, padding: 1}
      - {type: conv2d, name: café, out_channels: 3, kernel_size: 2}
      - {type: add, name: Σ_sum, inputs: [café, input]}
layers:
  - {type: conv2d, name: Ünïcödé_1, out_channels: 3, kernel_size: 3, padding: 1}
  - {type: res, name: 0}
  - {type: res, repeat: 2}
  - {type: batchnorm2d, name: "１２"}
  - {type: flatten}
  - {type: linear, out_features: 10, name: ñ}
"""
ODD_NAMES = ["Ünïcödé_1", "0.卷积", "0.café", "0.Σ_sum", "res_1.0.卷积", "res_1.0.café",
             "res_1.0.Σ_sum", "res_1.1.卷积", "res_1.1.café", "res_1.1.Σ_sum", "１２",
             "flatten_1", "ñ"]


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def summary_csv_and_json(capsys, spec, *options) -> tuple[str, dict]:
    code, text, err = run_cli(capsys, "summary", str(spec), "--format", "csv", *options)
    assert code == 0, err
    code, out, err = run_cli(capsys, "summary", str(spec), "--format", "json", *options)
    assert code == 0, err
    return text, json.loads(out)


def assert_csv_equals_json(text: str, data: dict) -> None:
    rows = rows_of(text)
    assert len(rows) == len(data["layers"])           # one row per layer, none for blocks
    for row, layer in zip(rows, data["layers"]):
        assert list(row) == HEADER.split(",")
        assert row["name"] == layer["name"] and row["type"] == layer["type"]
        for column in INTEGER_COLUMNS:                # plain: no 1,234, no 1.2e9, no 1.0
            assert row[column].isdigit() and not row[column].startswith("0") \
                or row[column] == "0", (column, row[column])
            assert int(row[column]) == layer[column], (layer["name"], column)
        assert row["inputs"].split() == layer["inputs"]      # none for a learned tensor
        assert [int(d) for d in row["output_shape"].split("x")] == layer["output_shape"]
        field = layer["receptive_field"]
        if field is None:
            assert row["rf_kind"] == row["rf_size"] == row["rf_start"] == ""
            continue
        assert row["rf_kind"] == field["kind"]
        for column in ("size", "jump", "start"):
            cell = row[f"rf_{column}"]
            assert ([float(v) for v in cell.split("x")] if cell else []) == field[column]


def test_the_header_and_the_column_order(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "lenet5.yaml"), "--format", "csv")
    assert code == 0
    assert out.split("\n")[0] == HEADER
    assert out.endswith("\n") and "\r" not in out


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "vgg16", "vit_b_16"])
def test_every_number_equals_the_json_output(name, capsys):
    # vgg16's 15,470,264,320 MACs and vit's attention: large integers, many layer kinds
    assert_csv_equals_json(*summary_csv_and_json(capsys, SPECS / f"{name}.yaml"))


def test_options_reach_the_csv_as_they_reach_the_json(capsys):
    text, data = summary_csv_and_json(capsys, SPECS / "alexnet.yaml", "--batch", "4",
                                      "--dtype", "float16", "--input", "3x256x256")
    assert_csv_equals_json(text, data)
    assert rows_of(text)[0]["output_shape"] == "4x64x63x63"


def test_odd_layer_names_round_trip(tmp_path, capsys):
    spec = tmp_path / "odd.yaml"
    spec.write_text(ODD_SPEC, encoding="utf-8")
    text, data = summary_csv_and_json(capsys, spec)
    assert [row["name"] for row in rows_of(text)] == ODD_NAMES
    assert rows_of(text)[3]["inputs"] == "0.café Ünïcödé_1"        # two inputs, one cell
    assert_csv_equals_json(text, data)


def test_a_half_pixel_start_is_written_exactly(tmp_path, capsys):
    # an even kernel centres a field between pixels; :g once wrote -123455.5 as -123456
    spec = tmp_path / "wide.yaml"
    spec.write_text("input: [1, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 1, "
                    "kernel_size: 2, padding: 123456}\n")
    text, data = summary_csv_and_json(capsys, spec)
    assert rows_of(text)[0]["rf_start"] == "-123455.5x-123455.5"
    assert data["layers"][0]["receptive_field"]["start"] == [-123455.5, -123455.5]
    assert_csv_equals_json(text, data)


@pytest.mark.parametrize("name", ["a,b", 'say "hi"', "two words", "a-b", "a.b", ""])
def test_names_a_spec_cannot_hold_are_refused_where_written(name, capsys):
    # so the CSV never meets them from a spec; the renderer quotes them anyway (below)
    text = f"input: [4]\nlayers:\n  - {{type: relu, name: {json.dumps(name)}}}\n"
    with pytest.raises(SpecError) as refused:
        summarize_text(text, "names.yaml")
    assert str(refused.value).startswith("names.yaml:3:")
    assert "must be letters, digits and '_'" in str(refused.value)


def test_the_writer_quotes_what_a_cell_cannot_hold_bare():
    # a summary renamed after analysis: commas, quotes, spaces, a line break
    odd = ["a,b", 'say "hi"', "two words", "line\nbreak", " lead", "Ünï,'x'"]
    summary = summarize_text("input: [4]\nlayers: [relu, relu, relu, relu, relu, relu]\n")
    layers = tuple(replace(layer, name=name) for layer, name in zip(summary.layers, odd))
    text = render_csv(replace(summary, layers=layers))
    assert [row["name"] for row in rows_of(text)] == odd
    assert '"a,b"' in text and '"say ""hi"""' in text


def test_unicode_names_reach_a_pipe_and_a_file_as_utf8_under_an_ascii_locale(tmp_path):
    # LC_ALL=C without locale coercion: stdout and devices once failed with an internal
    # UnicodeEncodeError; files were UTF-8 all along
    spec = tmp_path / "odd.yaml"
    spec.write_text(ODD_SPEC, encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0",
           "PYTHONUTF8": "0"}
    command = [sys.executable, "-m", "netcalc", "summary", str(spec), "--format", "csv"]
    piped = subprocess.run(command, capture_output=True, env=env, cwd=ROOT, timeout=60)
    assert (piped.returncode, piped.stderr) == (0, b"")
    target = tmp_path / "odd.csv"
    written = subprocess.run([*command, "-o", str(target)], capture_output=True, env=env,
                             cwd=ROOT, timeout=60)
    assert (written.returncode, written.stdout, written.stderr) == (0, b"", b"")
    assert target.read_bytes() == piped.stdout                 # no BOM, same bytes
    names = [row["name"] for row in rows_of(piped.stdout.decode("utf-8"))]
    assert names == ODD_NAMES
