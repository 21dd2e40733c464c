"""rnn, lstm, gru: the pieces of one call (output, h_n, c_n) named, counted once and run
once in torch; what training keeps, against autograd; the library's sequence specs
against torch models written here."""

from __future__ import annotations

import importlib.util
import json
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from helpers import SPECS, run_cli, summarize, summarize_text
from layer_cases import recurrent
from netcalc.errors import SpecError
from netcalc.layers import REGISTRY
from netcalc.spec import load_spec, parse_spec
from netcalc.torch_bridge.model import build_model
from torch_measure import make_inputs, unrolled_lstm, unrolled_lstm_macs

pytestmark = pytest.mark.torch

PIECES = """\
name: pieces
input: [12, 8]
layers:
  - {type: lstm, name: [out, h_n, c_n], hidden_size: 16, num_layers: 2, bidirectional: true,
     proj_size: 4, batch_first: true}
  - {type: gru, name: g, hidden_size: 5, batch_first: true, inputs: [out]}
  - {type: rnn, name: r, piece: 1, hidden_size: 5, nonlinearity: relu, inputs: [out],
     batch_first: true}
  - {type: add, name: s, inputs: [g.1, r]}
"""


def test_pieces_are_named_and_the_call_counted_once():
    s = summarize_text(PIECES)
    rows = {r.name: r for r in s.layers}
    assert list(rows) == ["out", "h_n", "c_n", "g.0", "g.1", "r", "s"]
    lstm = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=4, batch_first=True)
    gru, rnn = torch.nn.GRU(8, 5, batch_first=True), torch.nn.RNN(8, 5, batch_first=True)
    assert rows["out"].params == sum(p.numel() for p in lstm.parameters())
    assert rows["g.0"].params == sum(p.numel() for p in gru.parameters())
    assert rows["r"].params == sum(p.numel() for p in rnn.parameters())
    for later in ("h_n", "c_n", "g.1"):
        assert (rows[later].params, rows[later].macs) == (0, 0)
    x = torch.zeros(1, 12, 8)
    out, (h_n, c_n) = lstm(x)
    assert [rows[n].output_shape for n in ("out", "h_n", "c_n")] == \
        [tuple(out.shape), tuple(h_n.shape), tuple(c_n.shape)]
    assert rows["out"].macs == unrolled_lstm_macs(lstm, [tuple(x.shape)])
    # each piece's own output is its memory
    assert rows["c_n"].activation_bytes == 4 * c_n.numel()
    assert s.totals.params == sum(rows[n].params for n in ("out", "g.0", "r"))


def test_the_built_model_calls_each_module_once_and_verifies(tmp_path, capsys):
    spec = parse_spec(PIECES, "pieces.yaml")
    model = build_model(spec, summarize_text(PIECES)).eval()
    layer_modules = model.layer_modules()
    calls = {}
    for name in ("out", "g.0"):
        layer_modules[name].register_forward_hook(
            lambda module, args, output, name=name: calls.update({name: calls.get(name, 0) + 1}))
    x = torch.randn(1, 12, 8)
    with torch.no_grad():
        h_n, c_n, g_out, s = model(x)     # the spec's outputs: what no layer reads
    assert calls == {"out": 1, "g.0": 1}
    # the same numbers as the torch modules called directly, with the model's weights
    lstm = layer_modules["out"]
    with torch.no_grad():
        out, (h, c) = torch.nn.LSTM.forward(lstm, x)
        _, g = torch.nn.GRU.forward(layer_modules["g.0"], out)
        _, r = torch.nn.RNN.forward(layer_modules["r"], out)
    assert torch.equal(h_n, h) and torch.equal(c_n, c) and torch.allclose(s, g + r)
    assert g_out.shape == (1, 12, 5)
    # each module is registered once: parameters are the LSTM's, GRU's and RNN's only
    assert sum(p.numel() for p in model.parameters()) == summarize_text(PIECES).totals.params
    path = tmp_path / "pieces.yaml"
    path.write_text(PIECES)
    code, out, err = run_cli(capsys, "verify", str(path), "--device", "cpu", "--runs", "0",
                             "--format", "json")
    result = json.loads(out)
    assert (code, result["ok"]) == (0, True), err
    assert {layer["name"]: layer["macs"]["torch"] for layer in result["layers"]}["h_n"] == 0


def test_export_calls_the_module_once_and_computes_the_same(tmp_path, capsys):
    path, target = tmp_path / "pieces.yaml", tmp_path / "pieces_model.py"
    path.write_text(PIECES)
    code, _, err = run_cli(capsys, "export", str(path), "--to", "torch", "-o", str(target))
    assert code == 0, err
    source = target.read_text()
    assert "out, (h_n, c_n) = self.out(x)" in source
    assert "g_0, g_1 = self.g._modules['0'](out)" in source
    assert "_, r = self.r(out)" in source
    assert "piece=" not in source and "same_call" not in source
    module_spec = importlib.util.spec_from_file_location(target.stem, target)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    exported = module.Pieces().eval()
    reference = build_model(parse_spec(PIECES, str(path)), summarize_text(PIECES)).eval()
    exported.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 12, 8)
    with torch.no_grad():
        for e, g in zip(reference(x), exported(x)):
            assert torch.equal(e, g)
    # and `netcalc verify` reads the exported module itself
    code, out, err = run_cli(capsys, "verify", f"{target}:Pieces", "--input", "12x8",
                             "--device", "cpu", "--runs", "0", "--format", "json")
    assert (code, json.loads(out)["ok"]) == (0, True), err


