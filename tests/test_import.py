"""`netcalc import`: torch modules traced with torch.fx, written as specs, and back."""

from __future__ import annotations

import json

import pytest

from helpers import PUBLISHED, ROOT, run_cli
from netcalc.analyze import analyze
from netcalc.spec import parse_spec
from torch_measure import measure_model

MODELS = "tests/reference_models.py"
IMPORT_MODELS = "tests/import_models.py"


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def import_yaml(capsys, target, *options) -> str:
    code, out, err = run_cli(capsys, "import", target, *options)
    assert code == 0, err
    return out


def test_resnet18_round_trips_torch_to_spec_to_torch(tmp_path, capsys):
    """torch → spec: the summary equals torch's figures; spec → torch: the same again."""
    import reference_models

    text = import_yaml(capsys, f"{MODELS}:resnet18", "--input", "3x224x224")
    spec_file = tmp_path / "resnet18.yaml"
    spec_file.write_text(text)
    summary = analyze(parse_spec(text, str(spec_file)))
    torch_figures = measure_model(reference_models.resnet18(), (1, 3, 224, 224))
    assert (summary.totals.params, summary.totals.macs) == PUBLISHED["resnet18"]
    assert (torch_figures.params, torch_figures.macs) == PUBLISHED["resnet18"]
    # every parametric module: same qualified name, shape, params and MACs
    layers = {layer.name: layer for layer in summary.layers}
    for name, (shape, params, macs) in torch_figures.layers.items():
        assert (layers[name].output_shape, layers[name].params, layers[name].macs) == \
            (shape, params, macs), name
    # blocks built alike are written once, with the channels as a parameter
    assert "  BasicBlock:\n    params: {out_channels: 64}\n" in text
    assert "- {type: BasicBlock, name: layer1, out_channels: 64, repeat: 2}" in text
    assert "- {type: add, name: add, inputs: [bn2, input]}" in text

    exported = tmp_path / "resnet18_model.py"
    code, _, err = run_cli(capsys, "export", str(spec_file), "-o", str(exported))
    assert code == 0, err
    namespace: dict = {}
    exec(compile(exported.read_text(), str(exported), "exec"), namespace)
    again = measure_model(namespace["Resnet18"](), (1, 3, 224, 224))
    assert (again.params, again.macs, again.layers) == \
        (torch_figures.params, torch_figures.macs, torch_figures.layers)


@pytest.mark.parametrize("target,shape,published", [
    (f"{MODELS}:TorchvisionAlexNet", "3x224x224", PUBLISHED["alexnet"]),
    (f"{MODELS}:TorchvisionVGG", "3x224x224", PUBLISHED["vgg16"]),
    (f"{MODELS}:resnet50", "3x224x224", PUBLISHED["resnet50"]),
])
def test_imported_torchvision_models_give_the_published_figures(target, shape, published,
                                                                 capsys):
    text = import_yaml(capsys, target, "--input", shape)
    totals = analyze(parse_spec(text)).totals
    assert (totals.params, totals.macs) == published


def test_summary_of_a_torch_module_goes_through_import(capsys):
    code, out, _ = run_cli(capsys, "summary", f"{MODELS}:resnet18", "--input", "3x224x224",
                           "--format", "json")
    result = json.loads(out)
    assert code == 0
    assert (result["totals"]["params"], result["totals"]["macs"]) == PUBLISHED["resnet18"]
    assert result["layers"][4]["name"] == "layer1.0.conv1"


def test_functional_calls_become_layers(capsys):
    import import_models

    text = import_yaml(capsys, f"{IMPORT_MODELS}:Branchy", "--input", "3x16x16",
                       "--kwargs", '{"num_classes": 7}')
    for line in ["- {type: relu, name: relu}",
                 "- {type: Sequential, name: right, inputs: [input]}",
                 "- {type: concat, name: concat, dim: 1, inputs: [relu, right]}",
                 "- {type: maxpool2d, name: maxpool2d, kernel_size: 3, stride: 1, padding: 1}",
                 "- {type: add, name: add, inputs: [act, maxpool2d]}",
                 "- {type: relu, name: act_1}",
                 "- {type: adaptiveavgpool2d, name: adaptiveavgpool2d, output_size: 4}",
                 "- {type: view, name: view, shape: [-1, 256]}",
                 "- {type: dropout, name: dropout, p: 0.2}",
                 "- {type: linear, name: head, out_features: 7}"]:
        assert line in text, line
    summary = analyze(parse_spec(text), batch=3)        # -1 keeps any batch
    torch_figures = measure_model(import_models.Branchy(7), (3, 3, 16, 16))
    assert (summary.totals.params, summary.totals.macs) == \
        (torch_figures.params, torch_figures.macs)
    assert summary.outputs == {"head": (3, 7)}


