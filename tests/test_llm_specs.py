"""The LLM specs (GPT-2, BERT-Base, Llama 2 7B, Mistral 7B, Mixtral 8x7B) against
reference models written as transformers builds them (tests/reference_llms.py),
without transformers itself (tests/corpus/test_llm_specs.py checks its classes).

At full size, on the meta device: the published parameter count, the reference's
parameters and output shapes, and its MACs at the spec's sequence length
(FlopCounterMode, attention on torch's math path). Mixtral's routing needs values,
so its full-size MACs come from Mistral 7B's and the mixture's routing-free count.
At a small size (each spec's top-level params shrunk), on the CPU with real
tensors: totals, outputs, every module whose name the spec shares, every parameter
tensor (under transformers' names), and the values the model computes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

import reference_llms as R
from helpers import SPECS, summarize, summarize_text
from netcalc.spec import parse_spec
from netcalc.torch_bridge import countable_attention
from netcalc.torch_bridge.model import build_model

pytestmark = pytest.mark.torch


# -- the cases ---------------------------------------------------------------------------

def _gpt2_config(p: dict) -> R.GPT2Config:
    return R.GPT2Config(vocab_size=p["vocab"], n_positions=p["positions"], n_embd=p["hidden"],
                        n_layer=p["depth"], n_head=p["heads"],
                        n_inner=None if p["mlp"] == 4 * p["hidden"] else p["mlp"])


def _bert_config(p: dict) -> R.BertConfig:
    return R.BertConfig(vocab_size=p["vocab"], hidden_size=p["hidden"],
                        num_hidden_layers=p["depth"], num_attention_heads=p["heads"],
                        intermediate_size=p["mlp"], max_position_embeddings=p["positions"],
                        type_vocab_size=p["types"])


def _llama_config(base: R.LlamaConfig) -> Callable[[dict], R.LlamaConfig]:
    def config(p: dict) -> R.LlamaConfig:
        moe = {"num_local_experts": p["experts"], "num_experts_per_tok": p["top_k"]} \
            if "experts" in p else {}
        return replace(base, vocab_size=p["vocab"], hidden_size=p["hidden"],
                       intermediate_size=p["mlp"], num_hidden_layers=p["depth"],
                       num_attention_heads=p["heads"], num_key_value_heads=p["kv_heads"], **moe)
    return config


# our parameter names -> transformers' (several of ours may make one of theirs)
GPT2_NAMES = ((r"attn\.[qkv]_proj\.", "attn.c_attn."), (r"attn\.o_proj\.", "attn.c_proj."))
BERT_PAIRS = (("attention.self_attention.q_proj.", "attention.self.query."),
              ("attention.self_attention.k_proj.", "attention.self.key."),
              ("attention.self_attention.v_proj.", "attention.self.value."),
              ("attention.self_attention.o_proj.", "attention.output.dense."),
              ("attention.LayerNorm.", "attention.output.LayerNorm."))
BERT_NAMES = tuple((re.escape(ours), theirs) for ours, theirs in BERT_PAIRS)
MIXTRAL_NAMES = ((r"experts\.\d+\.(gate|up)_proj\.weight", "experts.gate_up_proj"),
                 (r"experts\.\d+\.down_proj\.weight", "experts.down_proj"))


@dataclass(frozen=True)
class LLM:
    published: R.GPT2Config | R.BertConfig | R.LlamaConfig
    config: Callable[[dict], object]        # the spec's top-level params -> the config
    model: Callable[[object], torch.nn.Module]
    params: int                             # the published count
    macs: int                               # netcalc's at the spec's length (its header's)
    buffers: int                            # transformers' non-persistent buffers
    small: dict                             # a small configuration's params
    names: tuple = ()                       # renames to transformers' tensor names
    shared: tuple = ()                      # module names the spec must share


SMALL_LLAMA = {"vocab": 301, "hidden": 64, "depth": 2, "heads": 4, "kv_heads": 4, "mlp": 136,
               "length": 24}
CASES = {
    "gpt2.yaml": LLM(
        R.GPT2Config(), _gpt2_config, R.GPT2LMHeadModel, 124_439_808, 145_824_153_600, 0,
        {"vocab": 503, "positions": 40, "hidden": 48, "heads": 4, "depth": 2, "mlp": 136,
         "length": 24},
        GPT2_NAMES, ("transformer", "transformer.h.1", "transformer.h.1.attn",
                     "transformer.h.1.mlp", "lm_head")),
    "bert_base.yaml": LLM(
        R.BertConfig(), _bert_config, R.BertModel, 109_482_240, 48_318_971_904, 2 * 512,
        {"vocab": 301, "positions": 40, "types": 3, "hidden": 48, "heads": 4, "depth": 2,
         "mlp": 136, "length": 24},
        BERT_NAMES, ("embeddings", "encoder", "encoder.layer.1", "encoder.layer.1.attention",
                     "encoder.layer.1.output", "pooler")),
    "llama2_7b.yaml": LLM(
        R.LLAMA2_7B, _llama_config(R.LLAMA2_7B), R.LlamaForCausalLM, 6_738_415_616,
        31_460_635_443_200, 2 * 64, SMALL_LLAMA, (),
        ("model", "model.layers.1", "model.layers.1.self_attn", "model.layers.1.mlp",
         "lm_head")),
    "mistral_7b.yaml": LLM(
        R.MISTRAL_7B, _llama_config(R.MISTRAL_7B), R.LlamaForCausalLM, 7_241_732_096,
        33_522_219_745_280, 2 * 64, {**SMALL_LLAMA, "kv_heads": 2}, (),
        ("model", "model.layers.1", "model.layers.1.self_attn", "model.layers.1.mlp",
         "lm_head")),
    "mixtral_8x7b.yaml": LLM(
        R.MIXTRAL_8X7B, _llama_config(R.MIXTRAL_8X7B), R.LlamaForCausalLM, 46_702_792_704,
        56_616_258_895_872, 2 * 64, {**SMALL_LLAMA, "kv_heads": 2, "experts": 4, "top_k": 2},
        MIXTRAL_NAMES, ("model", "model.layers.1", "model.layers.1.self_attn",
                        "model.layers.1.mlp", "lm_head")),
}
MIXTRAL_ACTIVE_PARAMS = 12_879_925_248       # Mistral AI's "12.9B active parameters"


def _doc(spec: str) -> dict:
    return yaml.safe_load((SPECS / spec).read_text())


def shrunk(spec: str, **params) -> str:
    """The spec's text with its top-level params changed."""
    doc = _doc(spec)
    doc["params"].update(params)
    return yaml.safe_dump(doc, sort_keys=False)


