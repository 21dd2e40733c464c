"""`summary --input 3xHxW`: output shapes as formulas in the letters, parameters as
numbers where they do not depend on them, and the conditions the formulas assume;
every formula agrees with the numeric summary at every size it claims."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import PUBLISHED, SPECS, evaluate, run_cli, summarize, summarize_text
from netcalc.errors import SpecError
from netcalc.inputs import parse_shape
from dataclasses import fields
from netcalc.results import Totals
from netcalc.symbolic import _MOST_TERMS, Formula, Size, by_degree, value_at

H, L, W = Size("H"), Size("L"), Size("W")


def symbolic(name: str, shape: str = "3xHxW"):
    return summarize(SPECS / f"{name}.yaml", input_shapes={"input": parse_shape(shape, True)})


def at(shape, **values) -> tuple[int, ...]:
    return tuple(d.at(values[d.var]) if isinstance(d, Size) else d for d in shape)


def test_resnet18_downsamples_by_32_for_any_size():
    s = symbolic("resnet18")
    layer4 = next(b for b in s.blocks if b.name == "layer4")
    assert str(layer4.output_shape) == "(1, 512, ⌊(H − 1)/32⌋ + 1, ⌊(W − 1)/32⌋ + 1)"
    numeric = summarize(SPECS / "resnet18.yaml")
    assert s.totals.params == numeric.totals.params == 11_689_512      # no size in them
    assert s.outputs == {"fc": (1, 1000)}
    assert s.conditions == ()           # valid down to 1×1: every window has its padding


@pytest.mark.parametrize("name,condition", [("alexnet", ("H ≥ 63", "W ≥ 63")),
                                            ("vgg16", ("H ≥ 32", "W ≥ 32")),
                                            ("googlenet", ("H ≥ 15", "W ≥ 15")),
                                            ("mobilenet_v2", ())])
def test_the_condition_is_where_the_numeric_summary_starts_to_work(name, condition):
    s = symbolic(name)
    assert s.conditions == condition
    least = int(condition[0].split("≥ ")[1]) if condition else 1
    for side in (least, least + 1, 224):
        numeric = summarize(SPECS / f"{name}.yaml", input_shapes={"input": (3, side, side)})
        for ours, theirs in zip(s.layers, numeric.layers):
            assert at(ours.output_shape, H=side, W=side) == theirs.output_shape, ours.name
    if least > 1:
        with pytest.raises(SpecError):
            summarize(SPECS / f"{name}.yaml", input_shapes={"input": (3, least - 1, least - 1)})


def test_alexnets_features_and_a_parameter_count_that_depends_on_the_size():
    s = symbolic("alexnet")
    pool5 = next(r for r in s.layers if r.name == "pool5")
    assert str(pool5.output_shape[2]) == "⌊(H − 63)/32⌋ + 1"
    # LeNet-5 has no adaptive pooling: its first linear layer grows with the image
    lenet = symbolic("lenet5", "1xHxW")
    c5 = next(r for r in lenet.layers if r.name == "c5")
    assert str(c5.params) == "1,920·(⌊(H − 16)/4⌋ + 1)·(⌊(W − 16)/4⌋ + 1) + 120"
    total = str(lenet.totals.params)
    assert total == "1,920·(⌊(H − 16)/4⌋ + 1)·(⌊(W − 16)/4⌋ + 1) + 13,706"
    # at 32×32 the formula gives LeNet-5's published count
    assert evaluate(total, H=32, W=32) == PUBLISHED["lenet5"][0]


@pytest.mark.torch
@pytest.mark.parametrize("h,w", [(32, 32), (36, 44), (64, 50)])
def test_lenets_parameter_formula_is_torchs_count_at_any_size(h, w):
    import torch
    from torch import nn

    # LeNet-5 as the paper draws it; LazyLinear takes its input size from the run, so
    # torch alone works out how many features reach C5
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.LazyLinear(120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                          nn.Linear(84, 10))
    lenet(torch.zeros(1, 1, h, w))
    torch_count = sum(p.numel() for p in lenet.parameters())
    assert evaluate(str(symbolic("lenet5", "1xHxW").totals.params), H=h, W=w) == torch_count


def test_json_and_the_table(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "vgg16.yaml"), "--input", "3xHx224",
                           "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["conditions"] == ["H ≥ 32"]
    assert data["layers"][0]["output_shape"] == [1, 64, "H", 224]
    assert data["totals"]["params"] == 138_357_544
    # one term per stage, like terms collected: a polynomial short enough to show
    assert data["totals"]["macs"] == (
        "8,644,608·H + 24,772,608·(⌊(H − 2)/2⌋ + 1) + 82,575,360·(⌊(H − 4)/4⌋ + 1) + "
        "165,150,720·(⌊(H − 8)/8⌋ + 1) + 99,090,432·(⌊(H − 16)/16⌋ + 1) + 123,633,664")
    assert evaluate(data["totals"]["macs"], H=224) == PUBLISHED["vgg16"][1]
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "vgg16.yaml"), "--input", "3xHxW")
    assert "Valid    for H ≥ 32, W ≥ 32" in out


def test_a_reshape_fixed_for_one_size_says_so(capsys):
    code, _, err = run_cli(capsys, "summary", str(SPECS / "seeds" / "seed002_alexnet.yaml"),
                           "--input", "3xHxW")
    assert code == 1
    assert "whether 9216 divides 256·(⌊(H − 63)/32⌋ + 1)·(⌊(W − 63)/32⌋ + 1) depends on " \
           "the input size" in err


def test_letters_are_for_summary_alone(capsys):
    code, _, err = run_cli(capsys, "explain", str(SPECS / "alexnet.yaml"), "--input",
                           "3xHxW")
    assert code == 2 and "write a shape like 3x224x224" in err


# -- Formula: an exact polynomial over letters and floors --

SEQ = """
name: seq
inputs: {tokens: {shape: [16], dtype: int64}}
layers:
  - {type: embedding, num_embeddings: 1000, embedding_dim: 64}
  - {type: multiheadattention, num_heads: 4, batch_first: true}
  - {type: linear, out_features: 1000}
