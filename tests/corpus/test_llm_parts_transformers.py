"""The parts of an LLM against transformers' own modules (the corpus profile, where
transformers is installed): netcalc's `attention` is LlamaAttention (parameters by
name, MACs, the KV cache), `gatedmlp` LlamaMLP (and the same function with its
weights), `moe` MixtralSparseMoeBlock (parameters, MACs, active parameters)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
    pytest.skip("these need torch and transformers (pip install -r "
                "tests/corpus/requirements.txt --no-deps)", allow_module_level=True)

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from test_transformer_parts import flop_macs, flop_macs_of, layer  # noqa: E402

from netcalc.torch_bridge.build import build_layer  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.corpus]


# -- against transformers' own modules ----------------------------------------------------

@contextlib.contextmanager
def _without_torchvision():
    """transformers imports torchvision when installed; a torchvision built for another
    torch fails at import. These modules need none of it."""
    saved = sys.modules.get("torchvision", False)
    sys.modules["torchvision"] = None
    try:
        yield
    finally:
        if saved is False:
            del sys.modules["torchvision"]
        else:
            sys.modules["torchvision"] = saved


@pytest.fixture(scope="module")
def transformers():
    with _without_torchvision():
        module = pytest.importorskip("transformers")
        from transformers.models.llama import modeling_llama
        from transformers.models.mixtral import modeling_mixtral
    return module, modeling_llama, modeling_mixtral


def _sizes(module) -> dict[str, int]:
    return {name: p.numel() for name, p in module.named_parameters()}


@pytest.mark.parametrize("heads,kv_heads,head_dim,bias", [
    (8, 2, None, False), (4, 4, None, True), (4, 1, 12, False)])
def test_attention_is_transformers_llama_attention(transformers, heads, kv_heads, head_dim,
                                                   bias):
    module, llama, _ = transformers
    hidden, n, length = 32, 2, 6
    config = module.LlamaConfig(hidden_size=hidden, num_attention_heads=heads,
                                num_key_value_heads=kv_heads, attention_bias=bias,
                                **({"head_dim": head_dim} if head_dim else {}))
    config._attn_implementation = "sdpa"
    theirs = llama.LlamaAttention(config, layer_idx=0).eval()
    ours = layer("attention", num_heads=heads, num_kv_heads=kv_heads, bias=bias,
                 is_causal=True, rotary=True, **({"head_dim": head_dim} if head_dim else {}))
    x = (n, length, hidden)
    numbers = ours.evaluate((x,))
    assert dict(numbers.params) == _sizes(theirs)      # names and sizes: q/k/v/o_proj
    assert dict(numbers.buffers) == {}

    rotary = llama.LlamaRotaryEmbedding(config)
    hidden_states = torch.randn(x)
    position_embeddings = rotary(hidden_states, torch.arange(length)[None].expand(n, -1))

    assert numbers.macs == flop_macs_of(lambda: theirs(
        hidden_states, position_embeddings=position_embeddings, attention_mask=None)[0])
    # their KV cache after one causal forward: a key and a value per token and kv head
    cache = module.DynamicCache(config=config)
    with torch.no_grad():
        theirs(hidden_states, position_embeddings=position_embeddings, attention_mask=None,
               cache=cache)
    keys, values = cache.layers[0].keys, cache.layers[0].values
    assert ours.kv_cache_elements((x,), length) == (keys.numel() + values.numel()) // n


@pytest.mark.parametrize("activation,hidden_act", [("silu", "silu"), ("gelu", "gelu"),
                                                   ("gelu_tanh", "gelu_pytorch_tanh")])
def test_gatedmlp_is_transformers_llama_mlp(transformers, activation, hidden_act):
    module, llama, _ = transformers
    config = module.LlamaConfig(hidden_size=24, intermediate_size=40, hidden_act=hidden_act,
                                num_attention_heads=4, num_key_value_heads=4)
    theirs = llama.LlamaMLP(config).eval()
    ours = layer("gatedmlp", hidden_features=40, activation=activation)
    x = (2, 5, 24)
    numbers = ours.evaluate((x,))
    assert dict(numbers.params) == _sizes(theirs)
    assert numbers.macs == flop_macs(theirs, torch.randn(x)) == 2 * 5 * (2 * 24 * 40 + 40 * 24)
    assert ours.notation() == ("SwiGLU" if activation == "silu" else "GeGLU") + " mlp 40"
    # the same function: our module with their weights
    mine = build_layer(ours, (x,)).eval()
    mine.load_state_dict(theirs.state_dict())
    inputs = torch.randn(x)
    with torch.no_grad():
        assert torch.allclose(mine(inputs), theirs(inputs), atol=1e-6)


def test_moe_is_transformers_mixtral_sparse_moe_block(transformers):
    """transformers 5 stores the experts as two 3-D tensors (gate_up_proj, down_proj);
    netcalc names them as Llama's MLPs, experts.{i}.gate_proj ...: the same sizes."""
    module, _, mixtral = transformers
    hidden, intermediate, experts, top_k = 16, 24, 4, 2
    config = module.MixtralConfig(hidden_size=hidden, intermediate_size=intermediate,
                                  num_local_experts=experts, num_experts_per_tok=top_k)
    config._experts_implementation = "eager"      # each expert on its own tokens
    theirs = mixtral.MixtralSparseMoeBlock(config).eval()
    for p in theirs.parameters():
        torch.nn.init.normal_(p, std=0.5)
    ours = layer("moe", num_experts=experts, top_k=top_k, hidden_features=intermediate)
    x = (3, 10, hidden)
    numbers = ours.evaluate((x,))
    theirs_sizes = _sizes(theirs)
    assert numbers.params["gate.weight"] == theirs_sizes["gate.weight"]
    assert sum(numbers.params.values()) == sum(theirs_sizes.values())
    assert numbers.macs == flop_macs(theirs, torch.randn(x))
    # one token: the router and top_k experts' shares of their 3-D tensors
    per_expert = (theirs_sizes["experts.gate_up_proj"] + theirs_sizes["experts.down_proj"]) \
        // experts
    assert ours.active_params((x,)) == theirs_sizes["gate.weight"] + top_k * per_expert
