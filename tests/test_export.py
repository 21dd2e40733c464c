"""`netcalc export --to torch`: the written module is the spec's network, exactly."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from helpers import SPECS, run_cli, spec_cases
from torch_measure import measure_model, on_meta



def export(path, tmp_path, capsys, *options, meta=False):
    """The exported file's model (built on the meta device with `meta`: for its
    numbers only), the file as a module, and its source."""
    target = tmp_path / f"{path.stem}_model.py"
    code, _, err = run_cli(capsys, "export", str(path), "--to", "torch", "-o", str(target),
                           *options)
    assert code == 0, err
    source = target.read_text()
    module_spec = importlib.util.spec_from_file_location(target.stem, target)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    model_class = re.search(r"model = (\w+)\(\)\.eval\(\)", source).group(1)
    model_factory = getattr(module, model_class)
    return (on_meta(model_factory) if meta else model_factory()), module, source


@pytest.mark.parametrize("path", spec_cases())
def test_the_exported_module_has_the_specs_numbers(path, tmp_path, capsys):
    model, module, _ = export(path, tmp_path, capsys, meta=True)
    _, out, _ = run_cli(capsys, "summary", str(path), "--format", "json")
    summary = json.loads(out)
    # the file's own example inputs: every input, of its dtype (token ids are int64)
    measured = measure_model(model, module.example_inputs())
    assert measured.params == summary["totals"]["params"]
    assert measured.buffers == summary["totals"]["buffers"]
    assert measured.macs == summary["totals"]["macs"]
    shapes = measured.output_shape
    shapes = shapes if isinstance(shapes[0], tuple) else (shapes,)      # one output or several
    assert [list(shape) for shape in shapes] == list(summary["outputs"].values())
    # every parametric module sits at the spec layer's qualified name, with its numbers
    layers = {layer["name"]: layer for layer in summary["layers"]}
    for name, (out_shape, params, macs) in measured.layers.items():
        if layers[name]["arguments"].get("piece"):    # h_n of nn.GRU's (output, h_n): the
            out_shape = layers[name]["output_shape"]   # hook saw output (test_recurrent: h_n)
        assert (list(out_shape), params, macs) == \
            (layers[name]["output_shape"], layers[name]["params"], layers[name]["macs"]), name


def test_blocks_built_alike_share_one_class_with_parameters(tmp_path, capsys):
    model, _, source = export(SPECS / "resnet18.yaml", tmp_path, capsys)
    assert source.count("class BasicBlock(nn.Module):") == 1
    assert "def __init__(self, in_channels=64, channels=128):" in source
    assert "self.layer1 = nn.Sequential(*(BasicBlock(channels=64) for _ in range(2)))" in source
    assert "add = bn2 + downsample" in source          # the residual, spelled out
    assert type(model.layer2[0]).__name__ == "BasicBlock2"


def test_export_follows_the_input_shape(tmp_path, capsys):
    model, module, _ = export(SPECS / "alexnet.yaml", tmp_path, capsys, "--input", "1x100x100")
    assert module.INPUT_SHAPES == {"input": (1, 100, 100)}
    assert model.conv1.conv.in_channels == 1


def test_export_writes_nothing_for_a_bad_spec(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, "
                   "kernel_size: 9}\n")
    target = tmp_path / "out.py"
    code, _, err = run_cli(capsys, "export", str(bad), "-o", str(target))
    assert code == 1 and err.startswith(f"{bad}:3:")
    assert not target.exists()


# Two inputs, a two-input block used twice, concat and reductions, a layer named
# like an nn.Module method and one named `0`, an indexed repeat, two outputs.
AWKWARD_SPEC = """\
name: awkward net
inputs: {image: [3, 16, 16], extra: [8, 16, 16]}
blocks:
  fuse:
    inputs: [a, b]
    params: {c: 8}
    layers:
      - {type: conv2d, name: forward, out_channels: "${c}", kernel_size: 1, inputs: [a]}
      - {type: concat, name: cat, dim: 1, inputs: [forward, b]}
      - {type: relu, name: act}
