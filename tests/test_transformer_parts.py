"""The parts of an LLM (attention, gatedmlp, moe, rmsnorm) against torch: parameters,
MACs (FlopCounterMode on torch's math path), what training keeps, the KV cache, the
active parameters, and each explain step's working. (Against transformers' own
LlamaAttention, LlamaMLP and MixtralSparseMoeBlock: tests/corpus, where transformers
is installed.)"""

from __future__ import annotations

from math import prod

import pytest

from netcalc.errors import SpecError
from netcalc.layers import REGISTRY
from netcalc.memory import FLOAT32_BYTES
from netcalc.torch_bridge.build import build_layer

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netcalc.torch_bridge import countable_attention  # noqa: E402


def layer(type_name, **args):
    return REGISTRY[type_name].from_args(args)


def flop_macs(module, *xs) -> int:
    """FlopCounterMode's flops / 2, attention on torch's math path."""
    module.eval()
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        module(*xs)
    return counter.get_total_flops() // 2


def flop_macs_of(function) -> int:
    """flop_macs of a function of no arguments."""
    class Call(torch.nn.Module):
        def forward(self):
            return function()
    return flop_macs(Call())


# -- attention: MACs as FlopCounterMode counts scaled-dot-product attention ----------------

@pytest.mark.parametrize("heads,kv_heads,causal,rotary", [
    (8, 8, False, False), (8, 2, True, False), (8, 1, True, True), (6, 3, False, True)])
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_attention_macs_are_flop_counter_modes_on_the_math_path(heads, kv_heads, causal,
                                                                rotary, device):
    n, length, d = 2, 7, 4
    e = heads * d
    ours = layer("attention", num_heads=heads, num_kv_heads=kv_heads, is_causal=causal,
                 rotary=rotary)
    x = (n, length, e)
    with torch.device(device):
        module = build_layer(ours, (x,))
        measured = flop_macs(module, torch.randn(x))
    numbers = ours.evaluate((x,))
    # the projections, then Q·Kᵀ and A·V at every query head: N·H·L·L·2·D, the causal
    # mask and the shared key/value heads notwithstanding (an independent count)
    projections = n * length * e * (heads * d + 2 * kv_heads * d) + n * length * heads * d * e
    assert numbers.macs == measured == projections + n * heads * length * length * 2 * d
    assert ours.causal_attention_macs((x,), x) == \
        (n * heads * length * length * 2 * d if causal else 0)