def test_an_embedding_makes_the_input_int64(capsys):
    text = import_yaml(capsys, f"{IMPORT_MODELS}:Tokens", "--input", "12")
    assert "inputs:\n  input: {shape: [12], dtype: int64}" in text
    assert "- {type: permute, name: permute, dims: [0, 2, 1]}" in text
    assert "- {type: mean, name: mean, dim: [1]}" in text
    summary = analyze(parse_spec(text))
    assert summary.outputs == {"out": (1, 4)}
    assert summary.totals.params == 100 * 32 + 32 * 16 * 3 + 16 + 16 * 4 + 4


@pytest.mark.parametrize("target,message,line", [
    # torch.fx refuses it, and so does the capture torch.export makes then
    ("DataDependent", "DataDependent branches on a tensor's values here, which a capture on "
                      "fake inputs (x [1, 4] float32) cannot know", 51),
    ("SharedWeights", "graph node 'fc_1' (module fc) calls 'fc' a second time: its weights "
                      "are shared", 71),
    ("Recurrent", "graph node 'rnn' (module rnn) calls torch.nn.GRUCell ('rnn'), which "
                  "netcalc has no layer type for", 80),
    ("SharedNormWeight", "graph node 'layer_norm_1' (F.layer_norm) uses the parameter 'w' a "
                         "second time: its weights are shared", 216),
])
def test_what_cannot_be_mapped_is_refused_at_its_source_line(target, message, line, capsys):
    code, out, err = run_cli(capsys, "import", f"{IMPORT_MODELS}:{target}", "--input", "4")
    assert (code, out) == (1, "")
    assert err.startswith(f"{IMPORT_MODELS}:{line}:"), err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("args,code,message", [
    (["tests/nowhere.py:Net", "--input", "4"], 2, "no such file: tests/nowhere.py"),
    ([f"{IMPORT_MODELS}:Branch", "--input", "4"], 2, "has no 'Branch'; did you mean 'Branchy'"),
    ([f"{IMPORT_MODELS}:broken_factory", "--input", "4"], 1,
     "broken_factory(**{}) raised ValueError: no such depth"),
    ([f"{IMPORT_MODELS}:Branchy", "--input", "3x16x16", "--kwargs", "{num_classes: 7}"], 2,
     "--kwargs is not JSON"),
    ([f"{IMPORT_MODELS}:Branchy", "--input", "5x16x16"], 1,
     "tests/import_models.py:22:31: error: torch cannot run Branchy on fake inputs "
     "(x [1, 5, 16, 16] float32): RuntimeError: Given groups=1, weight of size [8, 3, 3, 3]"),
    (["specs/alexnet.yaml", "--input", "4"], 2, "name the module as path/to/file.py:ClassName"),
])
def test_bad_targets_say_what_is_wrong(args, code, message, capsys):
    got, out, err = run_cli(capsys, "import", *args)
    assert (got, out) == (code, "")
    assert message in err and "Traceback" not in err


def test_import_writes_the_file_atomically(tmp_path, capsys):
    target = tmp_path / "alexnet.yaml"
    code, out, _ = run_cli(capsys, "import", f"{MODELS}:TorchvisionAlexNet", "--input",
                           "3x224x224", "-o", str(target))
    assert (code, out) == (0, "")
    assert analyze(parse_spec(target.read_text())).totals.params == PUBLISHED["alexnet"][0]