layers:
  - {type: conv2d, name: "0", out_channels: 8, kernel_size: 3, padding: 1, inputs: [image]}
  - {type: fuse, name: f1, inputs: ["0", extra]}
  - {type: fuse, name: f2, c: 4, inputs: [f1, extra]}
  - {type: conv2d, name: "conv${i}", repeat: 2, out_channels: "${4 * (i + 1)}", kernel_size: 3}
  - {type: mean, name: pool, dim: [2, 3]}
  - {type: linear, name: head, out_features: 5}
  - {type: sum, name: side, dim: [1], keepdim: true, inputs: [f2]}
"""


def test_an_awkward_spec_exports_and_verifies(tmp_path, capsys):
    path = tmp_path / "awkward.yaml"
    path.write_text(AWKWARD_SPEC)
    model, module, source = export(path, tmp_path, capsys)
    assert "def forward(self, image, extra):" in source
    assert "self._modules['forward'] = nn.Conv2d(" in source
    assert "cat = torch.cat([forward, x1], dim=1)" in source
    head, side = model(*module.example_inputs(2))
    assert (tuple(head.shape), tuple(side.shape)) == ((2, 5), (2, 1, 16, 16))
    names = [name for name, m in model.named_modules() if not list(m.children())]
    assert names == ["0", "f1.forward", "f1.act", "f2.forward", "f2.act", "conv0", "conv1",
                     "head"]
    _, out, _ = run_cli(capsys, "summary", str(path), "--format", "json")
    assert sum(p.numel() for p in model.parameters()) == json.loads(out)["totals"]["params"]
    code, out, _ = run_cli(capsys, "verify", str(path), "--runs", "0")
    assert code == 0 and "✓ all 12 layers match torch" in out


def test_a_layer_torch_cannot_name_is_refused(tmp_path, capsys):
    path = tmp_path / "training.yaml"
    path.write_text("input: [4]\nlayers:\n  - {type: linear, name: training, out_features: 2}\n")
    for command in ("export", "verify"):
        code, _, err = run_cli(capsys, command, str(path))
        assert code == 1
        assert err.startswith(f"{path}:3:5: error: layer 'training' (linear): torch cannot "
                              "name a submodule 'training'")


def same_function(spec_path, model) -> None:
    """The exported model computes what netcalc's own torch build computes, given the
    same weights: names line up (strict load) and the wiring is the same."""
    import torch

    from helpers import summarize
    from netcalc.spec import load_spec
    from netcalc.torch_bridge.model import build_model

    torch.manual_seed(0)
    summary = summarize(spec_path, batch=2)     # the build is for one batch size (expand)
    reference = build_model(load_spec(spec_path), summary).eval()
    # assign: the reference's tensors become the model's (it may be on the meta device)
    model.eval().load_state_dict(reference.state_dict(), strict=True, assign=True)
    inputs = [torch.randint(0, 100, shape) if summary.input_dtypes[name] == "int64"
              else torch.randn(*shape) for name, shape in summary.inputs.items()]
    with torch.no_grad():
        expected, got = reference(*inputs), model(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert torch.allclose(e, g, atol=1e-5), (e - g).abs().max()


@pytest.mark.parametrize("path", spec_cases(heavy_is_slow=True))
def test_the_exported_module_computes_what_the_spec_says(path, tmp_path, capsys):
    # on meta: its weights are about to be replaced by the reference's
    model, _, _ = export(path, tmp_path, capsys, meta=True)
    same_function(path, model)


# Blocks that differ only in a tensor operation's argument, block inputs named like a
# layer, class names that collide once CamelCased, a repeated tensor operation.
TRICKY_SPECS = {
    # the batch is dim 1 inside the block: it comes down from the model's input
    "batch_in_blocks": """\
input: [4, 8]
blocks:
  token:
    layers:
      - {type: parameter, name: cls, shape: [1, 1, 8]}
      - {type: expand, name: e, size: [4, batch, -1]}
      - {type: add, name: a, inputs: [e, input]}
  outer:
    layers:
      - {type: token, name: t}
      - {type: relu, name: r}
