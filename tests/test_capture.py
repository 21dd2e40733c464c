"""`netcalc summary model.py:factory`: real torch models captured with torch.export.

Each model of capture_models.py is captured by netcalc (built on the meta device,
exported on fake tensors); the test builds the same model on the CPU for real, runs it
once under FlopCounterMode and checks that netcalc's parameters, buffers, MACs and
output shapes are torch's, in total and for every module torch counts.
"""

from __future__ import annotations

import json
import re

import pytest

from helpers import ROOT, run_cli
from netcalc.analyze import analyze

torch = pytest.importorskip("torch")

import capture_models  # noqa: E402 - after the skip: it imports torch
from torch_measure import returned_shapes  # noqa: E402 - likewise

MODELS = "tests/capture_models.py"


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


# -- torch's own figures ------------------------------------------------------------------

def _torch_inputs(values, batch: int, int_inputs=()) -> tuple[list, dict]:
    """Positional and keyword tensors for --input values: random floats, or token ids
    below 10 for int64 inputs and for the arguments named in `int_inputs` (which the test
    knows read an embedding; "" for an unnamed value)."""
    args, kwargs = [], {}
    for value in values:
        name, _, text = value.rpartition("=")
        shape_text, _, dtype = text.partition(":")
        shape = (batch, *(int(n) for n in shape_text.split("x")))
        if dtype == "int64" or name.endswith("_ids") or name in int_inputs:
            tensor = torch.randint(0, 10, shape)
        else:
            tensor = torch.randn(shape)
        if name:
            kwargs[name] = tensor
        else:
            args.append(tensor)
    return args, kwargs


def torch_figures(name: str, values, batch: int = 1, kwargs=None, int_inputs=()) -> dict:
    """The model built for real on the CPU and run once under FlopCounterMode (grad mode
    on, attention on torch's math path)."""
    from torch.utils.flop_counter import FlopCounterMode

    from netcalc.torch_bridge import countable_attention

    torch.manual_seed(0)
    model = getattr(capture_models, name)(**(kwargs or {})).eval()
    args, named = _torch_inputs(values, batch, int_inputs)
    counter = FlopCounterMode(display=False)
    with countable_attention(torch), counter:
        result = model(*args, **named)
    root = type(model).__name__
    modules = dict(model.named_modules())
    per_module = {}
    for key, counts in counter.get_flop_counts().items():
        path = key[len(root) + 1:] if key.startswith(root + ".") else None
        if path in modules:
            per_module[path] = sum(counts.values()) // 2
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": counter.get_total_flops() // 2,
        "outputs": returned_shapes(result),
        "module_macs": per_module,
        "model": model,
    }


# -- netcalc's ------------------------------------------------------------------------------

def netcalc_summary(name: str, values, batch: int = 1, kwargs=None):
    from netcalc.torch_bridge.capture import capture, to_spec

    captured = capture(f"{MODELS}:{name}", tuple(values), kwargs or {}, batch)
    spec, disagreements = to_spec(captured)
    return analyze(spec, batch=batch), disagreements


def module_figures(summary, modules: dict) -> dict:
    """netcalc's (MACs, params) for each module path of the model: a module that ran one op
    is a layer named by its path; one that ran several, a block per run (`f`, `f#2`); a
    module's second call is `f_1`."""
    figures: dict[str, list[int]] = {}
    rows = [(b.name.split("#")[0], b.macs, b.params) for b in summary.blocks]
    rows += [(layer.name, layer.macs, layer.params) for layer in summary.layers]
    for path, macs, params in rows:
        call = re.fullmatch(r"(.+)_\d+", path)
        if path not in modules and call and call.group(1) in modules:
            path = call.group(1)
        if path in modules:
            got = figures.setdefault(path, [0, 0])
            got[0] += macs
            got[1] += params
    return {path: tuple(v) for path, v in figures.items()}