def header(spec: str) -> str:
    """The spec's opening comment, its lines joined."""
    lines = []
    for line in (SPECS / spec).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def on_meta(case: LLM, config):
    with torch.device("meta"):
        return case.model(config)


def meta_figures(model, length: int) -> tuple[int, list[tuple[int, ...]]]:
    """MACs and output shapes of a model built on meta, for one sequence of `length`."""
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(1, length, dtype=torch.long, device="meta"))
    return counter.get_total_flops() // 2, _shapes(y)


def _shapes(y) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in (y if isinstance(y, tuple) else (y,))]


# -- full size ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(CASES))
def test_full_size_is_the_published_model(spec):
    case = CASES[spec]
    defaults = _doc(spec)["params"]
    assert case.config(defaults) == case.published       # the spec's sizes are the model's
    reference = on_meta(case, case.published)
    ours = summarize(SPECS / spec)

    assert ours.totals.params == case.params
    assert sum(p.numel() for p in reference.parameters()) == case.params   # tied: once
    # transformers' non-persistent buffers (BERT's position_ids and token_type_ids,
    # the rotary inv_freq and its copy) are no parameters; the specs hold none
    assert sum(b.numel() for b in reference.buffers()) == case.buffers
    assert ours.totals.buffers == 0
    assert ours.totals.macs == case.macs
    assert f"{case.params:,} parameters" in header(spec)
    assert f"{case.macs:,} MACs for a sequence of {defaults['length']:,} tokens" in header(spec)

    if "experts" in defaults:
        return      # routing needs values: test_mixtral_macs_at_full_size
    macs, outputs = meta_figures(reference, defaults["length"])
    assert ours.totals.macs == macs
    assert list(ours.outputs.values()) == outputs