layers:
  - {type: permute, name: p, dims: [1, 0, 2]}
  - {type: outer, name: o}
  - {type: token, name: again, repeat: 2}
  - {type: chunk, name: [left, right], chunks: 2, dim: 2}
  - {type: add, name: sum, inputs: [left, right]}
""",
    "tensor_op_argument": """\
input: [8, 4, 4]
blocks:
  blk:
    params: {d: 2}
    layers:
      - {type: conv2d, name: conv, out_channels: 8, kernel_size: 1}
      - {type: mean, name: m, dim: ["${d}"], keepdim: true}
layers:
  - {type: blk, name: b1, d: 2}
  - {type: blk, name: b2, d: 3}
""",
    "input_names": """\
inputs: {a: [4, 8, 8], b: [4, 8, 8]}
blocks:
  fuse:
    inputs: [p, q]
    layers:
      - {type: conv2d, name: x1, out_channels: 4, kernel_size: 1, inputs: [p]}
      - {type: sub, name: s, inputs: [q, x1]}
layers:
  - {type: fuse, name: f, inputs: [a, b]}
""",
    "class_names": """\
name: net
input: [4, 8, 8]
blocks:
  conv_block:
    layers: [{type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}]
  convBlock:
    layers: [relu, {type: conv2d, name: conv, out_channels: 4, kernel_size: 1}]
  Net:
    layers: [{type: relu, name: r}]
layers:
  - {type: conv_block, name: a}
  - {type: convBlock, name: b}
  - {type: Net, name: c}
""",
    "inner_block_output": """\
input: [4, 8, 8]
blocks:
  inner:
    layers:
      - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}
      - {type: relu, name: act}
  outer:
    layers:
      - {type: inner, name: first}
      - {type: conv2d, name: conv2, out_channels: 4, kernel_size: 1}
layers:
  - {type: outer, name: a}
  - {type: add, name: fin, inputs: [a, a.first]}
""",
    "unread_inner_layer": """\
input: [4, 8, 8]
blocks:
  blk:
    params: {flag: false}
    layers:
      - {type: conv2d, name: a, out_channels: 4, kernel_size: 3, padding: 1}
      - {type: conv2d, name: b, out_channels: 4, kernel_size: 1, inputs: [input]}
      - {type: relu, name: c, inputs: [a], if: "${flag}"}
layers:
  - {type: blk, name: s, repeat: 3, flag: "${i > 0}"}
  - {type: conv2d, name: head, out_channels: 2, kernel_size: 1}
""",
    "named_like_its_block": """\
name: blk
input: [4, 8, 8]
blocks:
  blk:
    layers: [{type: conv2d, name: a, out_channels: 4, kernel_size: 3, padding: 1}, relu]
layers:
  - {type: blk, name: s}
  - {type: blk, name: t}
""",
    "repeated_tensor_op": """\
input: [4, 8, 6]
layers:
  - {type: mean, name: m, dim: [-1], repeat: 2}
  - {type: linear, name: fc, out_features: 2}
""",
}


@pytest.mark.parametrize("name", sorted(TRICKY_SPECS))
def test_tricky_specs_export_to_the_same_function(name, tmp_path, capsys):
    path = tmp_path / f"{name}.yaml"
    path.write_text(TRICKY_SPECS[name])
    model, _, source = export(path, tmp_path, capsys)
    same_function(path, model)
    if name == "class_names":
        assert {"class ConvBlock(", "class ConvBlock2(", "class Net(", "class Net2("} <= \
            {line[:line.index("(") + 1] for line in source.splitlines()
             if line.startswith("class ")}


# -- the spec's top-level params become the class's constructor arguments -------------

PARAMS_SPEC = """\
name: pnet
params: {width: 16, num_classes: 10, depth: 2, wider: "${width + 4}"}
input: [3, 32, 32]
blocks:
  unit:
    params: {out: 16}
    layers:
      - {type: conv2d, out_channels: "${out}", kernel_size: 3, padding: 1}
      - batchnorm2d
      - relu
