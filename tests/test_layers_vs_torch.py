"""Every layer type against torch, on random configurations (hypothesis).

For each draw: if netcalc accepts the layer, torch builds it and runs it, and
the output shape, every parameter and buffer tensor's size, the MACs
(FlopCounterMode flops / 2) and whether the output is new memory all equal
netcalc's. If netcalc refuses it, torch must refuse it too.
"""

from __future__ import annotations

import os
import traceback
from math import prod
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from layer_cases import case_for, primary_types
from netcalc.errors import SpecError
from netcalc.layers import REGISTRY
from netcalc.layers.attention import MultiheadAttention, _output_only
from netcalc.layers.recurrent import _one_call
from netcalc.layers.tensor import TensorOp
from netcalc.torch_bridge.build import OWN_MODULES, build_layer, own_module
from torch_measure import input_strides, measure, unrolled_lstm_macs

pytestmark = pytest.mark.torch


def _netcalc(type_name, case, strides):
    return REGISTRY[type_name].from_args(case.args).evaluate(tuple(case.shapes), strides)


def layout(shape, strides):
    """Strides that address memory: a size-1 dim's stride is arbitrary in torch."""
    return [s if n > 1 else None for n, s in zip(shape, strides)]


def backend_dependent_layout(type_name: str, args: dict) -> bool:
    """Configurations whose output layout torch leaves to the kernel it picks
    (mkldnn or not, CPU or CUDA, with or without autograd): netcalc models the
    common CPU inference kernel, and these are not that."""
    if type_name == "maxpool1d":                  # a CPU-only kernel; with grad or on CUDA,
        return True                               # the 2-d one keeps channels-last
    if type_name in ("conv3d", "convtranspose3d"):
        # torch 2.13's CPU 3-d convolutions keep channels-last through oneDNN, which they
        # take by thread count and batch (one thread, as a pytest-xdist worker has: never)
        return True
    if type_name.startswith("convtranspose"):     # slow fallbacks write contiguous output
        values = [args.get(k, 1) for k in ("dilation", "groups")]
        return any(v != 1 and v != [1] * len(v) if isinstance(v, list) else v != 1
                   for v in values) or bool(args.get("output_padding"))
    return False


def storage_orders(data, type_name, shapes):
    """Now and then a channels-last or randomly permuted first input.

    Only where the layout is unambiguous: every dim larger than 1 (torch gives a
    size-1 dim's stride no meaning, and its kernels read such layouts
    inconsistently), and a batched input (torch unsqueezes unbatched ones).
    """
    if not shapes:               # a learned tensor reads no input
        return None
    rank = len(shapes[0])
    spatial_rank = REGISTRY[type_name].rank
    if min(shapes[0]) < 2 or (spatial_rank and rank != spatial_rank + 2):
        return None
    kind = data.draw(st.sampled_from(["contiguous", "contiguous", "channels_last", "permuted"]),
                     label="input layout")
    if kind == "channels_last" and rank >= 3:
        return [[0, *range(2, rank), 1]]
    if kind == "permuted":
        return [list(data.draw(st.permutations(range(rank)), label="storage order"))]
    return None


# What torch raises for arguments or inputs it refuses (MultiheadAttention asserts that
# the heads divide embed_dim; interpolate raises NotImplementedError for a mode's wrong rank)
TORCH_REFUSALS = (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError,
                  AssertionError)
TORCH_CALL = "<torch call>"             # the file name of an operation's call, compiled below
TORCH_DIR = f"{Path(torch.__file__).parent}{os.sep}"     # not torchvision's


def _raised_in_torch(error: BaseException) -> bool:
    """Whether torch raised it: its innermost frame is torch's own code, or the one torch
    call written for an operation (a C function raises from its caller's frame)."""
    where = traceback.extract_tb(error.__traceback__)[-1].filename
    return where == TORCH_CALL or where.startswith(TORCH_DIR)


class _TorchCall(torch.nn.Module):
    """An operation torch has no module for: forward is one call, x0, x1, ... its inputs."""

    def __init__(self, code):
        super().__init__()
        self.code = code

    def forward(self, *xs):
        return eval(self.code, {"torch": torch}, {f"x{i}": x for i, x in enumerate(xs)})


