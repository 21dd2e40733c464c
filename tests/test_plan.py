"""A spec expanded again at other param values replays the plan its earlier expansion
recorded (netcalc/spec/plan.py, issue 18): what the replay gives must be what expanding
the spec afresh gives, field by field, or the replay must give way to that expansion.

The expansion it is held to is the one every other test checks against torch and
published figures; here each value set is expanded twice, once from a fresh document
(no plan) and once from a document expanded before (a replay where the structure
holds), and a test also checks that the replays happened."""

from __future__ import annotations

import pytest

from helpers import SPECS
from netcalc.analyze import analyze
from netcalc.errors import NetcalcError, SpecError
from netcalc.spec.expand import expand
from netcalc.spec.loader import load_yaml
from test_fit import WIDE_RESNET

# Every way a value can decide the structure, each behind a param: a repeat's count and
# its copies' names, `if`, `trainable`, `inputs`, `tie_weight`, pieces by count and by
# name, nested blocks alike at some values and not at others (a and b at width 8)
STRUCTURE = """\
params: {width: 8, depth: 2, extra: false, frozen: false, pieces: 2, hidden: 6, src: a, tie: true}
inputs: {image: [4, 16, 16], tokens: {shape: [5], dtype: int64}}
blocks:
  unit:
    params: {out: 8, stride: 1, extra: false}
    inputs: [x]
    layers:
      - {type: conv2d, name: conv, out_channels: "${out}", kernel_size: 3, stride: "${stride}", padding: 1}
      - {type: batchnorm2d, name: bn, trainable: "${not extra}"}
      - {type: relu, name: act, if: "${extra}"}
      - {type: conv2d, name: skip, inputs: [x], out_channels: "${out}", kernel_size: 1, stride: "${stride}"}
      - {type: add, name: add, inputs: ["${'act' if extra else 'bn'}", skip]}
  pair:
    params: {out: 8, depth: 1}
    layers:
      - {type: unit, name: first, out: "${out}"}
      - {type: unit, name: more, repeat: "${depth}", out: "${out}", extra: "${i == 1}"}
layers:
  - {type: conv2d, name: stem, inputs: [image], out_channels: "${width}", kernel_size: 3, padding: 1}
  - {type: unit, name: a, out: "${width}", trainable: "${not frozen}"}
  - {type: unit, name: b, out: 8}
  - {type: unit, name: "s${i}", repeat: "${depth}", out: "${width * (i + 1)}", stride: "${2 if i == 0 else 1}", extra: "${i % 2 == 1}"}
  - {type: pair, name: stage, repeat: 2, out: "${2 * width}", depth: "${depth}"}
  - {type: chunk, name: halves, chunks: "${pieces}", dim: 1}
  - {type: chunk, name: [left, right], inputs: [halves.0], chunks: 2, dim: 1}
  - {type: conv2d, name: after, inputs: ["${src}"], out_channels: "${width}", kernel_size: 1}
  - {type: embedding, name: wte, inputs: [tokens], num_embeddings: 50, embedding_dim: "${hidden}"}
  - {type: embedding, name: wte2, inputs: [tokens], num_embeddings: 50, embedding_dim: "${hidden}"}
  - {type: lstm, name: rnn, inputs: [wte], hidden_size: "${hidden}"}
  - {type: linear, name: head, inputs: [rnn.0], out_features: 50, bias: false, tie_weight: "${'wte' if tie else 'wte2'}", if: "${hidden == 6}"}
"""

# each after the one before: replays where the structure holds, full expansions where
# it does not (a new repeat count, an `if` turned, other inputs), and errors
STRUCTURE_VALUES = [
    {}, {}, {"width": 16}, {"width": 12, "hidden": 6}, {"depth": 3}, {"depth": 3, "width": 8},
    {"extra": True}, {"frozen": True}, {"pieces": 4}, {"pieces": 4, "width": 20},
    {"src": "b"}, {"src": "b", "width": 8}, {"hidden": 7}, {"tie": False},
    {"width": 0}, {"width": 10}, {"depth": 0}, {"depth": 2.0}, {"width": 64}, {},
]


