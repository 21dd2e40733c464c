"""What summary states for sequence models besides the totals, checked against torch:
tied weights (counted once, as torch's `parameters()` does), the KV cache a decoder
keeps (as torch's own key and value tensors weigh), and the causal-effective MACs
(FlopCounterMode's count of causal attention, whose masked half they leave out)."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from helpers import run_cli, summarize_text
from netcalc.spec import parse_spec
from netcalc.torch_bridge.model import build_model

pytestmark = pytest.mark.torch

TIED = """
name: tiny_lm
inputs: {input_ids: {shape: [16], dtype: int64}}
blocks:
  body:
    layers:
      - {type: embedding, name: wte, num_embeddings: 100, embedding_dim: 32}
      - {type: layernorm, name: ln_f, normalized_shape: [32]}
layers:
  - {type: body, name: transformer}
  - {type: linear, name: lm_head, out_features: 100, bias: false, tie_weight: transformer.wte}
"""


class TiedLM(torch.nn.Module):
    """The same model as torch users write it: `lm_head.weight = wte.weight`."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(100, 32)
        self.ln_f = torch.nn.LayerNorm(32)
        self.lm_head = torch.nn.Linear(32, 100, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids):
        return self.lm_head(self.ln_f(self.wte(ids)))


def test_a_tied_head_counts_the_embedding_once_as_torch_does():
    summary = summarize_text(TIED)
    model = TiedLM()
    assert summary.totals.params == sum(p.numel() for p in model.parameters()) == 3_264
    layers = {layer.name: layer for layer in summary.layers}
    assert layers["lm_head"].params == 0
    assert layers["lm_head"].tied_params == {"weight": "transformer.wte.weight"}
    assert layers["transformer.wte"].params == model.wte.weight.numel()
    # the memory of the weights is the once-counted weights'
    assert summary.totals.param_bytes == 4 * sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 16, dtype=torch.long))
    assert summary.totals.macs == counter.get_total_flops() // 2


def test_the_model_netcalc_builds_shares_the_tensor():
    spec = parse_spec(TIED, "tied.yaml")
    summary = summarize_text(TIED)
    model = build_model(spec, summary)
    modules = model.layer_modules()
    assert modules["lm_head"].weight is modules["transformer.wte"].weight
    assert sum(p.numel() for p in model.parameters()) == summary.totals.params


def test_export_writes_the_tie(tmp_path, capsys):
    spec = tmp_path / "tied.yaml"
    spec.write_text(TIED)
    code, out, _ = run_cli(capsys, "export", str(spec), "--to", "torch")
    assert code == 0
    assert "self.lm_head.weight = self.transformer.wte.weight" in out
    namespace: dict = {}
    exec(compile(out, "exported.py", "exec"), namespace)
    model = namespace["TinyLm"]()
    assert sum(p.numel() for p in model.parameters()) == 3_264
    assert model.lm_head.weight is model.transformer.wte.weight


