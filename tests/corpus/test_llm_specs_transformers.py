"""The LLM specs against transformers' own classes, built from a config (nothing
downloaded): GPT2LMHeadModel, BertModel, LlamaForCausalLM, MistralForCausalLM and
MixtralForCausalLM. tests/test_llm_specs.py checks the same specs against plain-torch
copies without transformers; this checks those copies' model too.

At full size the models are built on the meta device: their parameters, and (the
dense ones) their MACs at the spec's sequence length, run with FakeTensor token ids
(FlopCounterMode, attention on torch's math path). transformers' decoders look at
their position ids' values to find packed sequences, which a meta tensor has none
of; on a FakeTensor it skips the look, as it does under torch.export.
Mixtral's routing needs values: it runs at a small size on the CPU, with the "eager"
experts implementation (transformers' default, "grouped_mm", runs the experts in
one aten._grouped_mm that FlopCounterMode counts as 0: test_grouped_mm_experts_...).

Run with `pytest --corpus` (tests/corpus/requirements.txt).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
    pytest.skip("the LLM corpus needs torch and transformers (pip install -r "
                "tests/corpus/requirements.txt --no-deps)", allow_module_level=True)

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import test_llm_specs as plain  # noqa: E402
from helpers import SPECS, summarize, summarize_text  # noqa: E402
from netcalc.spec import parse_spec  # noqa: E402
from netcalc.torch_bridge import countable_attention  # noqa: E402
from netcalc.torch_bridge.model import build_model  # noqa: E402

pytestmark = [pytest.mark.corpus, pytest.mark.torch]
SPEC_NAMES = sorted(plain.CASES)
DENSE = [spec for spec in SPEC_NAMES if spec != "mixtral_8x7b.yaml"]


def _transformers():
    from netcalc.torch_bridge.capture import make_torchvision_importable

    make_torchvision_importable(torch)       # transformers imports torchvision's transforms
    import transformers
    transformers.logging.set_verbosity_error()
    return transformers


def hf_model(spec: str, params: dict, **config):
    """transformers' model for the spec's top-level params."""
    t = _transformers()
    p = params
    if spec == "gpt2.yaml":
        return t.GPT2LMHeadModel(t.GPT2Config(
            vocab_size=p["vocab"], n_positions=p["positions"], n_embd=p["hidden"],
            n_layer=p["depth"], n_head=p["heads"], n_inner=p["mlp"], **config))
    if spec == "bert_base.yaml":
        return t.BertModel(t.BertConfig(
            vocab_size=p["vocab"], hidden_size=p["hidden"], num_hidden_layers=p["depth"],
            num_attention_heads=p["heads"], intermediate_size=p["mlp"],
            max_position_embeddings=p["positions"], type_vocab_size=p["types"], **config))
    common = {"vocab_size": p["vocab"], "hidden_size": p["hidden"],
              "intermediate_size": p["mlp"], "num_hidden_layers": p["depth"],
              "num_attention_heads": p["heads"], "num_key_value_heads": p["kv_heads"],
              "rms_norm_eps": 1e-5, **config}
    if spec == "llama2_7b.yaml":
        return t.LlamaForCausalLM(t.LlamaConfig(**common))
    if spec == "mistral_7b.yaml":
        return t.MistralForCausalLM(t.MistralConfig(**common))
    return t.MixtralForCausalLM(t.MixtralConfig(
        num_local_experts=p["experts"], num_experts_per_tok=p["top_k"], **common))


def _forward(model, ids):
    kwargs = {} if type(model).__name__ == "BertModel" else {"use_cache": False}
    out = model(input_ids=ids, **kwargs)
    if type(model).__name__ == "BertModel":
        return (out.last_hidden_state, out.pooler_output)
    return (out.logits,)


def figures(model, ids) -> tuple[int, list[tuple[int, ...]]]:
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        outputs = _forward(model, ids)
    return counter.get_total_flops() // 2, [tuple(y.shape) for y in outputs]


# -- full size --------------------------------------------------------------------------

# transformers' buffers, all non-persistent (in no state dict): BERT's position_ids and
# token_type_ids (1 × 512 int64 each), the rotary embedding's inv_freq and
# original_inv_freq (head_dim / 2 = 64 each, once per model, not per layer)
BUFFERS = {"gpt2.yaml": {},
           "bert_base.yaml": {"embeddings.position_ids": 512, "embeddings.token_type_ids": 512},
           **{spec: {"model.rotary_emb.inv_freq": 64, "model.rotary_emb.original_inv_freq": 64}
              for spec in ("llama2_7b.yaml", "mistral_7b.yaml", "mixtral_8x7b.yaml")}}


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_full_size_parameters(spec):
    case = plain.CASES[spec]
    with torch.device("meta"):
        model = hf_model(spec, plain._doc(spec)["params"])
    ours = summarize(SPECS / spec)
    assert sum(p.numel() for p in model.parameters()) == ours.totals.params == case.params
    buffers = {name: b.numel() for name, b in model.named_buffers()}
    assert buffers == BUFFERS[spec]
    assert not set(buffers) & set(model.state_dict())          # non-persistent
    assert ours.totals.buffers == 0


@pytest.mark.parametrize("spec", DENSE)
def test_full_size_macs(spec):
    from torch._subclasses.fake_tensor import FakeTensorMode

    params = plain._doc(spec)["params"]
    with torch.device("meta"):
        model = hf_model(spec, params).eval()
    with FakeTensorMode(allow_non_fake_inputs=True):
        macs, outputs = figures(model, torch.zeros(1, params["length"], dtype=torch.long))
    ours = summarize(SPECS / spec)
    assert ours.totals.macs == macs == plain.CASES[spec].macs
    assert list(ours.outputs.values()) == outputs


# -- a small size, on the CPU -----------------------------------------------------------------

def _small(spec: str, **config):
    case = plain.CASES[spec]
    text = plain.shrunk(spec, **case.small)
    ours = summarize_text(text, file=spec, batch=plain.BATCH)
    torch.manual_seed(0)
    model = hf_model(spec, {**plain._doc(spec)["params"], **case.small}, **config).eval()
    return case, text, ours, model


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_small_size(spec):
    config = {"experts_implementation": "eager"} if spec == "mixtral_8x7b.yaml" else {}
    case, _, ours, model = _small(spec, **config)
    macs, outputs = figures(model, plain._ids(case))
    assert ours.totals.params == sum(p.numel() for p in model.parameters())
    assert ours.totals.macs == macs
    assert list(ours.outputs.values()) == outputs


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_spec_computes_what_transformers_computes(spec):
    """netcalc's torch model of the spec, with transformers' weights: the same outputs
    (Mixtral's rotary base, 1e6, included)."""
    config = {"experts_implementation": "eager"} if spec == "mixtral_8x7b.yaml" else {}
    case, text, ours, model = _small(spec, **config)
    built = build_model(parse_spec(text, spec), ours).eval()
    built.load_state_dict(plain._as_ours(spec, model.state_dict()), strict=True)
    ids = plain._ids(case)
    with torch.no_grad(), countable_attention(torch):
        expected, got = _forward(model, ids), built(ids)
    got = got if isinstance(got, tuple) else (got,)
    for e, g in zip(expected, got, strict=True):
        assert e.abs().max() > 0.1
        assert torch.allclose(e, g, atol=1e-4, rtol=1e-4), (e - g).abs().max()


def test_grouped_mm_experts_are_invisible_to_flop_counter_mode():
    """Why the Mixtral tests ask for eager experts: transformers 5's default runs all the
    experts in one aten._grouped_mm, which FlopCounterMode has no formula for. Its count
    misses exactly the experts' MACs, tokens · top_k · 3 · hidden · mlp a layer."""
    spec = "mixtral_8x7b.yaml"
    case, _, ours, model = _small(spec)
    if model.config._experts_implementation != "grouped_mm":
        pytest.skip(f"experts run as {model.config._experts_implementation!r} here")
    macs, _ = figures(model, plain._ids(case))
    p = case.small
    experts = p["depth"] * plain.BATCH * p["length"] * p["top_k"] * 3 * p["hidden"] * p["mlp"]
    assert ours.totals.macs - macs == experts


MIXTRAL_FILE = '''
import sys
sys.modules.setdefault("torchvision", None)     # a torchvision built for another torch
import transformers


def mixtral(experts_implementation=None):
    config = transformers.MixtralConfig(
        vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
        num_experts_per_tok=2)
    model = transformers.MixtralForCausalLM(config)
    if experts_implementation:
        model.config._experts_implementation = experts_implementation
    return model
'''


def test_a_captured_mixtral_counts_its_grouped_experts(tmp_path, capsys):
    """transformers' default experts run in one grouped matmul that FlopCounterMode
    counts 0: netcalc's capture counts it, equal to the eager experts' count."""
    from helpers import run_cli

    source = tmp_path / "mixtral.py"
    source.write_text(MIXTRAL_FILE)
    code, out, err = run_cli(capsys, "summary", f"{source}:mixtral", "--input",
                             "input_ids=16", "--format", "json")
    assert code == 0, err
    assert "netcalc counts its matmuls, one per group" in err
    namespace: dict = {}
    exec(compile(MIXTRAL_FILE, str(source), "exec"), namespace)
    torch.manual_seed(0)
    eager = namespace["mixtral"]("eager").eval()
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        eager(torch.randint(0, 100, (1, 16)))
    assert json.loads(out)["totals"]["macs"] == counter.get_total_flops() // 2
