"""`check` names the usual slips about sequence layers: each wrong number is worked out
here from torch's own modules (a module without the slipped part), and must get its
named hint; the right number (torch's count) gets ✓."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from helpers import run_cli

LSTM_SPEC = """
name: lstm
input: [20, 32]
layers:
  - {type: lstm, name: lstm, piece: 0, hidden_size: 64, num_layers: 2, bidirectional: true,
     batch_first: true}
"""


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _lstm(**changed):
    settings = {"input_size": 32, "hidden_size": 64, "num_layers": 2, "bidirectional": True,
                "batch_first": True, **changed}
    return nn.LSTM(**settings)


def _grade(tmp_path, capsys, spec_text: str, layer: str, quantity: str, given: int) -> dict:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"{layer}: {{{quantity}: {given}}}\n")
    _, out, _ = run_cli(capsys, "check", str(spec), str(answers), "--format", "json")
    return json.loads(out)["items"][0]


def _lstm_slips():
    right = _lstm()
    one_bias = _params(right) - sum(p.numel() for name, p in right.named_parameters()
                                    if name.startswith("bias_hh"))
    return [
        (_params(right), None),
        (one_bias, "recurrent_one_bias"),
        (_params(_lstm(bidirectional=False)), "recurrent_one_direction"),
        (_params(_lstm(num_layers=1)), "recurrent_first_layer_only"),
        # an LSTM counted as a plain RNN: one gate's weights and biases
        (_params(nn.RNN(32, 64, num_layers=2, bidirectional=True)), "recurrent_one_gate"),
    ]


@pytest.mark.parametrize("given, hint", _lstm_slips())
def test_lstm_parameter_slips_are_named(given, hint, tmp_path, capsys):
    item = _grade(tmp_path, capsys, LSTM_SPEC, "lstm", "params", given)
    assert item["expected"] == _params(_lstm())
    assert item["correct"] == (hint is None)
    assert item["hint_key"] == hint


def test_lstm_macs_of_one_step_are_named(tmp_path, capsys):
    # per step: both directions' gates of both layers, 4·H·(I + H) each
    per_step = 2 * (4 * 64 * (32 + 64) + 4 * 64 * (128 + 64))
    item = _grade(tmp_path, capsys, LSTM_SPEC, "lstm", "macs", per_step)
    assert item["expected"] == 20 * per_step
    assert item["hint_key"] == "recurrent_one_step"


ATTENTION_SPEC = """
name: gqa
input: [16, 256]
layers:
  - {type: attention, name: attn, num_heads: 8, num_kv_heads: 2}
"""


def _projections(kv_heads: int, heads_each_full: bool = False) -> dict:
    """q, k, v, o of a 256-wide layer with 8 heads of 32 as nn.Linear modules."""
    e, d = 256, 32
    width = e if heads_each_full else 8 * d
    return {"q": nn.Linear(e, width * (8 if heads_each_full else 1), bias=False),
            "k": nn.Linear(e, kv_heads * d * (8 if heads_each_full else 1), bias=False),
            "v": nn.Linear(e, kv_heads * d * (8 if heads_each_full else 1), bias=False),
            "o": nn.Linear(width * (8 if heads_each_full else 1), e, bias=False)}


@pytest.mark.parametrize("given, hint", [
    (sum(_params(m) for m in _projections(2).values()), None),
    (sum(_params(m) for m in _projections(8).values()), "kv_heads_as_query_heads"),
    (sum(_params(m) for k, m in _projections(2).items() if k != "o"), "forgot_out_proj"),
    # every projection counted once per head
    (8 * sum(_params(m) for m in _projections(2).values()), "heads_counted_twice"),
])
def test_attention_parameter_slips_are_named(given, hint, tmp_path, capsys):
    item = _grade(tmp_path, capsys, ATTENTION_SPEC, "attn", "params", given)
    assert item["correct"] == (hint is None)
    assert item["hint_key"] == hint


def test_multihead_attention_heads_counted_twice(tmp_path, capsys):
    spec = "name: mha\ninput: [10, 64]\nlayers:\n" \
           "  - {type: multiheadattention, name: attn, num_heads: 4, batch_first: true}\n"
    module = nn.MultiheadAttention(64, 4, batch_first=True)
    weights = sum(p.numel() for name, p in module.named_parameters() if "weight" in name)
    biases = _params(module) - weights
    item = _grade(tmp_path, capsys, spec, "attn", "params", 4 * weights + biases)
    assert item["expected"] == _params(module)
    assert item["hint_key"] == "heads_counted_twice"
    assert "head_dim = embed_dim / num_heads" in item["hint"]


def test_the_hints_read_in_chinese(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(LSTM_SPEC)
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"lstm: {{params: {_params(_lstm(bidirectional=False))}}}\n")
    code, out, _ = run_cli(capsys, "check", str(spec), str(answers), "--lang", "zh")
    assert code == 1
    assert "这只是一个方向" in out


def test_h_n_without_the_batch_drops_torchs_batch_dim(tmp_path, capsys):
    """h_n is [layers·D, N, H]: an answer without the batch leaves out N, dim 1."""
    spec = ("name: enc\ninput: [30, 16]\nlayers:\n"
            "  - {type: gru, name: [out, h_n], hidden_size: 8, num_layers: 2, batch_first: true}\n")
    _, h_n = nn.GRU(16, 8, num_layers=2, batch_first=True)(torch.zeros(1, 30, 16))
    without_batch = [size for dim, size in enumerate(h_n.shape) if dim != 1]
    item = _grade(tmp_path, capsys, spec, "h_n", "output", without_batch)
    assert item["correct"] and item["expected"] == without_batch == [2, 8]


def test_a_gru_counted_with_an_lstms_gates_is_named(tmp_path, capsys):
    spec = ("name: enc\ninput: [30, 16]\nlayers:\n"
            "  - {type: gru, name: g, piece: 0, hidden_size: 8, batch_first: true}\n")
    item = _grade(tmp_path, capsys, spec, "g", "params",
                  _params(nn.LSTM(16, 8, batch_first=True)))
    assert item["expected"] == _params(nn.GRU(16, 8, batch_first=True))
    assert item["hint_key"] == "recurrent_wrong_gates"


def test_a_kv_cache_in_another_dtypes_bytes_is_named(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(ATTENTION_SPEC.replace("num_kv_heads: 2}", "num_kv_heads: 2, is_causal: true}"))
    answers = tmp_path / "answers.yaml"
    # float32's bytes for a float16 cache: 2 · 2 kv heads · 32 · 1,024 tokens · 4 bytes
    keys = torch.zeros(1, 2, 1024, 32, dtype=torch.float32)
    answers.write_text(f"total_kv_cache: {2 * keys.numel() * keys.element_size()}\n")
    _, out, _ = run_cli(capsys, "check", str(spec), str(answers), "--kv-cache", "1024",
                        "--dtype", "float16", "--format", "json")
    item = json.loads(out)["items"][0]
    assert item["expected"] == 2 * keys.numel() * 2
    assert item["hint_key"] == "kv_dtype_bytes"