def test_a_python_spec_ties_by_name_or_by_output(tmp_path, capsys):
    source = tmp_path / "lm.py"
    source.write_text(
        "from netcalc import Network\n"
        "net = Network('lm', inputs={'ids': {'shape': [8], 'dtype': 'int64'}})\n"
        "wte = net.embedding('wte', num_embeddings=50, embedding_dim=16)\n"
        "net.linear('head', out_features=50, bias=False, tie_weight=wte)\n")
    code, out, _ = run_cli(capsys, "summary", str(source), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["totals"]["params"] == 50 * 16
    assert document["layers"][-1]["tied_params"] == {"weight": "wte.weight"}


@pytest.mark.parametrize("entry, message", [
    ("{type: linear, name: head, out_features: 100, tie_weight: transformer}",
     "tie_weight: 'transformer' is not a layer"),
    ("{type: linear, name: head, out_features: 99, bias: false, tie_weight: transformer.wte}",
     "tie_weight: this layer's weight is [99, 32] but 'transformer.wte' holds [100, 32]"),
    ("{type: relu, name: head, tie_weight: transformer.wte}",
     "tie_weight: a layer without a weight cannot share one"),
    ("{type: linear, name: head, out_features: 100, tie_weight: nowhere}",
     "unknown layer 'nowhere'"),
])
def test_a_tie_that_cannot_hold_is_a_located_error(entry, message, tmp_path, capsys):
    lines = TIED.replace(
        "  - {type: linear, name: lm_head, out_features: 100, bias: false, "
        "tie_weight: transformer.wte}", f"  - {entry}")
    spec = tmp_path / "bad.yaml"
    spec.write_text(lines)
    code, out, err = run_cli(capsys, "summary", str(spec))
    assert code == 1 and out == ""
    row = lines.splitlines().index(f"  - {entry}") + 1
    assert err.startswith(f"{spec}:{row}:"), err
    assert message in err, err


DECODER = """
name: decoder_attention
inputs: {q: [8, 24, 16], k: [2, 24, 16], v: [2, 24, 16]}
layers:
  - {type: sdpa, name: attn, inputs: [q, k, v], is_causal: true, enable_gqa: true}
"""


@pytest.mark.parametrize("dtype, torch_dtype", [("float16", torch.float16),
                                                ("float32", torch.float32)])
def test_the_kv_cache_weighs_what_torchs_keys_and_values_weigh(dtype, torch_dtype):
    context, batch = 100, 3
    summary = summarize_text(DECODER, dtype=dtype, batch=batch, kv_context=context)
    # the cache at `context` tokens is the k and v this layer reads at that length
    keys = torch.zeros(batch, 2, context, 16, dtype=torch_dtype)
    values = torch.zeros(batch, 2, context, 16, dtype=torch_dtype)
    weight = keys.numel() * keys.element_size() + values.numel() * values.element_size()
    kv = summary.kv_cache
    assert kv.batch_bytes == weight
    assert kv.sequence_bytes == weight // batch
    assert (kv.layers, kv.layer_token_elements, kv.context) == (1, 2 * 16, context)
    assert kv.generation_bytes == summary.totals.param_bytes + weight


def test_causal_effective_macs_halve_the_attention_torch_counts():
    summary = summarize_text(DECODER)
    q, k, v = (torch.zeros(1, 8, 24, 16), torch.zeros(1, 2, 24, 16), torch.zeros(1, 2, 24, 16))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                         enable_gqa=True)
    full = counter.get_total_flops() // 2
    t = summary.totals
    assert t.macs == t.causal_attention_macs == full
    assert t.causal_effective_macs == full - full // 2


def test_summary_states_the_kv_cache_and_the_causal_effective_line(tmp_path, capsys):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(DECODER)
    code, out, _ = run_cli(capsys, "summary", str(spec), "--kv-cache", "4096", "--dtype",
                           "float16")
    assert code == 0
    assert ("KV cache  512.00 KiB per sequence at 4,096 tokens = 2 (K, V) · 1 layer · 32 "
            "(kv_heads·head_dim) · 4,096 tokens · 2 bytes") in out
    # 8 heads · 24 queries · 24 keys · (16 + 16): 147,456 MACs, half of them masked
    assert "causal-effective 73,728 (73.73 K)" in out
    code, out, _ = run_cli(capsys, "summary", str(spec), "--kv-cache", "64", "--format",
                           "json")
    assert json.loads(out)["kv_cache"]["sequence_bytes"] == 2 * 2 * 16 * 64 * 4


@pytest.mark.parametrize("args, message", [
    (["--kv-cache", "0"], "--kv-cache"),
    (["--kv-cache", "many"], "--kv-cache"),
])
def test_a_bad_context_is_a_usage_error(args, message, tmp_path, capsys):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(DECODER)
    code, _, err = run_cli(capsys, "summary", str(spec), *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_spec_without_causal_attention_has_no_cache_to_size(tmp_path, capsys):
    spec = tmp_path / "encoder.yaml"
    spec.write_text(DECODER.replace("is_causal: true", "is_causal: false"))
    code, _, err = run_cli(capsys, "summary", str(spec), "--kv-cache", "128")
    assert code == 2
    assert "no layer of this spec caches keys and values" in err


def test_checkpointing_names_a_block_or_says_which_exist(capsys):
    from helpers import SPECS
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "vit_b_16.yaml"), "--checkpoint",
                           "encoder.layers.*")
    assert code == 0 and "training (adam, checkpointing encoder.layers.*)" in out
    code, _, err = run_cli(capsys, "summary", str(SPECS / "vit_b_16.yaml"), "--checkpoint",
                           "encoder.layer")
    assert code == 2
    assert "--checkpoint encoder.layer: no block or repeat of that name; did you mean " \
           "'encoder.layers'?" in err