layers:
  - {type: unit, name: stem, out: "${width}"}
  - {type: unit, name: "s${i}", out: "${2 * width}", repeat: "${depth}"}
  - {type: conv2d, name: squeeze, out_channels: "${wider}", kernel_size: 1}
  - {type: adaptiveavgpool2d, output_size: 1}
  - flatten
  - {type: linear, name: fc, out_features: "${num_classes + 1}"}
"""


@pytest.mark.parametrize("path, values", [
    ("pnet", {"width": 8, "num_classes": 5}),
    ("pnet", {"width": 24, "num_classes": 100}),
    ("gpt2", {"hidden": 256, "heads": 4, "mlp": 1024, "vocab": 1000}),
    ("vit_b_16", {"heads": 6, "mlp": 1024, "classes": 10}),
    ("bert_base", {"hidden": 128, "heads": 2, "mlp": 512, "types": 3}),
])
def test_the_exported_class_takes_the_specs_params(path, values, tmp_path, capsys):
    import netcalc
    if path == "pnet":
        path = tmp_path / "pnet.yaml"
        path.write_text(PARAMS_SPEC)
    else:
        path = SPECS / f"{path}.yaml"
    model, module, source = export(path, tmp_path, capsys, meta=True)
    model_class = type(model)
    # at other values the class is the spec at those values: torch's count against
    # netcalc's summary of the spec with its params set so
    other = on_meta(lambda: model_class(**values))
    expected = netcalc.summary(path, params=values).totals
    measured = measure_model(other, module.example_inputs())
    assert (measured.params, measured.macs) == (expected.params, expected.macs)
    if path.name == "pnet.yaml":
        assert "def __init__(self, width=16, num_classes=10):" in source
        assert "self.squeeze = nn.Conv2d(in_channels=2 * width, out_channels=width + 4, " \
            "kernel_size=1)" in source
        assert "self.fc = nn.Linear(in_features=width + 4, out_features=num_classes + 1)" \
            in source
        assert "self.s0 = Unit(in_channels=width, channels=2 * width)" in source
        assert "# depth stays 2 here: it changes the layers themselves." in source


def test_a_param_that_rounds_stays_a_value_and_says_so(tmp_path, capsys):
    """`half: ${width // 2}` is derived; the layer reading it follows width other than
    linearly (32 → 16, 33 → 16, 34 → 17): width must stay fixed, not half-followed."""
    path = tmp_path / "rounds.yaml"
    path.write_text("params: {width: 32}\ninput: [3, 8, 8]\nlayers:\n"
                    "  - {type: conv2d, out_channels: '${width // 2}', kernel_size: 1}\n"
                    "  - {type: conv2d, out_channels: '${width}', kernel_size: 1}\n")
    _, _, source = export(path, tmp_path, capsys)
    assert "# width stays 32 here: it changes out_channels of layer 'conv2d_1' other " \
        "than linearly." in source
    assert "def __init__(self):" in source


def test_netcalcs_own_modules_keep_their_line_breaks_in_the_exported_file():
    """Their source sits in strings, where a backslash continuation joins two lines into
    one long one (`... if causal                 else ...`): a newcomer saw it."""
    from netcalc.torch_bridge.build import OWN_MODULES
    for name, source in OWN_MODULES.items():
        for line in source.splitlines():
            assert not re.search(r"\S {8,}\S", line.split("#")[0]), (name, line)


@pytest.mark.parametrize("name", ["self", "nn", "range", "super"])
def test_a_param_named_like_what_the_exported_code_uses_stays_a_value(name, tmp_path, capsys):
    """`def __init__(self, self=8)` is no Python, and a parameter `nn` hides torch.nn."""
    path = tmp_path / "named.yaml"
    path.write_text(f"params: {{{name}: 8}}\ninput: [4]\nlayers:\n"
                    f"  - {{type: linear, out_features: '${{{name}}}'}}\n")
    model, _, source = export(path, tmp_path, capsys)
    assert f"# {name} stays 8 here: the exported code uses that name itself." in source
    assert model.linear_1.out_features == 8