def test_awkward_names_and_wiring_survive_the_round_trip(tmp_path, capsys):
    import import_models

    text = import_yaml(capsys, f"{IMPORT_MODELS}:Awkward", "--input", "4x8x8")
    # block inputs never take a child's name; a dropped result is read by its path
    assert "  Fuse:\n    inputs: [x2, x3]\n" in text
    assert "- {type: conv2d, name: x1, out_channels: 4, kernel_size: 1, inputs: [x2]}" in text
    assert '- {type: conv2d, name: "on", out_channels: 4, kernel_size: 3, padding: 1, ' \
           "trainable: false}" in text
    # relu's second call (relu_1 is a module's name) reads the probe's kept result
    assert "- {type: relu, name: relu_2, inputs: [probe.conv]}" in text
    summary = analyze(parse_spec(text))
    torch_figures = measure_model(import_models.Awkward(), (1, 4, 8, 8))
    assert (summary.totals.params, summary.totals.macs) == \
        (torch_figures.params, torch_figures.macs)
    assert summary.totals.trainable_params == summary.totals.params - (4 * 4 * 9 + 4)
    # and export writes it back as torch, wired the same
    spec_file = tmp_path / "awkward.yaml"
    spec_file.write_text(text)
    code, out, _ = run_cli(capsys, "verify", str(spec_file), "--runs", "0")
    assert code == 0, out
    exported = tmp_path / "awkward_model.py"
    run_cli(capsys, "export", str(spec_file), "-o", str(exported))
    namespace: dict = {}
    exec(compile(exported.read_text(), str(exported), "exec"), namespace)
    again = measure_model(namespace["Awkward"](), (1, 4, 8, 8))
    # the probe's dropped result is an output to netcalc (nothing reads it), so the
    # exported forward returns it too, before `y`
    assert (again.params, again.macs, again.output_shape) == \
        (torch_figures.params, torch_figures.macs, ((1, 8, 8, 8), torch_figures.output_shape))
    assert "self.probe = nn.Module()\n        self.probe.conv = nn.Conv2d(" in \
        exported.read_text()


def test_a_number_computed_from_a_shape_is_the_capture_s_number(capsys):
    # torch.fx cannot write x * x.size(1) for any input; the capture, made at this input,
    # reads it as the number it is there (the scale changes no shape, parameter or MAC)
    code, out, _ = run_cli(capsys, "import", f"{IMPORT_MODELS}:ScaleBySize", "--input", "4")
    assert code == 0
    assert "(torch.export, at batch 1)" in out
    assert "{type: scalar, name: mul, op: mul, other: 4, inputs: [x]}" in out


def test_contiguous_after_a_transpose_lets_a_view_follow(capsys):
    import import_models

    text = import_yaml(capsys, f"{IMPORT_MODELS}:Transposed", "--input", "3x4x4")
    assert "- {type: contiguous, name: contiguous}\n  - {type: view, name: view, " \
           "shape: [-1, 64]}" in text
    summary = analyze(parse_spec(text), batch=2)
    torch_figures = measure_model(import_models.Transposed(), (2, 3, 4, 4))
    assert (summary.totals.params, summary.totals.macs) == \
        (torch_figures.params, torch_figures.macs)
    # the copy is new memory: the transposed view was not
    layers = {layer.name: layer for layer in summary.layers}
    assert (layers["transpose"].activation_bytes, layers["contiguous"].activation_bytes) == \
        (0, 2 * 64 * 4)


def test_a_module_forward_never_calls_is_named_in_a_warning(capsys):
    code, out, err = run_cli(capsys, "summary", f"{IMPORT_MODELS}:Unused", "--input", "4",
                             "--format", "json")
    # torch's parameters(): fc's 10 and extra's 10,100
    assert code == 0 and json.loads(out)["totals"]["params"] == 10 + 10_100
    assert "warning: layer 'extra' (Linear (never called)): forward never calls it: torch's " \
           "parameters() counts its 10,100 parameters, and so does this summary" in err
    assert json.loads(out)["warnings"][0]["layer"] == "extra"


@pytest.mark.parametrize("args,message", [
    ([f"{IMPORT_MODELS}:branchy", "--input", "4"], "has no 'branchy'; did you mean 'Branchy'?"),
    ([f"{MODELS}:TorchvisionResNet", "--input", "3x8x8"],
     "missing 2 required positional arguments: 'block' and 'layers' (give its arguments "
     "with --kwargs"),
    ([f"{MODELS}:resnet18", "--input", "3x8x8", "--input", "3x9x9"],
     "--input 3x8x8: name the argument of forward it is for, as --input x=3x8x8"),
])
def test_mistakes_in_naming_the_module_get_a_hint(args, message, capsys):
    code, _, err = run_cli(capsys, "import", *args)
    assert code in (1, 2) and message in err


