"""Python specs: the same networks, numbers and located errors as YAML specs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import PUBLISHED, ROOT, SPECS, run_cli, summarize
from netcalc.errors import SpecError, UsageError
from netcalc.spec import load_spec, parse_spec

HEADER = "from netcalc import Network\n\nnet = Network('tiny', input=[3, 8, 8])\n"


def write(tmp_path, source: str, name: str = "model.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def summary_json(capsys, path: str, *options: str) -> dict:
    code, out, err = run_cli(capsys, "summary", path, "--format", "json", *options)
    assert code == 0, err
    return json.loads(out)


# -- the same networks and numbers ---------------------------------------------------

def test_the_resnet18_twin_equals_the_yaml_spec(capsys):
    twin = summary_json(capsys, str(SPECS / "python" / "resnet18.py"))
    yaml = summary_json(capsys, str(SPECS / "resnet18.yaml"))
    assert twin.pop("file") == str(SPECS / "python" / "resnet18.py")
    yaml.pop("file")
    assert twin == yaml
    totals = twin["totals"]
    assert (totals["params"], totals["macs"]) == PUBLISHED["resnet18"] \
        == (11_689_512, 1_814_073_344)
    layers = {layer["name"]: layer for layer in twin["layers"]}
    assert layers["layer2.0.downsample.0"]["output_shape"] == [1, 128, 28, 28]
    assert layers["layer2.0.downsample.0"]["params"] == 8_192
    assert layers["layer2.0.add"]["inputs"] == ["layer2.0.bn2", "layer2.0.downsample.1"]
    assert layers["layer1.0.add"]["inputs"] == ["layer1.0.bn2", "maxpool"]
    assert layers["fc"]["output_shape"] == [1, 1000]
    blocks = {block["name"]: (block["type"], block["kind"], block["copies"], block["depth"])
              for block in twin["blocks"]}
    assert blocks["layer1"] == ("basic_block", "repeat", 2, 0)
    assert blocks["layer2.0"] == ("basic_block", "block", 0, 1)
    assert blocks["layer2.0.downsample"] == ("projection", "block", 0, 2)
    assert "layer1.0.downsample" not in blocks


def test_lenet5():
    summary = summarize(SPECS / "python" / "lenet5.py")
    assert summary.name == "lenet5"
    assert (summary.totals.params, summary.totals.macs) == (61_706, 416_520)
    assert [(layer.name, layer.output_shape) for layer in summary.layers if layer.params] == [
        ("conv1", (1, 6, 28, 28)), ("conv2", (1, 16, 10, 10)), ("fc1", (1, 120)),
        ("fc2", (1, 84)), ("fc3", (1, 10))]


@pytest.mark.torch
def test_lenet5_equals_its_torch_model():
    from torch import nn

    from torch_measure import measure_model

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.tanh1, self.pool1 = nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2)
            self.conv2, self.tanh2, self.pool2 = nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2)
            self.flatten = nn.Flatten()
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool1(self.tanh1(self.conv1(x)))
            x = self.flatten(self.pool2(self.tanh2(self.conv2(x))))
            return self.fc3(self.fc2(self.fc1(x).tanh()).tanh())

    torch_figures = measure_model(LeNet5(), (1, 1, 32, 32))
    ours = summarize(SPECS / "python" / "lenet5.py")
    assert (ours.totals.params, ours.totals.macs) == (torch_figures.params, torch_figures.macs)
    assert {layer.name: (layer.output_shape, layer.params, layer.macs)
            for layer in ours.layers if layer.params} == torch_figures.layers


def test_the_same_network_as_yaml_with_inputs_groups_and_trainable(tmp_path):
    python = load_spec(write(tmp_path, """
        from netcalc import Network

        net = Network("mixer", inputs={"image": [3, 8, 8], "tokens": {"shape": [16], "dtype": "int64"}})
        tokens = net.embedding("emb", inputs="tokens", num_embeddings=100, embedding_dim=8)
        net.conv2d("conv", inputs=net.inputs["image"], out_channels=4, kernel_size=3, trainable=False)
        with net.repeat("stack"):
            for _ in range(2):
                net.relu()
        with net.block("mix", type="mixer_block", inputs={"x": "stack", "t": tokens}, trainable=False):
            net.flatten("f", inputs="x")
            net.linear("g", inputs="t", out_features=4)
        net.concat("cat", inputs=["mix.f", "mix"], dim=1)
    """))
    yaml = parse_spec(textwrap.dedent("""
        name: mixer
        inputs: {image: [3, 8, 8], tokens: {shape: [16], dtype: int64}}
        blocks:
          mixer_block:
            inputs: [x, t]
            layers:
              - {type: flatten, name: f, inputs: [x]}
              - {type: linear, name: g, inputs: [t], out_features: 4}
        layers:
          - {type: embedding, name: emb, inputs: [tokens], num_embeddings: 100, embedding_dim: 8}
          - {type: conv2d, name: conv, inputs: [image], out_channels: 4, kernel_size: 3, trainable: false}
          - {type: relu, name: stack, repeat: 2}
          - {type: mixer_block, name: mix, inputs: [stack, emb], trainable: false}
          - {type: concat, name: cat, inputs: [mix.f, mix], dim: 1}
    """), "model.yaml")

    def shape_of(spec):
        return ([(i.name, i.shape, i.dtype) for i in spec.inputs],
                [(s.name, s.inputs, s.layer, s.depth, s.trainable) for s in spec.layers],
                [(g.name, g.type_name, g.kind, g.depth, g.first, g.end, g.output, g.copies)
                 for g in spec.groups])

    assert shape_of(python) == shape_of(yaml)
    assert [layer.name for layer in python.layers] == [
        "emb", "conv", "stack.0", "stack.1", "mix.f", "mix.g", "cat"]
    assert python.layers[-1].inputs == ("mix.f", "mix.g")


def test_groups_fold_with_depth(capsys):
    path = str(SPECS / "python" / "resnet18.py")
    code, out, _ = run_cli(capsys, "summary", path, "--depth", "1")
    assert code == 0
    assert "layer2 …" in out and "basic_block ×2" in out
    assert "layer2.0" not in out
    code, out, _ = run_cli(capsys, "summary", path, "--depth", "2")
    assert "layer2.0 …" in out and "layer2.0.conv1" not in out


def test_names_outputs_and_a_repeat_of_mixed_types(tmp_path):
    spec = load_spec(write(tmp_path, HEADER + textwrap.dedent("""
        first = net.relu()
        with net.repeat("features") as features:
            net.conv2d(out_channels=4, kernel_size=1)
            net.relu()
            with net.block(type="pair") as pair:
                net.relu()
                net.relu()
        net.add(inputs=[first, features])
        net.mul(inputs=[pair, pair.input])
    """)))
    assert [layer.name for layer in spec.layers] == [
        "relu_1", "features.0", "features.1", "features.2.relu_1", "features.2.relu_2",
        "add_1", "mul_1"]
    assert spec.layers[-2].inputs == ("relu_1", "features.2.relu_2")
    assert spec.layers[-1].inputs == ("features.2.relu_2", "features.1")
    features = spec.groups[0]
    assert (features.name, features.type_name, features.kind, features.copies) == (
        "features", "sequential", "repeat", 3)


def test_the_files_own_folder_is_importable_and_main_does_not_run(tmp_path):
    write(tmp_path, "def stem(net):\n    net.conv2d('stem', out_channels=8, kernel_size=3)\n",
          "shared_layers.py")
    path = write(tmp_path, HEADER + textwrap.dedent("""
        from shared_layers import stem
        stem(net)
        if __name__ == "__main__":
            raise SystemExit("the spec's own main ran")
    """))
    spec = load_spec(path)
    assert spec.file == path
    assert [(layer.name, layer.loc.file) for layer in spec.layers] == [
        ("stem", str(tmp_path / "shared_layers.py"))]
    assert str(tmp_path) not in sys.path       # the folder is importable only while it runs


def test_several_networks_one_chosen(tmp_path):
    path = write(tmp_path, """
        from netcalc import Network

        def build(name, width):
            net = Network(name, input=[width])
            net.linear("fc", out_features=width)
            return net

        small, large = build("small", 8), build("large", 64)
        network = large
    """)
    assert load_spec(path).name == "large"


def test_loading_a_python_spec_imports_no_torch():
    code = ("import sys; import netcalc; assert 'netcalc.spec' not in sys.modules; "
            "from netcalc.spec import load_spec; "
            "spec = load_spec('specs/python/resnet18.py'); "
            "print(len(spec.layers), 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["69", "False"], result.stderr


# -- the same errors, located in the Python file ---------------------------------------

ERRORS = {
    "shape": (HEADER + "net.conv2d('conv1', out_channels=4, kernel_size=3)\n"
              "net.conv2d('conv2', out_channels=4, kernel_size=11)\n",
              "5:1: error: layer 'conv2' (conv2d): kernel 11 is larger than the padded input 6 "
              "(6 + 2·0)"),
    "argument": (HEADER + "net.layer('conv2d', name='conv2', out_channels=4, kernel_sise=3)\n",
                 "4:1: error: layer 'conv2' (conv2d): conv2d has no argument 'kernel_sise'; did "
                 "you mean 'kernel_size'? (it takes: out_channels, kernel_size, stride, padding, "
                 "dilation, groups, bias, padding_mode, in_channels; and every layer takes name, "
                 "inputs, trainable, tie_weight)"),
    "type": (HEADER + "x = 1\nnet.layer('conv', out_channels=4)\n",
             "5:1: error: unknown layer type 'conv'; did you mean 'conv1d', 'conv2d' or 'conv3d'? "
             "(`netcalc layers` lists them)"),
    "method": (HEADER + "net.dense(out_features=4)\n",
               "4:1: error: AttributeError: Network has no method or layer type 'dense'; torch "
               "calls it 'linear'"),
    "reference": (HEADER + "net.relu('r')\nnet.add('sum', inputs=['r', 'rr'])\n",
                  "5:1: error: layer 'sum' (add): unknown layer 'rr' in `inputs`; did you mean "
                  "'r'?"),
    "duplicate": (HEADER + "net.relu('r')\nnet.relu('r')\n",
                  "5:1: error: duplicate layer name 'r' (first defined at {file}:4:1)"),
    "zero division": (HEADER + "\nwidth = 64 // 0\n",
                      "5:9: error: ZeroDivisionError: integer division or modulo by zero"),
    "name error": (HEADER + "net.linear(out_features=num_classes)\n",
                   "4:25: error: NameError: name 'num_classes' is not defined"),
    "syntax": (HEADER + "net.relu(\n", "4:9: error: SyntaxError: '(' was never closed"),
    "no network": ("import math\n",
                   "1:1: error: this file builds no network: create one with `net = "
                   "Network(\"name\", input=[3, 224, 224])` (from netcalc import Network)"),
    "no layers": (HEADER, "3:7: error: network 'tiny' has no layers"),
    "not closed": (HEADER + "net.block('b', type='pair')\nnet.relu()\n",
                   "4:1: error: 'b' is never closed: write `with net.block(...):`"),
    "empty block": (HEADER + "with net.block('b', type='pair'):\n    pass\n",
                    "4:6: error: block 'b' has no layers"),
    "input shape": ("from netcalc import Network\nnet = Network('t', input=[3, 0])\n",
                    "2:7: error: input: size 0 must be at least 1"),
    "exit": (HEADER + "raise SystemExit(3)\n", "4:1: error: SystemExit: 3"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_located_in_the_python_file(case, tmp_path, capsys):
    source, expected = ERRORS[case]
    path = write(tmp_path, source)
    code, out, err = run_cli(capsys, "summary", path)
    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == f"{path}:{expected.format(file=path)}"
    assert "Traceback" not in err


def test_an_error_inside_a_block_notes_where_the_block_is(tmp_path, capsys):
    path = write(tmp_path, HEADER + textwrap.dedent("""
        def pair(net, kernel_size):
            with net.block(type="pair"):
                net.conv2d("conv", out_channels=4, kernel_size=kernel_size)
                net.relu("relu")

        with net.repeat("stage"):
            pair(net, 3)
            pair(net, 7)
    """))
    code, _, err = run_cli(capsys, "summary", path)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:7:9: error: layer 'stage.1.conv' (conv2d): kernel 7 is larger than the padded "
        "input 6 (6 + 2·0)",
        f"{path}:6:10: note: in block 'pair', used here as 'stage.1'"]


def test_an_exception_raised_elsewhere_notes_where(tmp_path, capsys):
    helper = write(tmp_path, "def width():\n    return {}['width']\n", "settings.py")
    path = write(tmp_path, HEADER + "from settings import width\nnet.linear(out_features=width())\n")
    code, _, err = run_cli(capsys, "summary", path)
    assert code == 1
    assert err.splitlines() == [f"{path}:5:25: error: KeyError: 'width'",
                                f"{helper}:2:12: note: raised here"]


def test_several_networks_without_a_choice(tmp_path, capsys):
    path = write(tmp_path, """
        from netcalc import Network
        a = Network("a", input=[4]); a.relu()
        b = Network("b", input=[4]); b.relu()
    """)
    code, _, err = run_cli(capsys, "summary", path)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1:1: error: this file builds 2 networks: say which to analyze with "
        "`network = ...` at its top level",
        f"{path}:3:5: note: network 'a' is created here",
        f"{path}:4:5: note: network 'b' is created here"]


def test_the_same_mistake_reads_the_same_in_yaml(tmp_path):
    python = write(tmp_path, HEADER + "net.maxpool2d('pool', kernel_size=2, stride=0)\n")
    yaml = write(tmp_path, "input: [3, 8, 8]\nlayers:\n  - {type: maxpool2d, name: pool, "
                 "kernel_size: 2, stride: 0}\n", "model.yaml")
    messages = []
    for path in (python, yaml):
        with pytest.raises(SpecError) as caught:
            load_spec(path)
        messages.append(caught.value.message)
    assert messages[0] == messages[1] == "layer 'pool' (maxpool2d): stride=[0, 0] must be at least 1"


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(UsageError, match="no such spec file"):
        load_spec(tmp_path / "missing.py")
    code, _, err = run_cli(capsys, "summary", str(tmp_path / "missing.py"))
    assert code == 2 and "no such spec file" in err


def test_a_bug_in_netcalc_is_not_blamed_on_the_spec(tmp_path, monkeypatch):
    from netcalc.spec import pyspec

    monkeypatch.setattr(pyspec, "located", None)     # netcalc's own code fails
    with pytest.raises(TypeError, match="'NoneType' object is not callable"):
        load_spec(write(tmp_path, HEADER))


def test_chunk_returns_its_pieces_and_the_next_layer_must_choose(tmp_path, capsys):
    path = write(tmp_path, """
        from netcalc import Network

        net = Network("pieces", input=[8, 4, 4])
        left, right = net.layer("chunk", "halves", chunks=2, dim=1)
        branch = net.layer("conv2d", "branch", inputs=[right], out_channels=4, kernel_size=1)
        net.layer("concat", "joined", inputs=[left, branch], dim=1)
        """)
    data = summary_json(capsys, path)
    assert [(layer["name"], layer["output_shape"]) for layer in data["layers"]] == [
        ("halves.0", [1, 4, 4, 4]), ("halves.1", [1, 4, 4, 4]), ("branch", [1, 4, 4, 4]),
        ("joined", [1, 8, 4, 4])]

    bad = write(tmp_path, """
        from netcalc import Network

        net = Network("pieces", input=[8, 4, 4])
        net.layer("chunk", chunks=2, dim=1)
        net.layer("relu")
        """, "bad.py")
    code, _, err = run_cli(capsys, "summary", bad)
    assert code == 1
    assert err.startswith(f"{bad}:6:1: error: layer 'relu_1' (relu): the layer before gives 2 "
                          "outputs")


def test_pieces_may_be_named_by_a_list(tmp_path, capsys):
    path = write(tmp_path, """
        from netcalc import Network

        net = Network("named", input=[8, 4])
        left, right = net.layer("split", ["left", "right"], split_size_or_sections=4, dim=1)
        net.layer("add", inputs=[left, right])
        """)
    data = summary_json(capsys, path)
    assert [(layer["name"], layer["output_shape"]) for layer in data["layers"]] == [
        ("left", [1, 4, 4]), ("right", [1, 4, 4]), ("add_1", [1, 4, 4])]
