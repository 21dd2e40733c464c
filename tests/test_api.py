"""netcalc from Python, as a notebook uses it: `netcalc.summary(...)` on a spec's path,
YAML text, a dict, a Network or a torch module, returning the Summary the command line
prints (its numbers checked against torch here), displayed as Jupyter displays it."""

from __future__ import annotations

import ast
import json

import pytest

import netcalc
from helpers import PUBLISHED, SPECS, run_cli

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

NOTEBOOK = [
    "import netcalc",
    "s = netcalc.summary('specs/alexnet.yaml', batch=2)",
    "s",                                  # the cell's value: Jupyter shows _repr_html_
    "s.totals.params, s.totals.macs",
    "netcalc.summary({'name': 'probe', 'input': [3, 32, 32], 'layers': ["
    "{'type': 'conv2d', 'out_channels': 8, 'kernel_size': 3}, 'relu']})",
]


def _run_cells(cells: list[str], cwd) -> list:
    """Each cell run in one namespace, as a notebook kernel does; a cell ending in an
    expression gives its value (what Jupyter displays)."""
    namespace: dict = {}
    shown = []
    for cell in cells:
        tree = ast.parse(cell)
        last = tree.body[-1]
        if isinstance(last, ast.Expr):
            exec(compile(ast.Module(tree.body[:-1], []), "<cell>", "exec"), namespace)
            shown.append(eval(compile(ast.Expression(last.value), "<cell>", "eval"),
                              namespace))
        else:
            exec(compile(tree, "<cell>", "exec"), namespace)
            shown.append(None)
    return shown


def test_a_notebook_shows_the_summary_as_html(monkeypatch):
    monkeypatch.chdir(SPECS.parent)
    shown = _run_cells(NOTEBOOK, SPECS.parent)
    summary = shown[2]
    html = summary._repr_html_()
    assert html.startswith('<div class="netcalc-summary">')
    assert "<b>alexnet (specs/alexnet.yaml) · batch 2 · float32</b>" in html
    assert "<td style=\"text-align:right;\">23,296</td>" in html          # conv1's params
    assert "[2, 64, 55, 55]" in html
    params, macs = PUBLISHED["alexnet"]
    assert shown[3] == (params, 2 * macs)                # batch 2: twice torchvision's
    assert f"{params:,} (61.10 M)" in html
    assert repr(summary) == (f"<Summary alexnet: 22 layers, {params:,} params, {2 * macs:,} "
                             "MACs at batch 2>")
    probe = shown[4]
    conv = nn.Conv2d(3, 8, 3)
    assert probe.totals.params == sum(p.numel() for p in conv.parameters())
    assert "probe" in probe._repr_html_()


def test_the_formats_are_the_command_lines(capsys):
    summary = netcalc.summary(SPECS / "resnet18.yaml", depth=1)
    for fmt, text in (("json", summary.to_json()), ("markdown", summary.to_markdown()),
                      ("csv", summary.to_csv()), ("table", str(summary))):
        code, out, _ = run_cli(capsys, "summary", str(SPECS / "resnet18.yaml"), "--depth", "1",
                               "--format", fmt)
        assert code == 0 and text == out, fmt
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "resnet18.yaml"), "--depth", "2")
    digraph = summary.diagram(depth=2)
    assert type(digraph).__name__ == "Digraph"
    assert digraph.source.split("\n", 1)[1] == out.split("\n", 1)[1]


def _torch_figures(model, x) -> tuple[int, int]:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def test_a_torch_module_instance_with_torchinfos_input_size():
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    summary = netcalc.summary(model, input_size=(4, 3, 32, 32))
    assert (summary.totals.params, summary.totals.macs) == \
        _torch_figures(model, torch.randn(4, 3, 32, 32))
    assert list(summary.outputs.values()) == [(4, 10)]
    assert next(model.parameters()).device.type == "cpu"      # the user's model untouched


def test_a_factory_is_built_on_meta_with_its_arguments():
    def mlp(width=32):
        return nn.Sequential(nn.Linear(8, width), nn.GELU(), nn.Linear(width, 2))

    summary = netcalc.summary(mlp, input=(8,), kwargs={"width": 64})
    assert (summary.totals.params, summary.totals.macs) == _torch_figures(mlp(64),
                                                                          torch.randn(1, 8))


def test_a_network_and_yaml_text_are_specs_too():
    net = netcalc.Network("tiny", input=[3, 16, 16])
    net.conv2d("conv", out_channels=4, kernel_size=3)
    text = "name: tiny\ninput: [3, 16, 16]\nlayers:\n" \
           "  - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3}\n"
    expected = _torch_figures(nn.Conv2d(3, 4, 3), torch.randn(1, 3, 16, 16))
    for spec in (net, text):
        s = netcalc.summary(spec)
        assert (s.totals.params, s.totals.macs) == expected
    lettered = netcalc.summary(text, input="3xHxW")
    assert str(lettered.totals.macs) == "108·H·W − 216·H − 216·W + 432"
    assert lettered.totals.macs.at({"H": 16, "W": 16}) == expected[1]


def test_errors_raise_spec_error_with_where_and_which_layer():
    bad = "name: bad\ninput: [3, 8, 8]\nlayers:\n" \
          "  - {type: conv2d, name: conv, out_channels: 4, kernel_size: 11}\n"
    with pytest.raises(netcalc.SpecError) as caught:
        netcalc.summary(bad)
    error = caught.value
    # at the value to blame: kernel_size's 11
    assert (error.path, error.line, error.col, error.layer) == ("<string>", 4, 62, "conv")
    assert "kernel 11 is larger than the padded input 8" in str(error)
    with pytest.raises(netcalc.UsageError, match="no such spec file"):
        netcalc.summary("specs/missing.yaml")


def test_explain_check_and_verify_return_data():
    workings = netcalc.explain(SPECS / "alexnet.yaml", layer="conv1")
    conv = next(w for w in workings if w.name == "conv1.conv")
    assert next(s for s in conv.steps if s.quantity == "params").value == \
        sum(p.numel() for p in nn.Conv2d(3, 64, 11).parameters())
    graded = netcalc.check(SPECS / "alexnet.yaml", {"conv1": {"params": 23296},
                                                   "total_params": 1})
    assert [(g.layer, g.quantity, g.correct) for g in graded] == \
        [("conv1", "params", True), (None, "params", False)]
    checked = netcalc.verify(SPECS / "lenet5.yaml", device="cpu", runs=0)
    assert checked.ok and checked.params.torch == PUBLISHED["lenet5"][0]


def test_to_dataframe_says_what_it_needs(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def without_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_pandas)
    with pytest.raises(netcalc.MissingToolError, match="pip install pandas"):
        netcalc.summary(SPECS / "lenet5.yaml").to_dataframe()


def test_importing_netcalc_loads_neither_torch_nor_the_engine():
    import subprocess
    import sys
    probe = ("import sys, netcalc; netcalc.__version__; "
             "print(sorted(m for m in sys.modules if m.startswith(('torch', 'netcalc.'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out.replace("'", '"')) == []