"""


def test_like_terms_collect_highest_degree_first(capsys, tmp_path):
    (tmp_path / "seq.yaml").write_text(SEQ, encoding="utf-8")
    code, out, _ = run_cli(capsys, "summary", str(tmp_path / "seq.yaml"), "--input", "L")
    assert code == 0 and "MACs     128·L² + 80,384·L\n" in out
    s = summarize_text(SEQ, input_shapes={"tokens": (L,)})
    # q/k/v 3·64·64·L, Q·Kᵀ and A·V 2·4·16·L², out_proj 64·64·L, the head 64·1000·L
    assert str(s.totals.macs) == "128·L² + 80,384·L"
    assert str(s.totals.flops) == "256·L² + 160,768·L"
    assert str(s.layers[1].macs) == "128·L² + 16,384·L"
    assert str(s.layers[2].macs) == "64,000·L"          # one letter, linear: a Size
    assert str((L + 1) * 64) == "64·L + 64"
    assert str(H * W * 3 + 2 * W * H) == "5·H·W"
    assert str(H * H * W + W * H - 7) == "H²·W + H·W − 7"
    assert str(W * W - H * H + 3 * H * W) == "−H² + 3·H·W + W²"
    floor = Size("H", 1, -1, 2, 1)                       # ⌊(H − 1)/2⌋ + 1: an atom
    assert str(floor * floor * 64 + floor * W) == "64·(⌊(H − 1)/2⌋ + 1)² + (⌊(H − 1)/2⌋ + 1)·W"
    assert str(Size("H", 1, 0, 16) * 768 * W) == "768·⌊H/16⌋·W"


def test_arithmetic_is_exact_and_simplifies_to_the_plainest_value():
    assert H * W - W * H == 0 and isinstance(H * W - W * H, int)
    assert (H * W + 5) - H * W == 5
    assert L + L == Size("L", 2) and (L * L - L * L) + L == L      # a Size again
    assert Size("H", 1, -1, 2, 1) - 1 == Size("H", 1, -1, 2, 0)
    # a size is what it is, however written
    assert Size("H", 1, -1, 4, 1) == Size("H", 1, 3, 4) and (H + 5) * 7 == 7 * H + 35
    assert Size("H", 4, 2, 2) == 2 * H + 1
    assert Size("H", 1, -1, 4, 1) * W - Size("H", 1, 3, 4) * W == 0
    assert L * 0 == 0 and -(H * W) == -1 * H * W and (L + 1) ** 2 == L * L + 2 * L + 1
    assert 10 - H * W == -(H * W - 10)
    assert L + True == L + 1                             # add_bias_kv + add_zero_attn


def test_division_where_it_is_exact_else_as_before():
    f = 64 * H * W + 128
    assert f // 64 == H * W + 2 and f / 64 == H * W + 2 and f // 3 * 3 != f
    assert (64 * H * W) // (4 * W) == 16 * H and (64 * L) // L == 64   # reshape's -1
    assert (6 * H * W + 5) // 2 == 3 * H * W + 2        # the varying part divides
    assert str(f // 3) == "⌊(64·H·W + 2)/3⌋ + 42"        # it does not: one floor
    assert str((3 * H * W + 1) // 2 + H * W) == "H·W + ⌊(3·H·W + 1)/2⌋"
    assert str((H * W + 1) // (2 * L)) == "⌊(H·W + 1)/(2·L)⌋"
    assert ((H * W + 1) // (2 * L)).at({"H": 5, "W": 7, "L": 3}) == 36 // 6
    assert (64 * H * W) % 16 == 0 and (64 * H * W + 5) % 16 == 5 and (64 * L) % L == 0
    with pytest.raises(SpecError, match="whether 9216 divides 256·H·W depends on the input"):
        (256 * H * W) % 9216
    with pytest.raises(SpecError, match="divided by 2 needs the input size as a number"):
        (3 * H * W) / 2
    with pytest.raises(SpecError):
        100 // (H * W)
    with pytest.raises(SpecError, match="this needs a number"):
        [0][H * W]


def test_comparisons_are_refused_and_equal_formulas_hash_alike():
    f = 2 * H * W + 1
    assert not f > 5 and not f >= 5 and f < 5 and f <= 5     # as before: nothing recorded
    assert f == 1 + W * H * 2 and hash(f) == hash(1 + W * H * 2) and f != H * W
    assert {f: "x"}[W * H * 2 + 1] == "x" and f != 2 * H * W + 2
    assert f"{f:,}" == str(f) == f.text == "2·H·W + 1"


def test_at_and_by_degree():
    floor = Size("L", 1, -1, 2, 1)
    f = 3 * L * L * H + floor * L + 7 * H + 5
    assert f.at({"L": 10, "H": 4}) == 3 * 100 * 4 + 5 * 10 + 28 + 5
    assert value_at(L, {"L": 9}) == 9 and value_at(12, {}) == 12 and floor.at({"L": 10}) == 5
    # a floor in the letter counts as the letter
    assert f.by_degree("L") == {2: 3 * L * L * H + floor * L, 0: 7 * H + 5}
    assert f.by_degree("H") == {1: 3 * L * L * H + 7 * H, 0: floor * L + 5}
    assert by_degree(Size("L", 64), "L") == {1: Size("L", 64)} and by_degree(7, "L") == {0: 7}
    assert by_degree(0, "L") == {}


def test_too_many_terms_show_what_they_depend_on():
    f = sum(k * Size("H", 1, -1, 2 ** k, 1) * W for k in range(1, _MOST_TERMS + 2))
    assert isinstance(f, Formula) and f.text == "(depends on H, W)"
    assert f.full_text.startswith("(⌊(H − 1)/2⌋ + 1)·W + 2·(⌊(H − 1)/4⌋ + 1)·W")
    assert f.at({"H": 100, "W": 3}) == sum(k * ((99 >> k) + 1) * 3
                                           for k in range(1, _MOST_TERMS + 2))
    assert f - f.by_degree("W")[1] == 0          # kept whole under the text


# -- the polynomial against an independent computation: netcalc at a number --

# Known apart: whether a flatten or reshape is a view (0 bytes) or a copy. The layout
# rule (formulas.view_strides) asks `view_numel < tensor_numel`, and a comparison with a
# Formula has a fixed answer, so on letters it finds no view where numbers find one.
VIEW_BYTES = ("activation_bytes", "total_bytes")


def assert_agrees(symbolic_summary, numeric_summary, values):
    def same(ours, theirs, what):
        assert value_at(ours, values) == theirs, (what, str(ours), values)

    views = {"symbolic": 0, "numeric": 0}
    for ours, theirs in zip(symbolic_summary.layers, numeric_summary.layers, strict=True):
        assert tuple(value_at(d, values) for d in ours.output_shape) == theirs.output_shape
        for what in ("params", "trainable_params", "buffers", "macs", "flops"):
            same(getattr(ours, what), getattr(theirs, what), f"{ours.name}.{what}")
        if theirs.family == "reshape":
            views["symbolic"] += value_at(ours.activation_bytes, values)
            views["numeric"] += theirs.activation_bytes
        else:
            same(ours.activation_bytes, theirs.activation_bytes, f"{ours.name}.activation")
    for ours, theirs in zip(symbolic_summary.rows, numeric_summary.rows, strict=True):
        assert ours.name == theirs.name
        same(ours.params, theirs.params, f"{ours.name} (row).params")
        same(ours.macs, theirs.macs, f"{ours.name} (row).macs")
    for field in fields(Totals):
        ours = value_at(getattr(symbolic_summary.totals, field.name), values)
        if field.name in VIEW_BYTES:
            ours += views["numeric"] - views["symbolic"]
        assert ours == getattr(numeric_summary.totals, field.name), (field.name, values)


def least(summary, letter: str) -> int:
    return next((int(c.split("≥ ")[1]) for c in summary.conditions
                 if c.startswith(f"{letter} ")), 1)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet", "alexnet",
                                  "inception_v3", "convnext_tiny", "lenet5"])
def test_library_formulas_are_the_numeric_summary_at_any_size(name):
    channels = "1" if name == "lenet5" else "3"
    s = symbolic(name, f"{channels}xHxW")
    for h, w in ((224, 224), (least(s, "H") + 3, least(s, "W") + 17), (299, 163)):
        numeric = summarize(SPECS / f"{name}.yaml", input_shapes={"input": (int(channels), h, w)})
        assert_agrees(s, numeric, {"H": h, "W": w})


@st.composite
def image_specs(draw):
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        k = draw(st.integers(1, 5))
        window = {"kernel_size": k, "stride": draw(st.integers(1, 3)),
                  "padding": draw(st.integers(0, k // 2))}
        layers.append(draw(st.sampled_from([
            {"type": "conv2d", "out_channels": draw(st.integers(1, 12)), **window,
             "dilation": draw(st.integers(1, 2)), "bias": draw(st.booleans())},
            # ceil_mode only where its last window always starts inside (S + P ≤ K): where
            # it may not, whether torch drops it depends on the size's remainder, which
            # one Size cannot say (known apart; 1×1/2 at W = 2 gives 1, ⌊W/2⌋ + 1 says 2)
            {"type": "maxpool2d", **window, "ceil_mode": draw(st.booleans())
             and window["stride"] + window["padding"] <= k},
            {"type": "avgpool2d", **window},
            {"type": "batchnorm2d"}, {"type": "relu"}])))
    head = draw(st.sampled_from([[], [{"type": "flatten"}],
                                 [{"type": "adaptiveavgpool2d", "output_size": 1},
                                  {"type": "flatten"}]]))
    if head:
        head.append({"type": "linear", "out_features": draw(st.integers(1, 20))})
    return {"name": "random", "input": [3, 64, 64], "layers": layers + head}


@st.composite
def sequence_specs(draw):
    width = draw(st.sampled_from([8, 12, 16, 24]))
    layers = [{"type": "embedding", "num_embeddings": 50, "embedding_dim": width}]
    for _ in range(draw(st.integers(1, 4))):
        heads = draw(st.sampled_from([h for h in (1, 2, 4) if width % h == 0]))
        layer = draw(st.sampled_from([
            {"type": "multiheadattention", "num_heads": heads, "batch_first": True},
            {"type": "transformerencoderlayer", "nhead": heads, "batch_first": True,
             "dim_feedforward": 2 * width, "dropout": 0.0},
            {"type": "linear", "out_features": 4 * draw(st.integers(1, 6))},
            {"type": "layernorm", "normalized_shape": [width]}, {"type": "gelu"}]))
        if layer["type"] == "linear":
            width = layer["out_features"]
        layers.append(layer)
    return {"name": "random", "inputs": {"tokens": {"shape": [16], "dtype": "int64"}},
            "layers": layers}


@given(spec=image_specs(), batch=st.integers(1, 3), h=st.integers(0, 60),
       w=st.integers(0, 60))
def test_random_image_specs_formulas_are_the_numeric_summary(spec, batch, h, w):
    text = json.dumps(spec)
    s = summarize_text(text, batch=batch, input_shapes={"input": (3, H, W)})
    h, w = least(s, "H") + h, least(s, "W") + w
    numeric = summarize_text(text, batch=batch, input_shapes={"input": (3, h, w)})
    assert_agrees(s, numeric, {"H": h, "W": w})


@given(spec=sequence_specs(), batch=st.integers(1, 3), length=st.integers(1, 300))
def test_random_sequence_specs_formulas_are_the_numeric_summary(spec, batch, length):
    text = json.dumps(spec)
    s = summarize_text(text, batch=batch, input_shapes={"tokens": (L,)})
    numeric = summarize_text(text, batch=batch, input_shapes={"tokens": (length,)})
    assert_agrees(s, numeric, {"L": length})


ENCODER = SEQ + """\
  - {type: transformerencoderlayer, nhead: 4, dim_feedforward: 128, dropout: 0.0,
     batch_first: true}