CASES = [
    # name, --input values, batch, arguments the test knows are token ids
    ("ShapeFlow", ["3x16x16"], 1, ()),         # both `if`s taken
    ("ShapeFlow", ["3x8x8"], 1, ()),           # the pooling skipped
    ("ShapeFlow", ["3x16x16"], 3, ()),         # reshape(b, -1, h*w) at batch 3
    ("Attention", ["10x32"], 2, ()),
    ("Functional", ["4x6x20"], 2, ()),
    ("Subclasses", ["2x3x4x5"], 1, ()),
    ("KeywordDefaults", ["5x16"], 1, ()),                  # mask=None, causal=False
    ("KeywordDefaults", ["x=5x16", "mask=5x5"], 2, ()),    # the mask added
    ("DictOut", ["8"], 1, ()),
    ("TupleOut", ["3x10"], 2, ()),
    ("Interleaved", ["8"], 1, ()),
    ("Tied", ["input_ids=7"], 1, ()),
    ("Unused", ["6"], 1, ()),
    ("UnusedAtTop", ["6"], 1, ()),
    ("Tokens", ["16"], 1, ("",)),               # int64 found by netcalc's retry
    ("Tokens", ["tokens=16:int64"], 2, ()),
    ("TorchAttention", ["6x16"], 1, ()),
    ("Features", ["3x8x8"], 2, ()),
    ("tiny_llama", ["input_ids=12"], 1, ()),
]


@pytest.mark.parametrize("name,values,batch,int_inputs", [
    pytest.param(*case, id=f"{case[0]}-{'-'.join(case[1])}-b{case[2]}") for case in CASES])
def test_netcalc_matches_torch(name, values, batch, int_inputs):
    expected = torch_figures(name, values, batch, int_inputs=int_inputs)
    summary, disagreements = netcalc_summary(name, values, batch)
    assert disagreements == []
    got = {"params": summary.totals.params, "buffers": summary.totals.buffers,
           "macs": summary.totals.macs,
           "outputs": {key: tuple(shape) for key, shape in summary.outputs.items()}}
    assert got == {key: expected[key] for key in got}
    assert expected["macs"] > 0
    # every module torch counts: the same MACs; its parameters, unless shared with another
    model = expected["model"]
    modules = dict(model.named_modules())
    figures = module_figures(summary, modules)
    tied = len(list(model.named_parameters(remove_duplicate=False))) != \
        len(list(model.parameters()))
    for path, macs in expected["module_macs"].items():
        assert figures[path][0] == macs, path
    for path, (_, params) in figures.items():
        if not tied:
            assert params == sum(p.numel() for p in modules[path].parameters()), path


# -- what the cases above rely on, said outright --------------------------------------------

def test_outputs_are_named_as_forward_returns_them():
    assert netcalc_summary("DictOut", ["8"])[0].outputs == {"logits": (1, 3), "boxes": (1, 4)}
    assert netcalc_summary("TupleOut", ["3x10"])[0].outputs == {"0": (1, 5, 8), "1": (1, 2)}


def test_tied_weights_count_once_as_torch_parameters_does():
    model = capture_models.Tied()
    once = sum(p.numel() for p in model.parameters())
    twice = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert twice - once == 50 * 12
    summary, _ = netcalc_summary("Tied", ["input_ids=7"])
    assert summary.totals.params == once


@pytest.mark.parametrize("values", [["16"], ["tokens=16:int64"]])
def test_token_ids_are_int64(values):
    summary, _ = netcalc_summary("Tokens", values)
    assert summary.input_dtypes == {"tokens": "int64"}
    assert summary.inputs == {"tokens": (1, 16)}
    assert summary.totals.params == 40 * 10 + 10 * 3 + 3


def test_a_layer_never_called_is_counted_with_a_warning_naming_it():
    summary, _ = netcalc_summary("Unused", ["6"])
    assert summary.totals.params == sum(p.numel() for p in capture_models.Unused().parameters())
    warned = [w for w in summary.warnings if w.layer == "old_head"]
    assert len(warned) == 1 and "45 parameters" in warned[0].message


def test_an_unread_parameter_of_a_module_that_runs_is_named_in_a_warning():
    summary, _ = netcalc_summary("Unused", ["6"])
    assert any("spare_gain" in f"{w.layer} {w.message}" for w in summary.warnings)


def test_an_unread_parameter_of_the_model_itself_is_named_in_a_warning():
    summary, _ = netcalc_summary("UnusedAtTop", ["6"])
    assert summary.totals.params == 4 * 6 + 4 + 7
    [warning] = summary.warnings
    assert "spare" in f"{warning.layer} {warning.message}"
    assert "never called" not in warning.type and not warning.layer.startswith(".")


# -- names and blocks ----------------------------------------------------------------------------