@pytest.mark.parametrize("given, correct, hint", [
    (524_288, True, None),
    (262_144, False, "kv_forgot_values"),          # the keys alone, or the values
    (131_072, False, "kv_elements_not_bytes"),     # 2·2·8·4096 elements of 4 bytes
])
def test_check_grades_a_kv_cache_answer_against_torchs_tensors(given, correct, hint, tmp_path,
                                                                 capsys):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(DECODER.replace("24, 16]", "24, 8]"))
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"total_kv_cache: {given}\n")
    keys = torch.zeros(1, 2, 4096, 8)                  # one sequence's k (and v) at 4096
    assert 2 * keys.numel() * keys.element_size() == 524_288
    code, out, _ = run_cli(capsys, "check", str(spec), str(answers), "--kv-cache", "4096",
                           "--format", "json")
    item = json.loads(out)["items"][0]
    assert (code == 0) == correct and item["correct"] == correct
    assert item["expected"] == 524_288 and item["hint_key"] == hint
    assert item["working"] == ["2·layers·(kv_heads·head_dim)·context·bytes = 2·1·16·4,096·4 = "
                               "524,288"]


def test_a_kv_cache_answer_needs_the_context(tmp_path, capsys):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(DECODER)
    answers = tmp_path / "answers.yaml"
    answers.write_text("total_kv_cache: 1000\n")
    code, _, err = run_cli(capsys, "check", str(spec), str(answers))
    assert code == 1
    assert err.startswith(f"{answers}:1:17: error: total_kv_cache: give the context with "
                          "--kv-cache CONTEXT")


SELF_ATTENTION = """
name: tiny_encoder
inputs: {ids: {shape: [16], dtype: int64}}
layers:
  - {type: embedding, name: embed, num_embeddings: 50, embedding_dim: 32}
  - {type: multiheadattention, name: attn, num_heads: 4, batch_first: true}
  - {type: linear, name: head, out_features: 50}
"""


class TinyEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 32)
        self.attn = torch.nn.MultiheadAttention(32, 4, batch_first=True)
        self.head = torch.nn.Linear(32, 50)

    def forward(self, ids):
        x = self.embed(ids)
        return self.head(self.attn(x, x, x, need_weights=False)[0])


def _torch_macs(length: int) -> int:
    from netcalc.torch_bridge import countable_attention

    model = TinyEncoder().eval()
    # off the fused inference kernel FlopCounterMode cannot see, on the math path
    with torch.no_grad(), countable_attention(torch), FlopCounterMode(display=False) as counter:
        model(torch.zeros(2, length, dtype=torch.long))
    return counter.get_total_flops() // 2


def test_macs_in_l_split_by_degree_as_torch_grows(tmp_path, capsys):
    spec = tmp_path / "encoder.yaml"
    spec.write_text(SELF_ATTENTION)
    code, out, _ = run_cli(capsys, "summary", str(spec), "--input", "ids=L", "--batch", "2",
                           "--format", "json")
    assert code == 0
    split = json.loads(out)["macs_by_degree"]["L"]
    # torch's count at L − 1, L, L + 1: its second difference is twice the L² coefficient,
    # and what is left at L is the linear term
    at = {n: _torch_macs(n) for n in (9, 10, 11)}
    quadratic = (at[11] - 2 * at[10] + at[9]) // 2
    linear = (at[10] - quadratic * 100) // 10
    assert split["terms"] == {"2": f"{quadratic:,}·L²", "1": f"{linear:,}·L"}
    assert split["highest_degree_from"] == ["multiheadattention"]
    code, out, _ = run_cli(capsys, "summary", str(spec), "--input", "ids=L", "--batch", "2")
    assert f"by degree in L: quadratic {quadratic:,}·L² (from multiheadattention), linear " \
           f"{linear:,}·L" in out


