"""Every layer type against torch, on random configurations (hypothesis).

For each draw: if netcalc accepts the layer, torch builds it and runs it, and
the output shape, every parameter and buffer tensor's size, the MACs
(FlopCounterMode flops / 2) and whether the output is new memory all equal
netcalc's. If netcalc refuses it, torch must refuse it too.
"""

from __future__ import annotations

from math import prod

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layer_cases import case_for, primary_types
from netcalc.errors import SpecError
from netcalc.layers import REGISTRY
from netcalc.torch_bridge.build import build_layer
from torch_measure import measure

pytestmark = pytest.mark.torch


def _netcalc(type_name, case):
    layer = REGISTRY[type_name].from_args(case.args)
    return layer, layer.evaluate(tuple(case.shapes))


def _torch(layer, case):
    module = build_layer(layer, tuple(case.shapes))
    return measure(module, case.shapes, case.index_high)


def _torch_refuses(type_name, case) -> str | None:
    """torch's error for a configuration netcalc refused, or None if torch accepts it.

    The layer is parsed without netcalc's range checks and built as torch would be.
    """
    try:
        layer = REGISTRY[type_name].parse_args(case.args)
        measured = _torch(layer, case)
    except Exception as error:  # noqa: BLE001 - any torch error is a refusal
        return f"{type(error).__name__}: {error}"
    return "empty" if 0 in measured.output_shape else None


@pytest.mark.parametrize("type_name", primary_types())
@given(data=st.data())
def test_layer_matches_torch(type_name, data):
    case = data.draw(case_for(type_name), label="case")
    try:
        layer, ours = _netcalc(type_name, case)
    except SpecError as refused:
        torch_says = _torch_refuses(type_name, case)
        # ("empty": torch returned a tensor with a zero-size dim, which netcalc refuses by design)
        assert torch_says is not None, f"netcalc refused ({refused.message}) but torch accepts"
        return
    theirs = _torch(layer, case)
    assert ours.output_shape == theirs.output_shape
    assert dict(ours.params) == theirs.params
    assert dict(ours.buffers) == theirs.buffers
    assert ours.macs == theirs.macs
    if theirs.shares_input_memory:
        assert ours.activation_elements == 0, "torch returned a view; netcalc counted new memory"
    else:
        assert ours.activation_elements == prod(theirs.output_shape), "torch allocated the output"


def test_every_layer_type_has_a_strategy():
    """A new layer type must come with its random configurations."""
    import layer_cases

    generic = layer_cases.elementwise
    for type_name in primary_types():
        strategy = layer_cases._strategy_for(type_name)
        if strategy is generic:
            family = REGISTRY[type_name].family
            assert family in ("activation", "dropout"), \
                f"{type_name} ({family}) falls back to the activation strategy"