def test_mixtral_macs_at_full_size():
    """Mixtral is Mistral 7B with each MLP a mixture whose MACs do not depend on the
    routing (every token runs exactly top_k experts): Mistral's MACs, each layer's
    dense MLP (3·hidden·mlp a token) swapped for the mixture's."""
    length = _doc("mixtral_8x7b.yaml")["params"]["length"]
    mixtral, mistral = R.MIXTRAL_8X7B, R.MISTRAL_7B
    mistral_macs, _ = meta_figures(on_meta(CASES["mistral_7b.yaml"], mistral), length)
    dense_mlp = 3 * mistral.hidden_size * mistral.intermediate_size
    expected = mistral_macs + mixtral.num_hidden_layers * length * (
        R.moe_macs_per_token(mixtral) - dense_mlp)
    assert summarize(SPECS / "mixtral_8x7b.yaml").totals.macs == expected


def test_mixtral_active_parameters():
    ours = summarize(SPECS / "mixtral_8x7b.yaml")
    assert ours.totals.active_params == R.active_params(R.MIXTRAL_8X7B) == MIXTRAL_ACTIVE_PARAMS
    assert f"{MIXTRAL_ACTIVE_PARAMS:,}" in header("mixtral_8x7b.yaml")


# -- a small size, on the CPU -----------------------------------------------------------------

BATCH = 2


def _small(spec: str):
    """The shrunk spec's summary, and the reference model of the same size (seeded)."""
    case = CASES[spec]
    text = shrunk(spec, **case.small)
    ours = summarize_text(text, file=spec, batch=BATCH)
    torch.manual_seed(0)
    reference = case.model(case.config({**_doc(spec)["params"], **case.small})).eval()
    return case, text, ours, reference


def _ids(case: LLM) -> torch.Tensor:
    return torch.randint(0, case.small["vocab"], (BATCH, case.small["length"]),
                         generator=torch.Generator().manual_seed(1))


def measure(model, ids) -> tuple[int, list, dict[str, tuple]]:
    """MACs, output shapes, and for each module that ran: (output shape, params, MACs)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(module, args, output):
            first = output[0] if isinstance(output, tuple) else output
            if isinstance(first, torch.Tensor):
                shapes.setdefault(name, tuple(first.shape))
        return hook

    modules = dict(model.named_modules())
    hooks = [m.register_forward_hook(record(name)) for name, m in modules.items() if name]
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        y = model(ids)
    for hook in hooks:
        hook.remove()
    root = type(model).__name__
    per_module = counter.get_flop_counts()
    ran = {name: (shape, sum(p.numel() for p in modules[name].parameters()),
                  sum(per_module.get(f"{root}.{name}", {}).values()) // 2)
           for name, shape in shapes.items()}
    return counter.get_total_flops() // 2, _shapes(y), ran


@pytest.mark.parametrize("spec", sorted(CASES))
def test_small_size_equals_the_reference(spec):
    case, _, ours, reference = _small(spec)
    macs, outputs, modules = measure(reference, _ids(case))

    assert ours.totals.params == sum(p.numel() for p in reference.parameters())
    assert ours.totals.macs == macs
    assert list(ours.outputs.values()) == outputs

    # every module the spec names as transformers does: its output, params and MACs
    every_tensor = {f"{layer.name}.{t}": n for layer in ours.layers
                    for t, n in layer.param_tensors.items()}
    rows = {row.name: (row.type, row.output_shape, row.params, row.macs) for row in ours.blocks}
    for layer in ours.layers:     # a tied tensor is the module's too (lm_head's weight)
        tied = sum(every_tensor[source] for source in layer.tied_params.values())
        rows[layer.name] = (layer.type, layer.output_shape, layer.params + tied, layer.macs)
    shared = sorted(set(rows) & set(modules))
    assert set(case.shared) <= set(shared)
    for name in shared:
        shape, params, module_macs = modules[name]
        kind, our_shape, our_params, our_macs = rows[name]
        if kind == "parameter":   # the table itself; transformers' Embedding gives its rows
            our_shape = shape
        assert (our_shape, our_params, our_macs) == (shape, params, module_macs), name


@pytest.mark.parametrize("spec", sorted(CASES))
def test_every_parameter_tensor_is_the_references(spec):
    """Under transformers' names (GPT-2's fused c_attn, BERT's query/key/value and
    output.dense, Mixtral's experts in two 3-D tensors: several of ours make one)."""
    case, _, ours, reference = _small(spec)
    theirs: dict[str, int] = {}
    for layer in ours.layers:
        for tensor, n in layer.param_tensors.items():
            name = f"{layer.name}.{tensor}"
            for pattern, replacement in case.names:
                name = re.sub(pattern, replacement, name)
            theirs[name] = theirs.get(name, 0) + n
    assert theirs == {name: p.numel() for name, p in reference.named_parameters()}