def test_sdpa_counts_the_same_with_enable_gqa_and_with_repeated_heads():
    """The module calls sdpa with enable_gqa; transformers' eager path repeats the key and
    value heads (repeat_kv): FlopCounterMode counts N·H·L·S·2·D either way, causal or not."""
    import torch.nn.functional as F

    n, heads, kv_heads, length, d = 2, 8, 2, 5, 4
    q = torch.randn(n, heads, length, d)
    k, v = torch.randn(n, kv_heads, length, d), torch.randn(n, kv_heads, length, d)
    for causal in (False, True):
        grouped = flop_macs_of(lambda causal=causal: F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, enable_gqa=True))
        repeated = flop_macs_of(lambda causal=causal: F.scaled_dot_product_attention(
            q, k.repeat_interleave(heads // kv_heads, 1),
            v.repeat_interleave(heads // kv_heads, 1), is_causal=causal))
        assert grouped == repeated == n * heads * length * length * 2 * d


def test_attention_kv_cache_is_the_keys_and_values_a_decoder_keeps():
    ours = layer("attention", num_heads=32, num_kv_heads=8, is_causal=True, rotary=True)
    x = (1, 16, 4096)
    # Mistral 7B: 8 key/value heads of 128, a key and a value each per token
    assert ours.kv_cache_elements((x,), 4096) == 2 * 8 * 128 * 4096
    assert layer("attention", num_heads=32).kv_cache_elements((x,), 4096) == 0   # an encoder's
    assert ours.notation() == "attention ×32 heads (8 kv), causal, rotary"
    assert layer("attention", num_heads=12).notation() == "attention ×12 heads"


@pytest.mark.parametrize("args,message", [
    ({"num_heads": 8, "num_kv_heads": 3}, "must divide num_heads"),
    ({"num_heads": 5}, "does not split into num_heads=5"),
    ({"num_heads": 4, "head_dim": 3, "rotary": True}, "rotary needs an even head_dim"),
    ({"num_heads": 4, "embed_dim": 64}, "embed_dim=64 but the input has 32"),
    ({"num_heads": 4, "dropout": 1.5}, "between 0 and 1"),
])
def test_attention_refuses(args, message):
    with pytest.raises(SpecError, match=message):
        REGISTRY["attention"].from_args(args).evaluate(((1, 3, 32),))


@pytest.mark.parametrize("skew", [False, True])
def test_moe_macs_are_the_routed_experts_whatever_the_routing(skew):
    """Real tensors, routed by their values: every token to one expert (skew), or spread."""
    ours = layer("moe", num_experts=5, top_k=2, hidden_features=6, bias=True)
    x = (2, 9, 8)
    module = build_layer(ours, (x,))
    inputs = torch.randn(x)
    if skew:                         # experts 3 and 4 win on every token
        with torch.no_grad():
            module.gate.weight.zero_()
        inputs = inputs.abs()
        with torch.no_grad():
            module.gate.weight[3:] = 1.0
            module.gate.weight[4] += 1.0
    macs = flop_macs(module, inputs)
    tokens = 2 * 9
    assert ours.evaluate((x,)).macs == macs == tokens * 8 * 5 + tokens * 2 * 3 * 8 * 6
    # on meta, with no values to route by, the module deals the tokens out: the same count
    with torch.device("meta"):
        assert flop_macs(build_layer(ours, (x,)), torch.empty(x)) == macs
    per_expert = sum(p.numel() for p in module.experts[0].parameters())
    assert ours.active_params((x,)) == module.gate.weight.numel() + 2 * per_expert
    assert sum(ours.params(x).values()) == sum(p.numel() for p in module.parameters())


def test_moe_refuses_more_chosen_experts_than_it_has():
    with pytest.raises(SpecError, match="top_k=3 is more than the num_experts=2"):
        REGISTRY["moe"].from_args({"num_experts": 2, "top_k": 3, "hidden_features": 4})


def test_rmsnorm_is_llamas():
    ours = layer("rmsnorm", normalized_shape=4096, eps=1e-5)
    module = build_layer(ours, ((1, 3, 4096),))
    assert type(module) is torch.nn.RMSNorm
    assert dict(ours.evaluate(((1, 3, 4096),)).params) == {"weight": 4096}
    assert "bias" not in REGISTRY["rmsnorm"].argument_names()


# -- what training keeps: saved_tensors_hooks ----------------------------------------------

def _kept_bytes(module, x) -> int:
    """Bytes of the distinct storages autograd saves in a training forward, the module's
    own tensors aside (tests/test_memory.py's count)."""
    from torch_measure import saved_by_autograd

    with saved_by_autograd(module.train()) as kept:
        module(x)
    return sum(kept.values())


def _saved_bytes(ours, x) -> int:
    sizes = {"model": FLOAT32_BYTES, "float32": FLOAT32_BYTES, "int64": 8}
    total = 0
    for saved in ours.saved_for_backward((x,), ours.evaluate((x,)).output_shape):
        total += prod(x) * FLOAT32_BYTES if saved.what == "input" else \
            saved.elements * sizes[saved.dtype]
    return total


@pytest.mark.parametrize("type_name,args,x", [
    ("attention", {"num_heads": 4, "num_kv_heads": 2}, (2, 5, 12)),
    ("attention", {"num_heads": 4, "num_kv_heads": 1, "is_causal": True, "rotary": True},
     (2, 5, 16)),
    ("attention", {"num_heads": 2, "head_dim": 6, "dropout": 0.1, "rotary": True}, (1, 3, 8)),
    ("attention", {"num_heads": 3, "bias": True, "out_bias": False}, (2, 4, 9)),
    ("gatedmlp", {"hidden_features": 7}, (2, 3, 5)),
    ("gatedmlp", {"hidden_features": 7, "activation": "gelu", "bias": True,
                  "out_features": 3}, (4, 5)),
    ("moe", {"num_experts": 4, "top_k": 2, "hidden_features": 3}, (1, 6, 5)),
    ("moe", {"num_experts": 3, "top_k": 3, "hidden_features": 4, "bias": True}, (2, 5, 3)),
    ("moe", {"num_experts": 5, "top_k": 1, "hidden_features": 2}, (7, 4)),
    ("rmsnorm", {"normalized_shape": 5}, (2, 3, 5)),
    ("rmsnorm", {"normalized_shape": [3, 5], "elementwise_affine": False}, (2, 3, 5)),
])
def test_what_training_keeps_is_what_autograd_keeps(type_name, args, x):
    torch.manual_seed(0)
    ours = REGISTRY[type_name].from_args(args)
    inputs = torch.randn(x, requires_grad=True)      # a layer inside a network
    assert _saved_bytes(ours, x) == _kept_bytes(build_layer(ours, (x,)), inputs)


# -- explain: each working holds, and gives torch's number ----------------------------------

@pytest.mark.parametrize("type_name,args,x", [
    ("attention", {"num_heads": 32, "num_kv_heads": 8, "is_causal": True, "rotary": True},
     (1, 16, 512)),
    ("attention", {"num_heads": 4, "head_dim": 6, "bias": True}, (2, 3, 20)),
    ("attention", {"num_heads": 4, "bias": True, "out_bias": False}, (1, 1, 8)),
    ("gatedmlp", {"hidden_features": 40, "bias": True, "out_features": 8}, (2, 5, 24)),
    ("gatedmlp", {"hidden_features": 40, "activation": "gelu"}, (1, 24)),
    ("moe", {"num_experts": 8, "top_k": 2, "hidden_features": 56}, (1, 12, 16)),
    ("moe", {"num_experts": 3, "top_k": 1, "hidden_features": 5, "bias": True}, (4, 6)),
    ("rmsnorm", {"normalized_shape": [3, 5]}, (2, 3, 5)),
])
def test_explain_steps_hold_and_give_torchs_numbers(type_name, args, x):
    from test_explain import check_working
    from torch_measure import figures_on_meta

    from netcalc.i18n import message

    ours = REGISTRY[type_name].from_args(args)
    y = ours.evaluate((x,)).output_shape
    steps = ours.explain((x,), y)
    figures = figures_on_meta(lambda: build_layer(ours, (x,)), (x,))
    torchs = {"params": figures.total_params, "MACs": figures.macs}
    assert steps
    for step in steps:
        check_working(step)
        assert step.value == torchs[step.quantity], (step.quantity, step.working)
        for remark in step.remarks:          # every remark is in both catalogues
            for lang in ("en", "zh"):
                assert message(lang, remark.key, **remark.args)


def test_moe_explains_total_and_active_parameters():
    ours = layer("moe", num_experts=8, top_k=2, hidden_features=14336)
    x = (1, 4, 4096)
    params, macs = ours.explain((x,), x)
    (active,) = params.remarks
    # Mixtral 8x7B's block: 8 experts of 3·4096·14336, two of them per token
    assert active.args["total"] == 4096 * 8 + 8 * 3 * 4096 * 14336
    assert active.args["active"] == 4096 * 8 + 2 * 3 * 4096 * 14336
    assert macs.working.startswith("1·4·4096·8 + 1·4·2·3·4096·14336 = ")


# -- export writes the same modules; import reads them back ----------------------------------

TINY_DECODER = """\
name: tiny_decoder
input: [12, 64]
layers:
  - {type: rmsnorm, name: norm1, normalized_shape: 64, eps: 1.0e-5}
  - {type: attention, name: attn, num_heads: 8, num_kv_heads: 2, is_causal: true, rotary: true}
  - {type: add, name: res1, inputs: [input, attn]}
  - {type: rmsnorm, name: norm2, normalized_shape: 64}
  - {type: moe, name: moe, num_experts: 4, top_k: 2, hidden_features: 96}
  - {type: add, name: res2, inputs: [res1, moe]}
  - {type: gatedmlp, name: mlp, hidden_features: 128, activation: gelu_tanh, out_features: 32}
"""


def test_export_and_import_round_trip(tmp_path, capsys):
    import importlib.util
    import json

    from helpers import run_cli
    from torch_measure import measure_model

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_DECODER)
    target = tmp_path / "tiny_model.py"
    code, _, err = run_cli(capsys, "export", str(spec), "--to", "torch", "-o", str(target))
    assert code == 0, err
    module_spec = importlib.util.spec_from_file_location("tiny_model", target)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    code, out, _ = run_cli(capsys, "summary", str(spec), "--format", "json")
    summary = json.loads(out)
    measured = measure_model(module.TinyDecoder(), (2, 12, 64))     # real tensors: routed
    assert measured.params == summary["totals"]["params"]
    code, out, _ = run_cli(capsys, "summary", str(spec), "--format", "json", "--batch", "2")
    batched = json.loads(out)
    assert measured.macs == batched["totals"]["macs"]
    layers = {layer["name"]: layer for layer in batched["layers"]}
    for name, (shape, params, macs) in measured.layers.items():
        assert (list(shape), params, macs) == \
            (layers[name]["output_shape"], layers[name]["params"], layers[name]["macs"]), name
    # torch.fx reads netcalc's own modules back as the layers they are
    code, out, err = run_cli(capsys, "import", f"{target}:TinyDecoder", "--input", "12x64")
    assert code == 0, err
    for line in ("{type: attention, name: attn, num_heads: 8, num_kv_heads: 2, is_causal: true, "
                 "rotary: true}",
                 "{type: moe, name: moe, num_experts: 4, top_k: 2, hidden_features: 96}",
                 "{type: gatedmlp, name: mlp, hidden_features: 128, activation: gelu_tanh, "
                 "out_features: 32}"):
        assert line in out


def test_a_users_class_named_attention_is_traced_into():
    """Only netcalc's own Attention (its docstring too) is a layer to torch.fx; a user's
    class of that name is traced into."""
    import capture_models

    from netcalc.torch_bridge.build import own_module
    from netcalc.torch_bridge.fx_import import _trace

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.theirs = capture_models.Attention()
            self.ours = own_module(torch, "Attention")(num_heads=8, num_kv_heads=2,
                                                       embed_dim=32)

        def forward(self, x):
            return self.ours(self.theirs(x))

    called = {node.target for node in _trace(torch, Model(), "t.py:Model").nodes
              if node.op == "call_module"}
    assert "ours" in called and "theirs" not in called and "theirs.qkv" in called


@pytest.mark.parametrize("causal", [True, False])
def test_a_sliding_window_attends_the_last_w_keys(causal):
    """netcalc's module with sliding_window W against attention computed query by query
    over the keys less than W positions away (the earlier ones only, when causal)."""
    window, length = 3, 7
    ours = layer("attention", num_heads=2, num_kv_heads=1, is_causal=causal,
                 sliding_window=window)
    module = build_layer(ours, ((1, length, 8),)).eval()
    x = torch.randn(1, length, 8)
    with torch.no_grad():
        got = module(x)
        q = module.q_proj(x).view(1, length, 2, 4).transpose(1, 2)
        k = module.k_proj(x).view(1, length, 1, 4).transpose(1, 2)
        v = module.v_proj(x).view(1, length, 1, 4).transpose(1, 2)
        rows = []
        for i in range(length):
            keys = [j for j in range(length)
                    if (0 <= i - j < window if causal else abs(i - j) < window)]
            scores = q[:, :, i:i + 1] @ k[:, :, keys].transpose(-1, -2) / 2.0   # √head_dim
            rows.append(scores.softmax(-1) @ v[:, :, keys])
        expected = module.o_proj(torch.cat(rows, 2).transpose(1, 2).flatten(2))
    assert torch.allclose(got, expected, atol=1e-6)
    # the math path computes every score all the same: the MACs do not change
    assert ours.evaluate(((1, length, 8),)).macs == \
        layer("attention", num_heads=2, num_kv_heads=1, is_causal=causal).evaluate(
            ((1, length, 8),)).macs
    # a decoder's cache is a rolling buffer of the last W positions (Mistral's paper)
    assert ours.kv_cache_elements(((1, length, 8),), 100) == (2 * 1 * 4 * window if causal
                                                              else 0)