"""


@pytest.mark.torch
@pytest.mark.parametrize("spec,encoder", [(SEQ, False), (ENCODER, True)],
                         ids=["attention", "attention+encoder"])
def test_attention_macs_are_torchs_count_and_the_square_term_is_the_scores(spec, encoder):
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from netcalc.torch_bridge import countable_attention

    batch, heads, width = 2, 4, 64
    s = summarize_text(spec, batch=batch, input_shapes={"tokens": (L,)})

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(1000, width)
            self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
            self.linear = nn.Linear(width, 1000)
            self.encoder = nn.TransformerEncoderLayer(1000, heads, 128, dropout=0.0,
                                                      batch_first=True) if encoder else None

        def forward(self, tokens):
            x = self.embedding(tokens)
            x = self.linear(self.attention(x, x, x, need_weights=False)[0])
            return self.encoder(x) if encoder else x

    model = Seq().eval()
    for length in (7, 32, 129):
        tokens = torch.randint(0, 1000, (batch, length))
        with torch.no_grad(), countable_attention(torch), \
                FlopCounterMode(display=False) as counter:
            model(tokens)
        assert s.totals.macs.at({"L": length}) == counter.get_total_flops() // 2
    # Q·Kᵀ and A·V: heads·L·L·head_dim each, for each sequence of the batch
    scores = [heads * 2 * (width // heads) * batch]
    if encoder:                                   # its own, 1000 wide
        scores.append(heads * 2 * (1000 // heads) * batch)
    square = s.totals.macs.by_degree("L")[2]
    assert square == sum(scores) * L * L and square.at({"L": 1}) == sum(scores)
    attention = next(r for r in s.layers if r.type == "multiheadattention")
    assert attention.macs.by_degree("L")[2].at({"L": 1}) == heads * 2 * (width // heads) * batch


def test_letters_keep_the_memory_that_does_not_depend_on_the_sizes(capsys):
    """Weights, gradients and the optimizer's state are numbers at any size; the peak
    and what backward keeps are not, and are null in the JSON."""
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--input", "3xHxW",
                           "--format", "json")
    assert code == 0
    memory = json.loads(out)["memory"]
    params = PUBLISHED["alexnet"][0]
    assert (memory["weight_bytes"], memory["gradient_bytes"], memory["optimizer_bytes"]) == \
        (4 * params, 4 * params, 8 * params)
    assert memory["peak_activation_bytes"] is None and memory["training_bytes"] is None