def test_import_says_what_it_wrote(tmp_path, capsys):
    target = tmp_path / "r18.yaml"
    code, _, err = run_cli(capsys, "import", f"{MODELS}:resnet18", "--input", "3x224x224",
                           "-o", str(target))
    assert code == 0
    assert err == f"wrote {target}: 69 layers, 11,689,512 parameters, 1,814,073,344 MACs\n"


def test_names_yaml_or_python_would_misread_round_trip(tmp_path, capsys):
    import import_models

    text = import_yaml(capsys, f"{IMPORT_MODELS}:OddNames", "--input", "4x8x8")
    assert '\n  "On":\n' in text                    # not the boolean true
    assert "inputs:\n  input_input: [4, 8, 8]" in text       # `input` is a module's name
    summary = analyze(parse_spec(text))
    torch_figures = measure_model(import_models.OddNames(), (1, 4, 8, 8))
    assert (summary.totals.params, summary.totals.macs) == \
        (torch_figures.params, torch_figures.macs)
    assert [layer.name for layer in summary.layers][:3] == ["yes.lambda", "yes.eval",
                                                            "yes.parameters"]


def test_chunk_pieces_become_layers_and_the_shuffle_imports(tmp_path, capsys):
    import import_models

    text = import_yaml(capsys, f"{IMPORT_MODELS}:ShuffleUnit", "--input", "8x6x6")
    assert "- {type: chunk, name: chunk, chunks: 2, dim: 1, piece: 0}" in text
    assert "- {type: chunk, name: chunk_1, chunks: 2, dim: 1, piece: 1, inputs: [input]}" \
        in text
    assert "- {type: view, name: view, shape: [-1, 2, 4, 6, 6]}" in text
    summary = analyze(parse_spec(text), batch=2)
    torch_figures = measure_model(import_models.ShuffleUnit(), (2, 8, 6, 6))
    assert (summary.totals.params, summary.totals.macs, summary.outputs) == \
        (torch_figures.params, torch_figures.macs, {"view_1": torch_figures.output_shape})


# torchvision's models as the tests write them, imported in flat form: every layer in
# one list with its torch arguments and inputs, no blocks; each gives torchvision's figures
FLAT_IMPORTS = {
    "vit_b_16": "tests/reference_mobile.py:vit_b_16",
    "convnext_tiny": "tests/reference_mobile.py:ConvNeXtTiny",
    "googlenet": "tests/reference_cnns.py:GoogLeNet",
    "regnet_y_400mf": "tests/reference_cnns.py:regnet_y_400mf",   # modules named block1-0
}


@pytest.mark.parametrize("name", sorted(FLAT_IMPORTS))
def test_a_torchvision_model_imports_flat_with_its_figures(name, capsys):
    text = import_yaml(capsys, FLAT_IMPORTS[name], "--input", "3x224x224", "--flat")
    assert "blocks:" not in text
    layer_lines = [line for line in text.splitlines() if line.startswith("  - {")]
    assert all("inputs: [" in line for line in layer_lines[1:]
               if "type: parameter" not in line)      # a learned tensor reads none
    summary = analyze(parse_spec(text))
    assert not summary.blocks
    assert len(summary.layers) == len(layer_lines)
    assert (summary.totals.params, summary.totals.macs) == PUBLISHED[name]


def test_a_users_class_named_like_a_layer_type_is_traced_into(capsys):
    text = import_yaml(capsys, f"{IMPORT_MODELS}:WithConcat", "--input", "4")
    assert "- {type: concat, name: concat, dim: 1, inputs: [input, x1]}" in text
    assert "- {type: Concat_2, name: cat, inputs: [a, b]}" in text     # a block of its own
    summary = analyze(parse_spec(text))
    assert summary.outputs == {"cat.concat": (1, 8)}
    assert summary.totals.params == 4 * 3 + 3 + 4 * 5 + 5


def test_a_python_number_in_arithmetic_is_a_scalar_layer(capsys):
    code, out, _ = run_cli(capsys, "import", f"{IMPORT_MODELS}:Scaled", "--input", "4")
    assert code == 0
    assert "{type: scalar, name: scalar, op: mul, other: 0.5}" in out