def _fields(spec) -> tuple:
    """Everything an expansion gives, to compare."""
    return (spec.name, spec.file, spec.inputs, spec.params, spec.derived_params,
            spec.outputs, spec.warnings,
            [(s.name, type(s.layer), s.layer, s.inputs, s.loc, s.arg_loc, s.depth, s.trace,
              s.trainable, s.frozen, s.tied) for s in spec.layers],
            [(g.name, g.type_name, g.kind, g.depth, g.loc, g.first, g.end, g.output, g.copies,
              g.series, g.pattern, g.inputs) for g in spec.groups])


def _expanded(doc, file: str, values: dict):
    try:
        return _fields(expand(doc, file, values))
    except NetcalcError as error:
        return type(error), str(error)


def _replays(text: str, file: str, value_sets: list[dict]) -> int:
    """Expand `text` at each value set from one document, as a search does, checking
    each against a fresh document's expansion; the number of replays."""
    doc = load_yaml(text, file)
    replays = 0
    for values in value_sets:
        plan = doc.__dict__.get("_plan")
        assert _expanded(doc, file, values) == _expanded(load_yaml(text, file), file, values), \
            values
        replays += plan is not None and doc.__dict__["_plan"] is plan
    return replays


def test_a_replay_gives_what_a_fresh_expansion_gives_however_the_values_decide():
    replays = _replays(STRUCTURE, "structure.yaml", STRUCTURE_VALUES)
    # the first expansion records nothing, the second records; where a value set keeps
    # the structure of the one before, the replay is taken
    assert replays >= 6


def test_the_values_that_change_the_structure_are_expanded_afresh():
    doc = load_yaml(STRUCTURE, "structure.yaml")
    expand(doc, "structure.yaml")
    expand(doc, "structure.yaml")
    plan = doc.__dict__["_plan"]
    assert plan is not None
    for values in ({"depth": 3}, {"extra": True}, {"pieces": 3}, {"src": "b"}, {"tie": False},
                   {"hidden": 7}, {"frozen": True}):
        expand(doc, "structure.yaml", values)
        assert doc.__dict__["_plan"] is not plan, values       # recorded anew
        plan = doc.__dict__["_plan"]
        expand(doc, "structure.yaml", {**values, "width": 24})
        assert doc.__dict__["_plan"] is plan, values           # and replayed


def test_block_instances_alike_at_one_width_and_not_at_another_keep_their_own_numbers():
    # a and b are one pattern at width 8 (analysis shares their results), two at 16
    doc = load_yaml(STRUCTURE, "structure.yaml")
    for _ in range(2):
        at_8 = expand(doc, "structure.yaml")
    assert _pattern(at_8, "a") == _pattern(at_8, "b")
    at_16 = expand(doc, "structure.yaml", {"width": 16})
    assert _pattern(at_16, "a") != _pattern(at_16, "b")
    layers = analyze(at_16).layers
    # a's convs take the stem's 16 channels to 16 (3×3 and 1×1, with biases), its norm 16
    assert _params(layers, "a.") == (16 * 16 * 9 + 16) + 2 * 16 + (16 * 16 + 16)
    # b's take a's 16 to 8
    assert _params(layers, "b.") == (8 * 16 * 9 + 8) + 2 * 8 + (8 * 16 + 8)


def _params(layers, prefix: str) -> int:
    return sum(layer.params for layer in layers if layer.name.startswith(prefix))


def _pattern(spec, name: str):
    return next(g.pattern for g in spec.groups if g.name == name)


def test_an_error_at_new_values_is_the_fresh_expansions():
    doc = load_yaml(STRUCTURE, "structure.yaml")
    expand(doc, "structure.yaml")
    expand(doc, "structure.yaml", {"width": 4})
    with pytest.raises(NetcalcError) as replayed:
        expand(doc, "structure.yaml", {"width": 0})
    with pytest.raises(NetcalcError) as fresh:
        expand(load_yaml(STRUCTURE, "structure.yaml"), "structure.yaml", {"width": 0})
    assert str(replayed.value) == str(fresh.value)
    assert "out_channels" in str(replayed.value) and "structure.yaml:" in str(replayed.value)


def test_changing_what_an_expansion_returned_changes_no_later_one():
    doc = load_yaml(WIDE_RESNET, "wide_resnet.yaml")
    expand(doc, "wide_resnet.yaml")
    recorded = expand(doc, "wide_resnet.yaml", {"width": 32})
    recorded.layers[0].name = "changed"
    recorded.layers[1].tied["weight"] = "conv1"
    recorded.groups[0].pattern = None
    recorded.groups[1].name = "changed"
    again = expand(doc, "wide_resnet.yaml", {"width": 32})
    assert _fields(again) == _fields(expand(load_yaml(WIDE_RESNET, "wide_resnet.yaml"), "wide_resnet.yaml",
                                            {"width": 32}))