def _most_scores_alive(module, x, score_bytes: int) -> int:
    """The most bytes torch holds at once in tensors the size of one layer's attention
    scores [N, heads, L, S], running `module` on the math path (a dispatch mode sees
    every tensor made; a weakref on its storage sees it freed)."""
    import weakref

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    from netcalc.torch_bridge import countable_attention

    class Scores(TorchDispatchMode):
        live = most = 0
        seen: set = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                storage = t.untyped_storage() if isinstance(t, torch.Tensor) else None
                if storage is None or storage.nbytes() != score_bytes \
                        or storage.data_ptr() in self.seen:
                    continue
                self.seen.add(storage.data_ptr())
                self.live += score_bytes
                self.most = max(self.most, self.live)
                weakref.finalize(storage, self._freed, storage.data_ptr())
            return out

        def _freed(self, key):
            self.live -= score_bytes
            self.seen.discard(key)

    with torch.no_grad(), countable_attention(torch), Scores() as scores:
        module.eval()(x)
    return scores.most


@pytest.mark.parametrize("causal", [False, True])
def test_inference_states_the_scores_torchs_math_path_holds(causal, tmp_path, capsys):
    from netcalc.torch_bridge.build import own_module

    spec = tmp_path / "attention.yaml"
    spec.write_text("name: a\ninput: [48, 64]\nlayers:\n"
                    f"  - {{type: attention, num_heads: 4, num_kv_heads: 2, is_causal: {causal}}}\n")
    summary = summarize_text(spec.read_text(), batch=2)
    scores = 2 * 4 * 48 * 48 * 4                  # N·heads·L·L float32 elements' bytes
    module = own_module(torch, "Attention")(num_heads=4, num_kv_heads=2, is_causal=causal,
                                             embed_dim=64)
    assert _most_scores_alive(module, torch.randn(2, 48, 64), scores) == 2 * scores
    assert summary.memory.attention_score_bytes == 2 * scores
    code, out, _ = run_cli(capsys, "summary", str(spec), "--batch", "2")
    assert "+ up to 144.00 KiB for one layer's attention scores and softmax" in out


def test_an_embedding_of_a_float_input_is_refused_as_torch_refuses_it(tmp_path, capsys):
    with pytest.raises(RuntimeError, match="indices"):
        torch.nn.Embedding(10, 4)(torch.zeros(1, 50))
    spec = tmp_path / "floats.yaml"
    spec.write_text("name: e\ninput: [50]\nlayers:\n"
                    "  - {type: embedding, num_embeddings: 10, embedding_dim: 4}\n")
    code, _, err = run_cli(capsys, "summary", str(spec))
    assert code == 1
    assert err.startswith(f"{spec}:4:5: error: layer 'embedding_1' (embedding): looks up "
                          "integer indices, but input 'input' is float32")


def test_a_context_past_the_position_table_is_refused(tmp_path, capsys):
    from helpers import SPECS
    code, _, err = run_cli(capsys, "summary", str(SPECS / "gpt2.yaml"), "--kv-cache", "4096")
    assert code == 2
    assert "--kv-cache 4096: 'transformer.wpe' holds 1,024 positions" in err


def test_a_tie_to_a_missing_layer_names_tie_weight(tmp_path, capsys):
    spec = tmp_path / "tie.yaml"
    spec.write_text(TIED.replace("tie_weight: transformer.wte", "tie_weight: transformer.wtf"))
    code, _, err = run_cli(capsys, "summary", str(spec))
    assert code == 1
    assert "unknown layer 'transformer.wtf' in `tie_weight`" in err and "`inputs`" not in err


def test_the_layer_after_pieces_is_told_their_names(tmp_path, capsys):
    spec = tmp_path / "pieces.yaml"
    spec.write_text("name: p\ninput: [30, 16]\nlayers:\n"
                    "  - {type: gru, name: g, hidden_size: 8, batch_first: true}\n"
                    "  - {type: linear, out_features: 2}\n")
    code, _, err = run_cli(capsys, "summary", str(spec))
    assert code == 1
    assert "the layer before gives 2 outputs (g.0, g.1): say which this layer takes with " \
           "`inputs: [g.0]`, or make the entry before one piece (`piece: 0`)" in err


