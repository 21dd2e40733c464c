"""Every layer type through the whole torch bridge, on random configurations.

For each valid draw, a one-layer spec goes three ways and each must give
netcalc's own numbers: `verify`'s model (shape, params, buffers and MACs per
layer), the `export`ed Python file run in torch, and `import` of that file
traced back into a spec (the same layer type, output shape, params, buffers and
MACs).
"""

from __future__ import annotations

import importlib.util
import itertools

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from layer_cases import case_for, primary_types
from netcalc.analyze import analyze
from netcalc.errors import SpecError
from netcalc.layers import REGISTRY
from netcalc.spec import parse_spec
from netcalc.torch_bridge.export import export_torch
from netcalc.torch_bridge.fx_import import import_spec
from netcalc.torch_bridge.spec_yaml import _value
from netcalc.torch_bridge.verify import verify
from torch_measure import measure

pytestmark = pytest.mark.torch

_files = itertools.count()
# each draw writes, loads and traces a file: a fifth of the profile's examples
BRIDGE_EXAMPLES = max(settings().max_examples // 5, 1)


# Types export writes as another torch module, and import reads back as that.
EXPORTED_AS = {"stochasticdepth": "identity"}     # what it is at inference


def spec_inputs(case) -> list[tuple[int, ...]]:
    """The spec's inputs: the draw's; one the layer ignores where it reads none."""
    return case.shapes or [(1, 1)]


def one_layer_spec(type_name: str, case) -> str | None:
    """The draw as a spec, or None where a spec cannot say it (unbatched inputs,
    inputs of different batch sizes)."""
    shapes = spec_inputs(case)
    if any(len(shape) < 2 for shape in shapes) or len({shape[0] for shape in shapes}) != 1:
        return None
    rank = REGISTRY[type_name].rank
    if rank and len(shapes[0]) != rank + 2:
        return None                     # unbatched: torch reads the first dim as channels
    dtype = ", dtype: int64" if case.index_high is not None else ""
    inputs = ", ".join(f"x{i}: {{shape: {_value(list(shape[1:]))}{dtype}}}"
                       for i, shape in enumerate(shapes))
    args = "".join(f", {k}: {_value(v)}" for k, v in case.args.items())
    names = ", ".join(f"x{i}" for i in range(len(case.shapes)))
    reads = f", inputs: [{names}]" if case.shapes else ""
    return (f"name: one\ninputs: {{{inputs}}}\nlayers:\n"
            f"  - {{type: {type_name}, name: layer{reads}{args}}}\n")


def _load(path):
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("type_name", primary_types())
@settings(max_examples=BRIDGE_EXAMPLES, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_layer_is_the_same_through_verify_export_and_import(type_name, data, tmp_path_factory):
    case = data.draw(case_for(type_name), label="case")
    text = one_layer_spec(type_name, case)
    assume(text is not None)
    try:
        spec = parse_spec(text, "one.yaml")
        summary = analyze(spec, batch=spec_inputs(case)[0][0])
    except SpecError:
        assume(False)
    layer = summary.layers[0]

    checked = verify(spec, summary, device="cpu", runs=0)
    assert checked.ok, [c for c in checked.layers if not c.ok]

    folder = tmp_path_factory.mktemp("bridge")
    path = folder / f"exported_{next(_files)}.py"
    path.write_text(export_torch(spec, summary))
    exported = _load(path).One()
    # an LSTM as verify runs it: off oneDNN's fused kernel, which FlopCounterMode counts 0
    with torch.backends.mkldnn.flags(enabled=type_name != "lstm"):
        measured = measure(exported, spec_inputs(case), case.index_high)
    assert measured.output_shape == layer.output_shape
    assert sum(measured.params.values()) == layer.params
    assert sum(measured.buffers.values()) == layer.buffers
    assert measured.macs == layer.macs

    inputs = spec_inputs(case)
    shapes = tuple(f"x{i}=" + "x".join(map(str, shape[1:])) if len(inputs) > 1
                   else "x".join(map(str, shape[1:])) for i, shape in enumerate(inputs))
    batch = inputs[0][0]
    imported = analyze(import_spec(f"{path}:One", shapes, {}, batch), batch=batch)
    # `a + b + c` is one netcalc layer, written out it is two torch additions
    assert {r.type for r in imported.layers} == {EXPORTED_AS.get(layer.type, layer.type)}
    assert list(imported.outputs.values()) == [layer.output_shape]
    assert (imported.totals.params, imported.totals.buffers, imported.totals.macs) == \
        (layer.params, layer.buffers, layer.macs)