def _torch_class(cls):
    """What the bridge builds for a layer type; each takes torch's keywords."""
    if cls.torch_class in OWN_MODULES:
        return own_module(torch, cls.torch_class)
    if cls is MultiheadAttention:
        return _output_only(torch.nn)             # nn.MultiheadAttention, returning y alone
    if getattr(cls, "one_call", False):           # nn.LSTM &c., returning the `piece` alone
        return _one_call(torch.nn, cls.__name__)
    return getattr(torch.nn, cls.torch_class or cls.__name__)


def _torch_from_spec(type_name, case):
    """A function making torch's module from the spec's arguments as a user wrote them (lists
    as tuples): torch.nn's class called with them, plus what netcalc infers from the input
    (in_channels) where not given; for an operation, the call `export` writes.

    All of netcalc's part runs here, so that a bug in it fails the test, never passes for a
    refusal of torch's.
    """
    cls = REGISTRY[type_name]
    given_args = {k: tuple(v) if isinstance(v, list) else v for k, v in case.args.items()}
    if issubclass(cls, TensorOp):
        args = {k: repr(v) for k, v in {**cls.defaults(), **given_args}.items()}
        xs = [f"x{i}" for i in range(len(case.shapes))]
        code = compile(cls.torch_code(xs, args), TORCH_CALL, "eval")
        return lambda: _TorchCall(code)
    x = case.shapes[0] if case.shapes else ()
    # parsed (names and types; no range checks) only to ask what netcalc infers
    inferred = cls.parse_args(case.args).inferred(x)
    torch_class = _torch_class(cls)
    return lambda: torch_class(**{**inferred, **given_args})


def _torch_refuses(type_name, case, orders=None) -> str | None:
    """torch's error for a configuration netcalc refused, or None if torch accepts it.

    torch builds the module from the spec's arguments and runs it; only an error torch
    itself raises counts as its refusal: any other propagates and fails the test.
    """
    make_module = _torch_from_spec(type_name, case)
    try:
        measured = measure(make_module(), case.shapes, case.index_high, orders)
    except TORCH_REFUSALS as error:
        if not _raised_in_torch(error):
            raise
        return f"{type(error).__name__}: {error}"
    return "empty" if 0 in measured.output_shape else None


@pytest.mark.parametrize("type_name", primary_types())
@given(data=st.data())
def test_layer_matches_torch(type_name, data):
    case = data.draw(case_for(type_name), label="case")
    orders = storage_orders(data, type_name, case.shapes)
    strides = input_strides(case.shapes, orders)
    try:
        ours = _netcalc(type_name, case, strides)
    except SpecError as refused:
        torch_says = _torch_refuses(type_name, case, orders)
        # ("empty": torch returned a tensor with a zero-size dim, which netcalc refuses by design)
        assert torch_says is not None, f"netcalc refused ({refused.message}) but torch accepts"
        return
    # torch's module from the arguments as written: netcalc's normalising of them is
    # under test too
    module = _torch_from_spec(type_name, case)()
    theirs = measure(module, case.shapes, case.index_high, orders)
    assert theirs.input_strides == strides
    assert ours.output_shape == theirs.output_shape
    if not backend_dependent_layout(type_name, case.args):
        assert layout(ours.output_shape, ours.output_strides) == \
            layout(theirs.output_shape, theirs.output_strides)
    assert dict(ours.params) == theirs.params
    assert dict(ours.buffers) == theirs.buffers
    if type_name == "lstm":
        # FlopCounterMode counts 0 for LSTM's fused oneDNN kernel (CPU float32): the same
        # LSTM written out as matmuls, with its weights, is counted instead
        assert ours.macs == unrolled_lstm_macs(module, case.shapes)
    else:
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