@pytest.mark.parametrize("entry, message", [
    # [50, 64] against the embedding's [64, 50]: as many elements, a shape torch refuses
    ("{type: linear, name: head, out_features: 50, bias: false, tie_weight: wte}",
     "tie_weight: this layer's weight is [50, 64] but 'wte' holds [64, 50]"),
    ("{type: linear, name: head, out_features: 64, bias: false, tie_weight: head}",
     "tie_weight: a layer cannot share its weight with itself"),
    ("{type: gru, name: [out, h], hidden_size: 4, tie_weight: wte}",
     "tie_weight: gru holds no weight another layer could share"),
    ("{type: tied_head, name: h, tie_weight: wte}",
     "tie_weight is for a layer, and 'tied_head' is a block"),
])
def test_ties_torch_could_not_hold_are_refused(entry, message, tmp_path, capsys):
    text = ("name: t\ninputs: {ids: {shape: [8], dtype: int64}}\n"
            "blocks:\n  tied_head:\n    layers:\n      - {type: linear, out_features: 64}\n"
            "layers:\n  - {type: embedding, name: wte, num_embeddings: 64, embedding_dim: 50}\n"
            "  - {type: linear, name: proj, out_features: 64}\n"
            f"  - {entry}\n")
    spec = tmp_path / "tie.yaml"
    spec.write_text(text)
    code, _, err = run_cli(capsys, "summary", str(spec))
    assert code == 1, err
    assert err.startswith(f"{spec}:10:"), err
    assert message in err, err
    if "[50, 64]" in message:         # torch refuses that tie when it runs
        wte, head = torch.nn.Embedding(64, 50), torch.nn.Linear(64, 50, bias=False)
        head.weight = wte.weight
        with pytest.raises(RuntimeError):
            head(torch.nn.Linear(50, 64)(wte(torch.zeros(1, 8, dtype=torch.long))))


def test_a_checkpoint_name_is_checked_at_letters_too(capsys):
    from helpers import SPECS
    code, _, err = run_cli(capsys, "summary", str(SPECS / "gpt2.yaml"), "--input",
                           "input_ids=L", "--checkpoint", "transformer.hh.*")
    assert code == 2 and "--checkpoint transformer.hh.*: no block or repeat" in err


def test_explain_works_out_the_kv_cache_torchs_tensors_weigh(tmp_path, capsys):
    spec = tmp_path / "decoder.yaml"
    spec.write_text(DECODER)
    code, out, _ = run_cli(capsys, "explain", str(spec), "--kv-cache", "100", "--dtype",
                           "bfloat16", "--format", "json")
    assert code == 0
    working = json.loads(out)["layers"][-1]
    keys = torch.zeros(1, 2, 100, 16, dtype=torch.bfloat16)     # one sequence's k (and v)
    assert working["name"] == "KV cache"
    (step,) = working["steps"]
    assert step["value"] == 2 * keys.numel() * keys.element_size()
    assert step["working"] == f"2·1·32·100·2 = {step['value']:,}"


def test_a_sliding_window_bounds_the_cache_to_its_positions(capsys):
    """Mistral 7B v0.1: a rolling buffer of 4,096 positions (its paper, §2), so at 32,768
    tokens the cache is 2 · 32 layers · 8 kv heads · 128 · 4,096 · 2 bytes."""
    from helpers import SPECS
    keys = torch.zeros(1, 8, 4096, 128, dtype=torch.float16)      # one layer's keys
    expected = 32 * 2 * keys.numel() * keys.element_size()
    summary = summarize_text((SPECS / "mistral_7b.yaml").read_text(), dtype="float16",
                             kv_context=32768)
    assert summary.kv_cache.sequence_bytes == expected == 512 * 2**20
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "mistral_7b.yaml"), "--depth", "1",
                           "--kv-cache", "32768", "--dtype", "float16")
    assert "4,096 positions (the sliding window)" in out
    assert summarize_text((SPECS / "mistral_7b.yaml").read_text(), dtype="float16",
                          kv_context=2048).kv_cache.sequence_bytes == expected // 2