# -- the same function ------------------------------------------------------------------------

def _as_ours(spec: str, state: dict) -> dict:
    """The reference's weights under the spec's names, in torch.nn.Linear's layout."""
    result = {}
    for name, value in state.items():
        if spec == "gpt2.yaml":          # Conv1D keeps [in, out]; c_attn is q, k and v
            if name.endswith("attn.c_attn.weight") or name.endswith("attn.c_attn.bias"):
                prefix, kind = name.rsplit(".c_attn.", 1)
                for proj, part in zip("qkv", value.chunk(3, dim=-1)):
                    result[f"{prefix}.{proj}_proj.{kind}"] = part.T if kind == "weight" else part
                continue
            if re.search(r"\.(c_fc|c_proj)\.weight$", name):
                value = value.T
            name = name.replace("attn.c_proj.", "attn.o_proj.")
        elif spec == "bert_base.yaml":
            for ours, theirs in BERT_PAIRS:
                name = name.replace(theirs, ours)
        elif spec == "mixtral_8x7b.yaml" and name.endswith("experts.gate_up_proj"):
            prefix = name.removesuffix("gate_up_proj")
            for i, expert in enumerate(value):
                gate, up = expert.chunk(2, dim=0)
                result[f"{prefix}{i}.gate_proj.weight"] = gate
                result[f"{prefix}{i}.up_proj.weight"] = up
            continue
        elif spec == "mixtral_8x7b.yaml" and name.endswith("experts.down_proj"):
            prefix = name.removesuffix("down_proj")
            for i, expert in enumerate(value):
                result[f"{prefix}{i}.down_proj.weight"] = expert
            continue
        result[name] = value.contiguous()
    return result


def _same_function(spec: str) -> tuple:
    case, text, ours, reference = _small(spec)
    model = build_model(parse_spec(text, spec), ours).eval()
    model.load_state_dict(_as_ours(spec, reference.state_dict()), strict=True)
    ids = _ids(case)
    with torch.no_grad():
        expected, got = _tensors(reference(ids)), _tensors(model(ids))
    return expected, got


def _tensors(y) -> tuple:
    return y if isinstance(y, tuple) else (y,)


@pytest.mark.parametrize("spec", sorted(CASES))
def test_spec_computes_what_the_reference_computes(spec):
    """The spec's torch model (netcalc's build) with the reference's weights gives its
    outputs: causal masks, rotary positions (Mixtral's base 1e6, the others' 10,000),
    GQA's grouping, post-norm and tied heads are where transformers puts them."""
    expected, got = _same_function(spec)
    assert [e.shape for e in expected] == [g.shape for g in got]
    for e, g in zip(expected, got):
        assert e.abs().max() > 0.1
        assert torch.allclose(e, g, atol=1e-4, rtol=1e-4), (e - g).abs().max()