@st.composite
def permuted_then_viewed(draw):
    """permute or transpose, maybe an activation, then a view-like op: a small chain."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    n = len(shape)
    if draw(st.booleans()):
        first = ("permute", {"dims": list(draw(st.permutations(range(n))))})
    else:
        first = ("transpose", {"dim0": draw(st.integers(0, n - 1)),
                               "dim1": draw(st.integers(0, n - 1))})
    middle = [draw(st.sampled_from([("relu", {}), ("relu", {"inplace": True}),
                                    ("dropout", {}), ("identity", {})]))] \
        if draw(st.booleans()) else []
    last_type = draw(st.sampled_from(["view", "reshape", "flatten", "unflatten"]))
    total = prod(shape)
    if last_type in ("view", "reshape"):
        sizes, rest = [], total
        while rest > 1 and len(sizes) < 3:
            d = draw(st.sampled_from([d for d in range(2, rest + 1) if rest % d == 0]))
            sizes.append(d)
            rest //= d
        last = (last_type, {"shape": [*sizes, rest]})
    elif last_type == "flatten":
        start = draw(st.integers(0, n - 1))
        last = ("flatten", {"start_dim": start, "end_dim": draw(st.integers(start, n - 1))})
    else:
        permuted = [shape[d] for d in first[1]["dims"]] if first[0] == "permute" else \
            list(shape)
        dim = draw(st.integers(0, n - 1))
        size = permuted[dim]
        split = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
        last = ("unflatten", {"dim": dim, "unflattened_size": [split, size // split]})
    return shape, [first, *middle, last]


@given(chain=permuted_then_viewed())
def test_views_of_permuted_tensors_match_torch(chain):
    """view refuses what torch's view refuses; reshape and flatten copy exactly when torch
    does; the strides of every result are torch's."""
    import torch

    shape, ops = chain
    xs, layouts = (shape,), None
    x = torch.randn(shape)
    for type_name, args in ops:
        layer = REGISTRY[type_name].from_args(args)
        module = build_layer(layer, xs)
        module.eval()
        try:
            y = module(x)
        except RuntimeError:
            with pytest.raises(SpecError):
                layer.evaluate(xs, layouts)
            return
        ours = layer.evaluate(xs, layouts)
        assert ours.output_shape == tuple(y.shape)
        # the stride of a size-1 dim addresses nothing; torch leaves it arbitrary
        assert layout(ours.output_shape, ours.output_strides) == layout(y.shape, y.stride())
        shares = y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        assert (ours.activation_elements == 0) == shares
        xs, layouts, x = (ours.output_shape,), (ours.output_strides,), y


# Draws per layer type, and the fraction netcalc must accept. The rarest strategies accept
# 18-30% of a long run (reflection padding, 3-d pools: their ranges reach past the valid on
# purpose), most over half; a strategy under 10% leaves its torch test a few real comparisons
# in 60, and a broken one none. hypothesis draws simple cases first (rank-1 shapes, which
# dropout1d refuses: 2 of its first 20 pass), so 30 draws, ~3 s for the whole registry.
# They are derandomized, the same every run: a rare strategy cannot fail by chance.
DRAWS = 30
MIN_ACCEPTED = 0.10


def _accepted_fraction(type_name: str) -> float:
    outcomes = []

    @settings(max_examples=DRAWS, derandomize=True, database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=case_for(type_name))
    def draw(case):
        try:
            REGISTRY[type_name].from_args(case.args).evaluate(tuple(case.shapes))
        except SpecError:
            outcomes.append(False)
        else:
            outcomes.append(True)

    draw()
    return sum(outcomes) / len(outcomes)


def test_strategies_draw_valid_configurations_often():
    """A strategy that mostly draws refusals would make its torch test nearly vacuous."""
    fractions = {type_name: _accepted_fraction(type_name) for type_name in primary_types()}
    rare = {name: f"{fraction:.0%}" for name, fraction in fractions.items()
            if fraction < MIN_ACCEPTED}
    assert not rare, f"netcalc accepts under {MIN_ACCEPTED:.0%} of {DRAWS} draws: {rare}"


@pytest.mark.parametrize("type_name", ["conv3d", "convtranspose3d"])
def test_a_3d_convolution_of_one_item_writes_a_contiguous_output(type_name):
    # whatever the threads, torch's CPU 3-d convolutions give a batch of one contiguously
    import torch

    shape = (1, 3, 4, 5, 6)
    x = torch.zeros(shape).to(memory_format=torch.channels_last_3d)
    module = getattr(torch.nn, {"conv3d": "Conv3d", "convtranspose3d": "ConvTranspose3d"}
                     [type_name])(3, 2, 1)
    y = module(x)
    ours = REGISTRY[type_name].from_args({"out_channels": 2, "kernel_size": 1}).evaluate(
        (shape,), (tuple(x.stride()),))
    assert ours.output_strides == tuple(y.stride())
