"""netcalc's numbers for real timm, torchvision and transformers models, against torch's.

For each model of models.CORPUS, netcalc builds it on the meta device and captures it
with torch.export (`netcalc summary tests/corpus/models.py:NAME --input ...`); the test
builds the same model on the CPU for real, runs it once under FlopCounterMode and checks
that netcalc's parameters, buffers, MACs and output shapes are torch's, exactly.

Run with `pytest --corpus` (tests/corpus/requirements.txt installs the zoos); without
the zoos this module is skipped, and nothing of them is imported to find out.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from netcalc.analyze import analyze

MODELS = Path(__file__).with_name("models.py")

_missing = [name for name in ("torch", "torchvision", "timm", "transformers")
            if importlib.util.find_spec(name) is None]
if _missing:
    pytest.skip(f"the corpus needs {', '.join(_missing)} (pip install -r "
                "tests/corpus/requirements.txt --no-deps)", allow_module_level=True)


def _load_models():
    """models.py, loaded once by path (netcalc loads its own copy of it)."""
    name = "_netcalc_corpus_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, MODELS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CORPUS = _load_models().CORPUS


class Disagreed(AssertionError):
    """netcalc's totals and outputs are torch's, but to_spec found some of its own rules
    disagreeing with torch, and kept those ops as torch's numbers."""


# netcalc bugs, found by the corpus: name -> why. Each runs as xfail(strict=True,
# raises=Disagreed): a wrong total or shape still fails the test, and so does the day
# the disagreement is gone (then take the model out of here).
_ROTARY = ("to_spec calls the unsqueeze that reads a rotary embedding's inv_freq buffer a "
           "disagreement: the view's rule has 0 buffers, torch's op read the buffer")
KNOWN_FAILURES: dict[str, str] = {}


def _cases():
    for name, values, family in CORPUS:
        marks = [pytest.mark.corpus]
        if name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[name], strict=True,
                                           raises=Disagreed))
        yield pytest.param(name, values, family, id=name, marks=marks)


# -- torch's own figures --------------------------------------------------------------

def _sample_inputs(torch, values) -> tuple[list, dict]:
    """Positional and keyword inputs for --input values, with a batch of 1: zeros for
    float tensors, random token ids, masks of ones."""
    args, kwargs = [], {}
    for value in values:
        name, _, text = value.rpartition("=")
        shape_text, _, dtype = text.partition(":")
        shape = (1, *(int(n) for n in shape_text.split("x")))
        if not dtype:
            is_ids = name.endswith("_ids") or name == "ids"
            is_mask = name in ("attention_mask", "decoder_attention_mask")
            dtype = "int64" if is_ids or is_mask else "float32"
        if name.endswith("attention_mask"):
            tensor = torch.ones(shape, dtype=getattr(torch, dtype))
        elif dtype.startswith("int"):
            tensor = torch.randint(0, 100, shape, dtype=getattr(torch, dtype))
        else:
            tensor = torch.zeros(shape, dtype=getattr(torch, dtype))
        if name:
            kwargs[name] = tensor
        else:
            args.append(tensor)
    return args, kwargs


@contextmanager
def _without_onednn(torch, off: bool):
    if not off:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # flags() sets the deprecated allow_tf32 too
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def torch_figures(name: str, values) -> dict:
    """params, buffers, MACs and output shapes of the model, by torch, on the CPU."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from torch_measure import returned_shapes

    from netcalc.torch_bridge import countable_attention
    from netcalc.torch_bridge.capture import make_torchvision_importable

    make_torchvision_importable(torch)
    torch.manual_seed(0)
    model = getattr(_load_models(), name)().eval()
    args, kwargs = _sample_inputs(torch, values)
    if "use_cache" in inspect.signature(model.forward).parameters:
        kwargs["use_cache"] = False
    # counted before forward runs, as netcalc counts them: ConViT's forward swaps a
    # 30-element placeholder buffer for its relative positions (1.15M elements, after)
    params = sum(p.numel() for p in model.parameters())    # a tied weight once
    buffers = sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    # grad mode on: under no_grad torch takes fused attention paths FlopCounterMode counts
    # as 0. oneDNN's fused RNN kernel (mkldnn_rnn) counts 0 too, where the plain CPU path
    # runs matmuls it counts (oneDNN off only where there is an RNN: nothing else needs it)
    has_rnn = any(isinstance(m, torch.nn.RNNBase) for m in model.modules())
    with countable_attention(torch), _without_onednn(torch, has_rnn), counter:
        result = model(*args, **kwargs)
    return {"params": params, "buffers": buffers, "macs": counter.get_total_flops() // 2,
            "outputs": returned_shapes(result)}


# -- netcalc's ------------------------------------------------------------------------

def netcalc_figures(name: str, values) -> tuple[dict, list[str]]:
    from netcalc.torch_bridge.capture import capture, to_spec

    captured = capture(f"{MODELS}:{name}", tuple(values), {}, 1)
    spec, disagreements = to_spec(captured)
    summary = analyze(spec, batch=1)
    return {
        "params": summary.totals.params,
        "buffers": summary.totals.buffers,
        "macs": summary.totals.macs,
        "outputs": {key: tuple(shape) for key, shape in summary.outputs.items()},
    }, disagreements


@pytest.mark.parametrize("name,values,family", list(_cases()))
def test_netcalc_matches_torch(name, values, family):
    expected = torch_figures(name, values)
    got, disagreements = netcalc_figures(name, values)
    wrong = []
    for figure in ("params", "buffers", "macs"):
        if got[figure] != expected[figure]:
            wrong.append(f"{figure}: netcalc {got[figure]:,}, torch {expected[figure]:,} "
                         f"(off by {got[figure] - expected[figure]:+,})")
    if got["outputs"] != expected["outputs"]:
        wrong.append(f"outputs: netcalc {got['outputs']}, torch {expected['outputs']}")
    where = f"{name} ({family}, --input {' '.join(values)})"
    disagreed = "netcalc's rules disagreed with torch: " + "; ".join(disagreements)
    assert not wrong, f"{where}:\n  " + "\n  ".join(wrong + [disagreed] * bool(disagreements))
    if disagreements:
        raise Disagreed(f"{where}, totals and outputs right, but {disagreed}")