def test_torch_layers_in_a_sequential_are_named_by_module_path():
    summary, _ = netcalc_summary("Features", ["3x8x8"])
    model = capture_models.Features()
    layers = {layer.name: layer for layer in summary.layers}
    for path, kind in [("features.0", "conv2d"), ("features.1", "batchnorm2d"),
                       ("features.2", "relu"), ("features.3", "conv2d"), ("head.fc", "linear")]:
        assert (layers[path].type, layers[path].family != "torch") == (kind, True), path
        module = model.get_submodule(path)
        assert layers[path].params == sum(p.numel() for p in module.parameters()), path
        assert layers[path].buffers == sum(b.numel() for b in module.buffers()), path
    assert layers["features.0"].output_shape == (1, 8, 8, 8)


def _block_children(summary, block: str) -> list[str]:
    """The names of the rows directly inside `block`, in order."""
    rows = list(summary.rows)
    start = next(i for i, row in enumerate(rows) if row.name == block and row.kind == "block")
    depth = rows[start].depth
    children = []
    for row in rows[start + 1:]:
        if row.depth <= depth:
            break
        if row.depth == depth + 1:
            children.append(row.name)
    return children


def test_a_module_running_several_ops_is_a_block_of_path_dot_op():
    summary, _ = netcalc_summary("Features", ["3x8x8"])
    blocks = {row.name: row for row in summary.blocks}
    assert (blocks["head"].type, blocks["features"].type) == ("Head", "Sequential")
    assert _block_children(summary, "head") == ["head.mean", "head.fc"]
    assert _block_children(summary, "features") == [f"features.{i}" for i in range(4)]

    summary, _ = netcalc_summary("Subclasses", ["2x3x4x5"])
    assert {row.name: row.type for row in summary.blocks} == {"norm": "BatchNormAct"}
    children = _block_children(summary, "norm")
    assert len(children) == 2 and all(c.startswith("norm.") for c in children)
    assert {layer.name: layer.type for layer in summary.layers}["conv"] == "conv3d"


def test_the_activation_of_a_batchnorm_subclass_is_netcalcs_relu():
    summary, _ = netcalc_summary("Subclasses", ["2x3x4x5"])
    types = {layer.name: layer.type for layer in summary.layers}
    assert [types[c] for c in _block_children(summary, "norm")] == ["batchnorm2d", "relu"]


def test_children_called_alternately_are_a_layer_per_call():
    summary, _ = netcalc_summary("Interleaved", ["8"])
    calls = [layer for layer in summary.layers if layer.name in ("f", "g", "f_1", "g_1")]
    assert [layer.name for layer in calls] == ["f", "g", "f_1", "g_1"]
    # each call of f: one linear's MACs; its weights counted once, at the first call
    f_calls = [layer for layer in calls if layer.name.startswith("f")]
    assert [layer.macs for layer in f_calls] == [8 * 8, 8 * 8]
    assert [layer.params for layer in f_calls] == [8 * 8 + 8, 0]


def test_a_module_list_run_one_member_at_a_time_needs_no_block():
    # res2net's `convs`: a ModuleList is never called itself, so its members are layers
    # in the order they ran, with the model's own ops between them
    summary, _ = netcalc_summary("InterleavedChildren", ["8"])
    assert summary.blocks == ()
    assert [layer.name for layer in summary.layers if layer.name.startswith("pair")] == \
        ["pair.0", "pair.1"]
    assert summary.totals.macs == 2 * 8 * 8


# -- the tiny Llama, generic ops and all ------------------------------------------------------------

def test_tiny_llama_is_exact_module_by_module():
    values = ["input_ids=12"]
    expected = torch_figures("tiny_llama", values, kwargs={"layers": 1})
    summary, disagreements = netcalc_summary("tiny_llama", values, kwargs={"layers": 1})
    assert disagreements == []
    assert (summary.totals.params, summary.totals.buffers, summary.totals.macs) == \
        (expected["params"], expected["buffers"], expected["macs"])
    figures = module_figures(summary, dict(expected["model"].named_modules()))
    for path in ("layers.0", "layers.0.self_attn", "layers.0.mlp", "layers.0.input_layernorm",
                 "norm", "lm_head"):
        model_module = expected["model"].get_submodule(path)
        assert figures[path] == (expected["module_macs"].get(path, 0),
                                 sum(p.numel() for p in model_module.parameters())), path
    # the attention: 2 matmuls of (12×8)·(8×12) and (12×12)·(12×8), for each of 4 heads
    sdpa = [layer for layer in summary.layers if "scaled_dot_product" in layer.name]
    assert [layer.macs for layer in sdpa] == [2 * 4 * 12 * 12 * 8]
    # RMSNorm's pow and rsqrt, rotary's neg: netcalc's scalar and pointwise layers; GQA's
    # repeat_interleave stays torch's (a generic op)
    types = {layer.type for layer in summary.layers}
    assert {"scalar", "pointwise"} <= types
    generic = {layer.type for layer in summary.layers if layer.family == "torch"}
    assert "aten.repeat_interleave.self_int" in generic