def test_a_python_spec_takes_the_pieces_like_chunks(tmp_path):
    path = tmp_path / "seq.py"
    path.write_text(
        "from netcalc import Network\n\n"
        "net = Network('seq', input=[5, 3])\n"
        "out, h_n = net.layer('gru', ['out', 'h_n'], hidden_size=4, batch_first=True)\n"
        "last = net.layer('select', 'last', inputs=out, dim=1, index=-1)\n"
        "net.layer('add', 's', inputs=[last, net.layer('select', 'h', inputs=h_n, dim=0, "
        "index=0)])\n")
    spec = load_spec(path)
    assert [(layer.name, layer.layer.piece, layer.layer.same_call) for layer in spec.layers[:2]] \
        == [("out", 0, False), ("h_n", 1, True)]
    rows = {r.name: r for r in summarize(path).layers}
    assert (rows["out"].params, rows["h_n"].params, rows["s"].output_shape) == \
        (sum(p.numel() for p in torch.nn.GRU(3, 4).parameters()), 0, (1, 4))


@pytest.mark.parametrize("text,message", [
    ("  - {type: lstm, name: l, hidden_size: 4}\n  - {type: relu, inputs: [l]}\n",
     "'l' gives 3 outputs: take one (l.0, l.1, l.2)"),
    ("  - {type: lstm, name: [a, b], hidden_size: 4}\n",
     "lstm makes 3 pieces here but `name` lists 2"),
    ("  - {type: gru, name: g, piece: 1, same_call: true, hidden_size: 4}\n",
     "same_call marks the later pieces of one entry"),
    ("  - {type: gru, name: g, piece: 2, hidden_size: 4}\n",
     "piece=2: gru gives 2 outputs (0: output, 1: h_n)"),
    ("  - {type: lstm, name: l, piece: 0, proj_size: 4, hidden_size: 4}\n",
     "proj_size=4 must be smaller than hidden_size=4"),
    ("  - {type: relu, name: h0, inputs: [input]}\n"
     "  - {type: gru, name: g, piece: 0, hidden_size: 4, inputs: [input, h0]}\n",
     "h_0 must be [1, 6, 4] (num_layers·D = 1, N = 6, 4 features), got [1, 6, 3]"),
])
def test_errors_say_what_is_wrong(text, message):
    with pytest.raises(SpecError) as error:
        summarize_text("input: [6, 3]\nlayers:\n" + text)
    assert message in error.value.message


def test_batch_first_false_is_a_warning():
    s = summarize_text("input: [6, 3]\nlayers:\n  - {type: rnn, name: r, piece: 0, "
                       "hidden_size: 4}\n")
    assert any("batch_first is false" in w.message for w in s.warnings)


# -- what training keeps, against autograd ----------------------------------------------

def _kept_by_autograd(module, xs) -> int:
    """Elements of the distinct storages autograd saves, the parameters' aside; torch's
    own implementation (oneDNN's fused LSTM off: see Recurrent.saved_for_backward)."""
    own = {p.untyped_storage().data_ptr() for p in module.parameters()}
    kept = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            kept[storage.data_ptr()] = storage.nbytes() // tensor.element_size()
        return tensor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            module.train()(*xs)
    return sum(kept.values())


@settings(max_examples=60, deadline=None)
@given(data=st.data(), type_name=st.sampled_from(["rnn", "lstm", "gru"]))
def test_what_training_keeps_is_what_autograd_keeps(data, type_name):
    case = data.draw(recurrent(type_name))
    case.args["dropout"] = 0.0            # dropout between layers keeps masks: not this test
    try:
        layer = REGISTRY[type_name].from_args(case.args)
        y = layer.evaluate(tuple(case.shapes)).output_shape
    except SpecError:
        return
    module = layer.torch_module(torch.nn, case.shapes[0])
    xs = make_inputs(case.shapes)
    ours = 0
    for saved in layer.saved_for_backward(tuple(case.shapes), y):
        ours += saved.elements if saved.what == "new" else xs[saved.index].numel()
    assert ours == _kept_by_autograd(module, xs)


# -- the library's sequence models -------------------------------------------------------