def test_the_wide_resnet_replayed_at_width_64_is_torchvisions_resnet18():
    doc = load_yaml(WIDE_RESNET, "wide_resnet.yaml")
    for width in (16, 17, 64):       # recorded at 17, replayed at 64
        spec = expand(doc, "wide_resnet.yaml", {"width": width})
    assert doc.__dict__["_plan"] is not None
    assert analyze(spec).totals.params == 11_689_512      # torchvision's figure


def test_the_wide_resnet_at_every_width_a_search_asks():
    # widths in the order a bisection asks them, and repeats: a stage's block at width w
    # is the block at 2w of the stage before, kept from one expansion to the next
    widths = [64, 136, 76, 40, 58, 49, 45, 43, 44, 128, 32, 16, 256, 64, 128]
    assert _replays(WIDE_RESNET, "wide_resnet.yaml", [{"width": w} for w in widths]) \
        == len(widths) - 2


def test_a_spec_large_enough_to_be_counted_is_counted_again_and_replayed():
    # 21,000 copies, most switched off: its expansion is counted (expand._LayerCounter),
    # and so is each replay, which the count lets through here
    text = ("params: {w: 4}\ninput: [4]\nlayers:\n  - {type: linear, out_features: \"${w}\"}\n"
            "  - {type: relu, repeat: 21000, if: \"${i < 2}\"}\n")
    assert _replays(text, "counted.yaml", [{}, {}, {"w": 8}, {"w": 16}]) == 2
    doc = load_yaml(text, "counted.yaml")
    for _ in range(2):
        expand(doc, "counted.yaml")
    assert doc.__dict__["_plan"].counted


@pytest.mark.parametrize("text, value_sets", [
    # where the review found a replay accepting what a fresh document refused: a count
    # stopped by a repeat: 0 copy's `if` (never evaluated), and a count started or not
    # by which block instances were kept (at a = b, the second unit is the first's)
    ("params: {z: 0, w: 1}\ninput: [4]\nlayers:\n  - {type: relu, repeat: 0, if: \"${1 // z > 0}\"}\n"
     "  - {type: relu, repeat: 20001, if: \"${" + "+".join(["w"] * 70) + " > 0}\"}\n",
     [{}, {}, {"z": 1}]),
    ("params: {a: 1, b: 1}\ninput: [4]\nblocks:\n  unit:\n    params: {c: 1}\n    layers:\n"
     "      - {type: relu, repeat: 10001, if: \"${" + "+".join(["c"] * 70) + " > 0}\"}\n"
     "layers:\n  - {type: unit, c: \"${a}\"}\n  - {type: unit, c: \"${b}\"}\n",
     [{}, {}, {"b": 2}, {"a": 2}]),
    # blocks nested 65 deep behind an `if`: the count, which keeps what it counted of a
    # block from one expansion to the next, leaves saying so to the expander
    ("params: {use0: false}\ninput: [4]\nblocks:\n"
     + "".join(f"  b{k}:\n    layers:\n      - {{type: b{k + 1}, name: x}}\n" for k in range(64))
     + "  b64:\n    layers:\n      - relu\n"
     "layers:\n  - {type: relu, repeat: 25000}\n  - {type: b0, name: top, if: \"${use0}\"}\n"
     "  - {type: b1, name: mid}\n",
     [{}, {}, {"use0": True}]),
])
def test_a_replay_refuses_what_the_count_refuses(text, value_sets):
    _replays(text, "count.yaml", value_sets)
    for values in value_sets:       # and the count's refusal is a SpecError like any other
        try:
            expand(load_yaml(text, "count.yaml"), "count.yaml", values)
        except NetcalcError as error:
            assert type(error) is SpecError


LIBRARY = sorted(path for path in SPECS.glob("*.yaml") if "\nparams:" in path.read_text())


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_library_spec_with_params_replays_as_it_expands(path):
    text = path.read_text()
    params = expand(load_yaml(text, str(path)), str(path)).params
    value_sets = [{}, {}]
    for name, value in params.items():
        if type(value) is int:
            value_sets += [{name: 2 * value}, {name: value + 1}, {name: max(1, value // 2)}]
    assert _replays(text, str(path), value_sets) >= 1