# -- the command line ---------------------------------------------------------------------------------

def test_summary_of_a_model_file_as_json(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:Attention", "--input", "10x32",
                             "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    expected = torch_figures("Attention", ["10x32"])
    assert (result["totals"]["params"], result["totals"]["macs"]) == \
        (expected["params"], expected["macs"])


def test_summary_takes_factory_kwargs(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:tiny_llama", "--input",
                             "input_ids=12", "--kwargs", '{"layers": 1}', "--format", "json")
    assert code == 0, err
    expected = torch_figures("tiny_llama", ["input_ids=12"], kwargs={"layers": 1})
    totals = json.loads(out)["totals"]
    assert (totals["params"], totals["macs"]) == (expected["params"], expected["macs"])


def test_verify_of_a_model_file_passes(capsys):
    code, out, err = run_cli(capsys, "verify", f"{MODELS}:Features", "--input", "3x8x8",
                             "--device", "cpu")
    assert code == 0, out + err
    assert re.search(r"all .* match torch", out), out


def _marked_line(marker: str) -> int:
    lines = (ROOT / MODELS).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def test_data_dependent_control_flow_is_an_error_at_its_line(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:DataDependent", "--input", "4")
    assert (code, out) == (1, "")
    line = _marked_line("# DATA-DEPENDENT")
    assert re.search(rf"^{re.escape(MODELS)}:{line}:\d+: error: .*branches on a tensor's values", err,
                     re.MULTILINE), err
    assert "Traceback" not in err


def test_data_dependent_control_flow_error_is_all_stderr_says(capsys):
    code, _, err = run_cli(capsys, "summary", f"{MODELS}:DataDependent", "--input", "4")
    assert code == 1
    assert err.startswith(f"{MODELS}:{_marked_line('# DATA-DEPENDENT')}:"), err
    assert len(err.strip().splitlines()) == 1, err


def test_missing_input_names_forwards_argument(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:Tokens")
    assert (code, out) == (2, "")
    assert "tokens" in err and "--input" in err and "Traceback" not in err


def test_an_input_forward_does_not_take_is_a_usage_error(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:KeywordDefaults", "--input",
                             "nope=3")
    assert (code, out) == (2, "")
    assert "nope" in err and "Traceback" not in err


def test_an_image_input_follows_the_dtype_and_verify_runs_in_bfloat16(capsys):
    # the input is the model's dtype, as torch needs it to be: 3·16·16 elements of 2 bytes
    code, out, _ = run_cli(capsys, "summary", f"{MODELS}:Features", "--input", "3x16x16",
                           "--dtype", "bfloat16", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["input_bytes"] == 3 * 16 * 16 * 2
    code, out, _ = run_cli(capsys, "verify", f"{MODELS}:Features", "--input", "3x16x16",
                           "--dtype", "bfloat16", "--device", "cpu", "--runs", "0")
    assert code == 0 and "match torch" in out


def test_parameters_read_as_tensors_and_pieces_are_netcalcs_own_layers(tmp_path, capsys):
    for batch in (1, 3):
        expected = torch_figures("TokensAndPieces", ["4x6"], batch)
        summary, disagreements = netcalc_summary("TokensAndPieces", ["4x6"], batch)
        assert disagreements == []
        assert (summary.totals.params, summary.totals.macs) == \
            (expected["params"], expected["macs"])
        assert {k: tuple(v) for k, v in summary.outputs.items()} == expected["outputs"]
    by_name = {layer.name: layer for layer in summary.layers}
    assert by_name["cls_token"].type == "parameter" and by_name["pos_embed"].type == "parameter"
    assert [layer.family for layer in summary.layers if layer.family == "torch"] == []
    types = {layer.type for layer in summary.layers}
    assert {"narrow", "reshape", "matmul", "constantpad2d", "expand", "concat"} <= types
    # every op has a layer type: import writes a spec that works without torch, at any batch
    spec = tmp_path / "tokens.yaml"
    code, _, _ = run_cli(capsys, "import", f"{MODELS}:TokensAndPieces", "--input", "4x6",
                         "-o", str(spec))
    assert code == 0
    code, out, _ = run_cli(capsys, "summary", str(spec), "--batch", "3", "--format", "json")
    assert code == 0
    assert json.loads(out)["totals"]["macs"] == torch_figures("TokensAndPieces", ["4x6"],
                                                               3)["macs"]


def test_a_reused_module_frozen_weights_and_integer_buffers_as_torch_has_them(capsys):
    summary, disagreements = netcalc_summary("ReusedAndFrozen", ["8"])
    model = capture_models.ReusedAndFrozen()
    assert disagreements == []
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.trainable_params == \
        sum(p.numel() for p in model.parameters() if p.requires_grad)
    # the positions are int64 whatever --dtype: 8 bytes each
    assert summary.totals.buffer_bytes == 8 * 8
    # verify checks the modules called once; the one called twice is two rows here and one
    # count of torch's, and the one never called has nothing of torch's to compare
    code, out, _ = run_cli(capsys, "verify", f"{MODELS}:ReusedAndFrozen", "--input", "8",
                           "--runs", "0", "--device", "cpu")
    assert code == 0 and "match torch" in out


def test_only_the_input_an_embedding_reads_becomes_token_ids(capsys):
    code, out, _ = run_cli(capsys, "summary", f"{MODELS}:TokensAndFeatures", "--input",
                           "tokens=5", "--input", "features=4", "--format", "json")
    assert code == 0
    assert json.loads(out)["input_dtypes"] == {"tokens": "int64", "features": "float32"}
    code, out, _ = run_cli(capsys, "verify", f"{MODELS}:TokensAndFeatures", "--input",
                           "tokens=5", "--input", "features=4", "--runs", "0")
    assert code == 0


def test_a_shape_from_values_is_an_error_at_its_line(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:NonZero", "--input", "8")
    line = capture_models.NonZero.forward.__code__.co_firstlineno + 1
    assert (code, out) == (1, "")
    assert err.startswith(f"{MODELS}:{line}:1: error: NonZero computes a shape from a "
                          "tensor's values here")


def test_import_at_a_batch_above_one(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "import", f"{MODELS}:TokensAndPieces", "--input", "4x6",
                           "--batch", "2")
    assert code == 0 and "(torch.export, at batch 2)" in out


def test_gpt2s_addmm_with_its_own_weight_is_a_linear_layer():
    expected = torch_figures("Conv1D", ["5x6"], 2)
    summary, disagreements = netcalc_summary("Conv1D", ["5x6"], 2)
    assert disagreements == []
    assert (summary.totals.params, summary.totals.macs) == (6 * 9 + 9, expected["macs"])
    assert expected["macs"] == 2 * 5 * 6 * 9
    assert [layer.type for layer in summary.layers if layer.params] == ["linear"]


def test_the_readmes_own_model_matches_torch(capsys):
    # the model the README's "Your own model" shows: verify compares with torch's run
    code, out, _ = run_cli(capsys, "verify", "docs/examples/my_model.py:build", "--input",
                           "3x32x32", "--runs", "0")
    assert code == 0 and "MACs     35,045,536 ✓" in out


def test_a_grouped_matmul_is_counted_and_said_so(capsys):
    """FlopCounterMode counts aten._grouped_mm as 0; netcalc counts its products, as many
    as a loop of one matmul per group, and warns that it did."""
    from torch.utils.flop_counter import FlopCounterMode

    model = capture_models.GroupedExperts()
    x = torch.randn(1, 8, 16, dtype=torch.bfloat16)
    with FlopCounterMode(display=False) as fused:
        model(x)
    with FlopCounterMode(display=False) as loop:
        model.as_loop(x)
    assert fused.get_total_flops() == 0
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:GroupedExperts", "--input",
                             "x=8x16:bfloat16", "--format", "json")
    assert code == 0
    assert json.loads(out)["totals"]["macs"] == loop.get_total_flops() // 2 == 8 * 16 * 32
    assert "warning: layer '_grouped_mm' (aten._grouped_mm.default): FlopCounterMode has no " \
           "formula for this op" in err