class LstmText(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(20_000, 128, padding_idx=0)
        self.lstm = torch.nn.LSTM(128, 256, num_layers=2, bidirectional=True, batch_first=True)
        self.dropout = torch.nn.Dropout(0.5)
        self.classifier = torch.nn.Linear(512, 2)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.classifier(self.dropout(out[:, -1]))


class Seq2SeqGru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.source_embedding = torch.nn.Embedding(8000, 256)
        self.encoder = torch.nn.GRU(256, 512, num_layers=2, batch_first=True)
        self.target_embedding = torch.nn.Embedding(8000, 256)
        self.decoder = torch.nn.GRU(256, 512, num_layers=2, batch_first=True)
        self.generator = torch.nn.Linear(512, 8000)

    def forward(self, source, target):
        _, state = self.encoder(self.source_embedding(source))
        out, _ = self.decoder(self.target_embedding(target), state)
        return self.generator(out)


@pytest.mark.parametrize("name,model,lengths", [("lstm_text", LstmText, (200,)),
                                                ("seq2seq_gru", Seq2SeqGru, (30, 30))])
def test_library_specs_equal_their_torch_models(name, model, lengths):
    torch.manual_seed(0)
    module = model().eval()
    tokens = [torch.randint(0, 100, (2, length)) for length in lengths]
    # FlopCounterMode with oneDNN's fused LSTM off: torch's own implementation, matmuls
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), \
            FlopCounterMode(display=False) as counter:
        y = module(*tokens)
    ours = summarize(SPECS / f"{name}.yaml", batch=2)
    assert ours.totals.params == sum(p.numel() for p in module.parameters())
    assert ours.totals.macs == counter.get_total_flops() // 2
    assert list(ours.outputs.values()) == [tuple(y.shape)]
    header = (SPECS / f"{name}.yaml").read_text()
    at_one = summarize(SPECS / f"{name}.yaml")
    assert f"{at_one.totals.params:,} parameters, {at_one.totals.macs:,} MACs" in \
        " ".join(line.lstrip("# ") for line in header.splitlines())
    if name == "lstm_text":        # the LSTM written out as matmuls counts the same
        lstm = {r.name: r for r in ours.layers}["lstm"]
        assert lstm.macs == unrolled_lstm_macs(module.lstm, [(2, 200, 128)])


def test_the_unrolled_reference_is_torchs_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    x, h, c = torch.randn(4, 2, 3), torch.randn(4, 2, 2), torch.randn(4, 2, 5)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, (h, c))
        mine = unrolled_lstm(lstm, x, (h, c))
    for theirs, ours in zip((out, h_n, c_n), mine):
        assert torch.allclose(theirs, ours, atol=1e-6)


CLASSIFIER = '''
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(64, 3)

    def forward(self, ids):
        out, (h_n, c_n) = self.lstm(self.embed(ids))
        return self.head({taken})
'''


@pytest.mark.parametrize("taken, written", [
    # one output read: that piece alone, the call counted on it
    ("out[:, -1]", "  - {type: lstm, name: lstm, hidden_size: 32, num_layers: 2, batch_first: "
                   "true, bidirectional: true, piece: 0}"),
    # several: one entry of every piece, as a spec writes `out, (h_n, c_n) = ...`
    ("out[:, -1] + torch.cat([h_n[-2], h_n[-1]], 1)",
     "  - {type: lstm, name: [lstm, lstm_h_n, lstm_c_n], hidden_size: 32, num_layers: 2, "
     "batch_first: true, bidirectional: true}"),
])
def test_import_writes_the_outputs_a_model_reads(taken, written, tmp_path, capsys):
    source = tmp_path / "model.py"
    source.write_text(CLASSIFIER.replace("{taken}", taken))
    code, out, err = run_cli(capsys, "import", f"{source}:Classifier", "--input", "12")
    assert code == 0, err
    assert written in out
    spec = tmp_path / "imported.yaml"
    spec.write_text(out)
    summary = summarize(spec)
    model = _load_class(source, "Classifier")
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 12, dtype=torch.long))
    assert summary.totals.macs == counter.get_total_flops() // 2


def test_import_of_h_n_takes_piece_1(tmp_path, capsys):
    source = tmp_path / "model.py"
    source.write_text(CLASSIFIER.replace("{taken}", "h_n[-1]").replace("nn.Linear(64, 3)",
                                                                        "nn.Linear(32, 3)"))
    code, out, err = run_cli(capsys, "import", f"{source}:Classifier", "--input",
                             "12")
    assert code == 0, err
    assert "piece: 1" in out


def _load_class(path, name):
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)()


def test_import_refuses_a_slice_of_the_tuple_with_a_located_error(tmp_path, capsys):
    source = tmp_path / "model.py"
    source.write_text(CLASSIFIER.replace("out, (h_n, c_n) = self.lstm(self.embed(ids))",
                                         "out = self.lstm(self.embed(ids))[:1][0]")
                      .replace("{taken}", "out[:, -1]"))
    code, _, err = run_cli(capsys, "import", f"{source}:Classifier", "--input", "12")
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    assert f"{source}:" in err


def test_the_diagram_writes_h_n_without_its_batch_dim_where_torch_holds_it(capsys):
    """h_n is [layers·D, N, H]: the edge from the encoder's h_n leaves out N, dim 1."""
    _, h_n = torch.nn.GRU(256, 512, num_layers=2, batch_first=True)(torch.zeros(1, 30, 256))
    expected = "×".join(str(size) for dim, size in enumerate(h_n.shape) if dim != 1)
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "seq2seq_gru.yaml"))
    assert code == 0
    assert f'"encoder" -> "decoder" [label=" {expected}"];' in out
