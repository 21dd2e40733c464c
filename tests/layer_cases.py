"""Hypothesis strategies: random configurations for every layer type.

Each strategy draws spec arguments and input shapes (batch included). They
range past the valid: kernels larger than inputs, groups that don't divide,
dims out of range, so that the tests also check that netcalc refuses exactly
what torch refuses. They stay inside what netcalc deliberately defines more
strictly than torch (sizes of at least 1, `concat` with an explicit dim,
inferred arguments given only with their true value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import hypothesis.strategies as st

from netcalc.layers import REGISTRY
from dataclasses import MISSING, fields


@dataclass
class Case:
    args: dict
    shapes: list[tuple[int, ...]]
    index_high: int | None = None     # integer inputs below this (embedding)
    notes: dict = field(default_factory=dict)


def ints_or_list(rank: int, lo: int, hi: int):
    one = st.integers(lo, hi)
    return st.one_of(one, st.lists(one, min_size=rank, max_size=rank))


def shape_of(rank: int, lo: int = 1, hi: int = 6):
    return st.tuples(*[st.integers(lo, hi)] * rank)


def maybe(draw, args: dict, name: str, strategy) -> None:
    """Give the argument sometimes; otherwise the torch default applies."""
    if draw(st.booleans()):
        args[name] = draw(strategy)


def maybe_inferred(draw, args: dict, name: str, true_value: int) -> None:
    if draw(st.booleans()):
        args[name] = true_value


RANK_OF = {"1d": 1, "2d": 2, "3d": 3}


def rank_of(type_name: str) -> int:
    return RANK_OF.get(type_name[-2:], 0)


def spatial_input(draw, rank: int, channels: int, lo=1, hi=12, batch_optional=False):
    batch = draw(st.integers(1, 2))
    size = draw(shape_of(rank, lo, hi if rank < 3 else min(hi, 7)))
    if batch_optional and draw(st.booleans()):
        return (channels, *size)
    return (batch, channels, *size)


@st.composite
def conv(draw, type_name):
    rank = rank_of(type_name)
    transposed = type_name.startswith("convtranspose")
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    args = {"out_channels": groups * draw(st.integers(1, 3)),
            "kernel_size": draw(ints_or_list(rank, 1, 5))}
    maybe(draw, args, "stride", ints_or_list(rank, 1, 3))
    maybe(draw, args, "dilation", ints_or_list(rank, 1, 3))
    if transposed:
        maybe(draw, args, "padding", ints_or_list(rank, 0, 3))
        maybe(draw, args, "output_padding", ints_or_list(rank, 0, 2))
    else:
        maybe(draw, args, "padding", st.one_of(ints_or_list(rank, 0, 3),
                                               st.sampled_from(["same", "valid"])))
        maybe(draw, args, "padding_mode", st.sampled_from(["zeros", "reflect", "replicate",
                                                          "circular"]))
    if groups > 1 or draw(st.booleans()):
        args["groups"] = groups
    maybe(draw, args, "bias", st.booleans())
    maybe_inferred(draw, args, "in_channels", c_in)
    return Case(args, [spatial_input(draw, rank, c_in)])


@st.composite
def window_pool(draw, type_name):
    rank = rank_of(type_name)
    args = {"kernel_size": draw(ints_or_list(rank, 1, 4))}
    maybe(draw, args, "stride", st.one_of(st.none(), ints_or_list(rank, 1, 3)))
    maybe(draw, args, "padding", ints_or_list(rank, 0, 2))
    maybe(draw, args, "ceil_mode", st.booleans())
    if type_name.startswith("max"):
        maybe(draw, args, "dilation", ints_or_list(rank, 1, 2))
    else:
        maybe(draw, args, "count_include_pad", st.booleans())
        if rank > 1:
            maybe(draw, args, "divisor_override", st.one_of(st.none(), st.integers(1, 3)))
    return Case(args, [spatial_input(draw, rank, draw(st.integers(1, 3)), hi=10,
                                     batch_optional=True)])


@st.composite
def adaptive_pool(draw, type_name):
    rank = rank_of(type_name)
    entry = st.one_of(st.none(), st.integers(0, 6))
    size = draw(st.one_of(st.integers(0, 6), st.lists(entry, min_size=rank, max_size=rank)))
    args = {"output_size": size}
    return Case(args, [spatial_input(draw, rank, draw(st.integers(1, 3)), hi=10,
                                     batch_optional=True)])


@st.composite
def running_stats_norm(draw, type_name):
    rank = rank_of(type_name)
    channels = draw(st.integers(1, 4))
    args = {}
    maybe_inferred(draw, args, "num_features", channels)
    maybe(draw, args, "affine", st.booleans())
    maybe(draw, args, "track_running_stats", st.booleans())
    maybe(draw, args, "eps", st.floats(1e-6, 1e-2))
    maybe(draw, args, "momentum", st.one_of(st.none(), st.floats(0.01, 0.9)))
    extra = draw(st.integers(0, 1)) if type_name == "batchnorm1d" else 1
    ndim = {1: 2 + extra, 2: 4, 3: 5}[rank]
    # Now and then a wrong rank. Not for instance norm: torch reads a rank-short input
    # as unbatched (its dim 0 as channels), which netcalc, whose dim 0 is the batch, refuses.
    if draw(st.integers(0, 9)) == 0 and type_name.startswith("batchnorm"):
        ndim = draw(st.integers(2, 5))
    return Case(args, [(draw(st.integers(2, 3)), channels, *draw(shape_of(ndim - 2, 1, 4)))])


@st.composite
def layernorm(draw, type_name):
    shape = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    k = draw(st.integers(1, len(shape) - 1))
    normalized = list(shape[len(shape) - k:])
    if draw(st.integers(0, 7)) == 0:
        normalized[0] += 1                  # now and then a mismatch
    args = {"normalized_shape": normalized[0] if len(normalized) == 1 and draw(st.booleans())
            else normalized}
    maybe(draw, args, "elementwise_affine", st.booleans())
    maybe(draw, args, "bias", st.booleans())
    return Case(args, [tuple(shape)])


@st.composite
def groupnorm(draw, type_name):
    groups = draw(st.integers(1, 4))
    channels = groups * draw(st.integers(1, 3)) + (draw(st.integers(0, 1))
                                                   if draw(st.integers(0, 5)) == 0 else 0)
    args = {"num_groups": groups}
    maybe_inferred(draw, args, "num_channels", channels)
    maybe(draw, args, "affine", st.booleans())
    return Case(args, [(2, channels, *draw(shape_of(draw(st.integers(0, 2)), 1, 4)))])


@st.composite
def local_response_norm(draw, type_name):
    args = {"size": draw(st.integers(1, 5))}
    maybe(draw, args, "alpha", st.floats(1e-5, 1e-3))
    maybe(draw, args, "k", st.floats(0.5, 2.0))
    return Case(args, [tuple(draw(st.lists(st.integers(1, 5), min_size=2, max_size=4)))])


def _any_shape(draw, min_rank=1, max_rank=4):
    return tuple(draw(st.lists(st.integers(1, 5), min_size=min_rank, max_size=max_rank)))


@st.composite
def elementwise(draw, type_name):
    """Activations declared from torch's keyword defaults: draw each keyword."""
    cls = REGISTRY[type_name]
    args = {}
    numbers = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3))
    for f in fields(cls):
        if f.default is MISSING and f.type == "float":
            args[f.name] = draw(numbers)        # required (threshold's threshold and value)
        elif isinstance(f.default, bool):
            maybe(draw, args, f.name, st.booleans())
        elif isinstance(f.default, float):
            maybe(draw, args, f.name, numbers)
        elif f.name == "approximate":
            maybe(draw, args, f.name, st.sampled_from(["none", "tanh"]))
    if type_name == "dropout" or "dropout" in type_name:
        maybe(draw, args, "p", st.floats(0, 1))
    shape = _any_shape(draw)
    if "dim" in {f.name for f in fields(cls)}:
        maybe(draw, args, "dim", st.one_of(st.none(), st.integers(-len(shape) - 1, len(shape))))
    return Case(args, [shape])


@st.composite
def prelu(draw, type_name):
    shape = _any_shape(draw)
    channels = shape[1] if len(shape) >= 2 else 1
    args = {}
    maybe(draw, args, "num_parameters", st.sampled_from([1, channels, channels + 1]))
    maybe(draw, args, "init", st.floats(0, 1))
    return Case(args, [shape])


@st.composite
def linear(draw, type_name):
    shape = _any_shape(draw, 2, 4)
    args = {"out_features": draw(st.integers(1, 8))}
    maybe(draw, args, "bias", st.booleans())
    maybe_inferred(draw, args, "in_features", shape[-1])
    return Case(args, [shape])


@st.composite
def embedding(draw, type_name):
    n = draw(st.integers(1, 10))
    args = {"num_embeddings": n, "embedding_dim": draw(st.integers(1, 6))}
    maybe(draw, args, "padding_idx", st.one_of(st.none(), st.integers(-n, n - 1)))
    maybe(draw, args, "max_norm", st.one_of(st.none(), st.floats(0.5, 2)))
    return Case(args, [_any_shape(draw, 1, 3)], index_high=n)


@st.composite
def position_embedding(draw, type_name):
    """A table of n rows read at positions 0 .. L - 1 of a dim of the input: L past n
    is refused (torch: index out of range)."""
    shape = _any_shape(draw, 1, 3)
    args = {"num_embeddings": draw(st.integers(1, 6)), "embedding_dim": draw(st.integers(1, 6))}
    maybe(draw, args, "dim", st.integers(-len(shape), len(shape) - 1))
    return Case(args, [shape], index_high=1)


@st.composite
def no_args(draw, type_name):
    return Case({}, [_any_shape(draw)])


@st.composite
def flatten(draw, type_name):
    shape = _any_shape(draw)
    n = len(shape)
    args = {}
    maybe(draw, args, "start_dim", st.integers(-n, n - 1))
    maybe(draw, args, "end_dim", st.integers(-n, n - 1))
    return Case(args, [shape])


def _factorize(draw, total: int) -> list[int]:
    """Split `total` into a random list of factors."""
    factors, rest = [], total
    while rest > 1 and len(factors) < 3:
        divisors = [d for d in range(2, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        factors.append(d)
        rest //= d
    factors.append(rest)
    return factors


def _with_unknown(draw, sizes: list[int]) -> list[int]:
    if draw(st.booleans()):
        sizes = list(sizes)
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return sizes


@st.composite
def unflatten(draw, type_name):
    shape = _any_shape(draw)
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = _with_unknown(draw, _factorize(draw, shape[dim]))
    if draw(st.integers(0, 7)) == 0:
        sizes = [*sizes, 2]                  # now and then sizes that don't fit
    return Case({"dim": dim, "unflattened_size": sizes}, [shape])


@st.composite
def reshape(draw, type_name):
    shape = _any_shape(draw)
    sizes = _with_unknown(draw, _factorize(draw, prod(shape)))
    if draw(st.integers(0, 7)) == 0:
        sizes = [*sizes, 3]
    return Case({"shape": sizes}, [shape])


@st.composite
def permute(draw, type_name):
    shape = _any_shape(draw)
    dims = draw(st.permutations(range(len(shape))))
    dims = [d - len(shape) if draw(st.booleans()) else d for d in dims]
    return Case({"dims": dims}, [shape])


@st.composite
def transpose(draw, type_name):
    shape = _any_shape(draw)
    n = len(shape)
    return Case({"dim0": draw(st.integers(-n, n - 1)), "dim1": draw(st.integers(-n, n - 1))},
                [shape])


@st.composite
def reduction(draw, type_name):
    shape = _any_shape(draw)
    n = len(shape)
    args = {}
    maybe(draw, args, "dim", st.one_of(st.none(), st.integers(-n, n - 1),
                                       st.lists(st.integers(0, n - 1), min_size=1, max_size=n,
                                                unique=True)))
    maybe(draw, args, "keepdim", st.booleans())
    return Case(args, [shape])


@st.composite
def broadcasting(draw, type_name):
    base = _any_shape(draw)
    count = 2 if type_name == "sub" else draw(st.integers(2, 3))
    shapes = []
    for _ in range(count):
        drop = draw(st.integers(0, len(base) - 1))
        shape = [1 if draw(st.booleans()) else s for s in base[drop:]]
        if draw(st.integers(0, 9)) == 0:
            shape[0] += 1                      # now and then shapes that don't broadcast
        shapes.append(tuple(shape))
    return Case({}, shapes)


@st.composite
def concat(draw, type_name):
    base = list(_any_shape(draw))
    dim = draw(st.integers(-len(base), len(base) - 1))
    shapes = []
    for _ in range(draw(st.integers(2, 3))):
        shape = list(base)
        shape[dim] = draw(st.integers(1, 4))
        if draw(st.integers(0, 9)) == 0:
            shape[draw(st.integers(0, len(shape) - 1))] += 1
        shapes.append(tuple(shape))
    return Case({"dim": dim}, shapes)


MODES_BY_RANK = {3: ["nearest", "linear", "area", "nearest-exact"],
                 4: ["nearest", "bilinear", "bicubic", "area", "nearest-exact"],
                 5: ["nearest", "trilinear", "area", "nearest-exact"]}


@st.composite
def upsample(draw, type_name):
    ndim = draw(st.integers(3, 5)) if type_name == "upsample" else 4
    shape = (1, 2, *draw(shape_of(ndim - 2, 1, 6)))
    args = {}
    scales = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 2.5])
    if draw(st.booleans()):
        args["size"] = draw(st.one_of(st.integers(1, 9),
                                      st.lists(st.integers(1, 9), min_size=ndim - 2,
                                               max_size=ndim - 2)))
    else:
        args["scale_factor"] = draw(st.one_of(scales, st.lists(scales, min_size=ndim - 2,
                                                               max_size=ndim - 2)))
    if type_name == "upsample":
        mode = draw(st.sampled_from(MODES_BY_RANK[ndim]))
        args["mode"] = mode
        if mode in ("linear", "bilinear", "bicubic", "trilinear"):
            maybe(draw, args, "align_corners", st.booleans())
    return Case(args, [shape])


@st.composite
def pixel_shuffle(draw, type_name):
    r = draw(st.integers(1, 3))
    if type_name == "pixelshuffle":
        c = r * r * draw(st.integers(1, 2)) + (1 if draw(st.integers(0, 7)) == 0 else 0)
        return Case({"upscale_factor": r}, [(1, c, *draw(shape_of(2, 1, 4)))])
    h, w = (r * draw(st.integers(1, 3)) for _ in range(2))
    if draw(st.integers(0, 7)) == 0:
        h += 1
    return Case({"downscale_factor": r}, [(1, draw(st.integers(1, 3)), h, w)])


@st.composite
def pad(draw, type_name):
    rank = rank_of(type_name)
    padding = draw(st.one_of(st.integers(-1, 3),
                             st.lists(st.integers(-2, 4), min_size=2 * rank,
                                      max_size=2 * rank)))
    if type_name.startswith("circular") and isinstance(padding, list) and \
            min(padding) < 0 < max(padding):
        # torch refuses some of these when its internal copy would overlap itself, which
        # depends on the number of channels too: a kernel detail netcalc leaves alone
        padding = [max(p, 0) for p in padding]
    args = {"padding": padding}
    if type_name.startswith("constant"):
        args["value"] = draw(st.floats(-2, 2))
    return Case(args, [spatial_input(draw, rank, 2, hi=5, batch_optional=True)])


@st.composite
def narrow(draw, type_name):
    shape = _any_shape(draw)
    dim = draw(st.integers(-len(shape) - 1, len(shape)))
    size = shape[dim] if -len(shape) <= dim < len(shape) else 3
    return Case({"dim": dim, "start": draw(st.integers(-size - 1, size + 1)),
                 "length": draw(st.integers(-1, size + 1))}, [shape])


@st.composite
def squeeze(draw, type_name):
    shape = tuple(1 if draw(st.booleans()) else s for s in _any_shape(draw))
    n = len(shape)
    args = {}
    maybe(draw, args, "dim", st.one_of(st.integers(-n - 1, n),
                                       st.lists(st.integers(-n, n - 1), min_size=1,
                                                max_size=n)))
    return Case(args, [shape])


@st.composite
def unsqueeze(draw, type_name):
    shape = _any_shape(draw)
    return Case({"dim": draw(st.integers(-len(shape) - 2, len(shape) + 1))}, [shape])


@st.composite
def select(draw, type_name):
    shape = _any_shape(draw, min_rank=2)
    n = len(shape)
    dim = draw(st.integers(-n - 1, n))
    size = shape[dim] if -n <= dim < n else 3
    return Case({"dim": dim, "index": draw(st.integers(-size - 1, size))}, [shape])


@st.composite
def slice_(draw, type_name):
    shape = _any_shape(draw)
    n = len(shape)
    dim = draw(st.integers(-n, n - 1))
    size = shape[dim]
    args = {"dim": dim}
    maybe(draw, args, "start", st.one_of(st.none(), st.integers(-size - 2, size + 2)))
    maybe(draw, args, "end", st.one_of(st.none(), st.integers(-size - 2, size + 2)))
    maybe(draw, args, "step", st.integers(0, 3))
    return Case(args, [shape])


@st.composite
def expand(draw, type_name):
    shape = tuple(1 if draw(st.booleans()) else s for s in _any_shape(draw))
    new = draw(st.lists(st.integers(1, 3), max_size=2))
    sizes = [*new]
    for s in shape:
        if s == 1:
            sizes.append(draw(st.sampled_from([-1, 1, 2, 3])))
        else:
            sizes.append(draw(st.sampled_from([-1, s])))
    if draw(st.integers(0, 7)) == 0:             # now and then a size that cannot be
        sizes[draw(st.integers(0, len(sizes) - 1))] = draw(st.sampled_from([-2, 0, 4]))
    return Case({"size": sizes}, [shape])


@st.composite
def pieces(draw, type_name):
    """One piece of x.chunk(...) or x.split(...) (`piece` given: a layer of one output)."""
    shape = _any_shape(draw)
    n = len(shape)
    dim = draw(st.integers(-n, n - 1))       # required in a spec (torch's 0 is the batch)
    size = shape[dim]
    if type_name == "chunk":
        args = {"chunks": draw(st.integers(1, 4))}
    elif draw(st.booleans()):
        args = {"split_size_or_sections": draw(st.integers(1, 4))}
    else:
        sections = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
        if draw(st.integers(0, 4)):          # mostly sections that add up
            sections[-1] += max(size - sum(sections), -sections[-1])
        args = {"split_size_or_sections": sections}
    args["dim"] = dim
    args["piece"] = draw(st.integers(-3, 3))
    return Case(args, [shape])


@st.composite
def stochastic_depth(draw, type_name):
    args = {"p": draw(st.floats(0, 1).map(lambda v: round(v, 3)))}
    maybe(draw, args, "mode", st.sampled_from(["row", "batch"]))
    return Case(args, [_any_shape(draw)])


@st.composite
def learned_tensor(draw, type_name):
    """No input: the draw's shape is the parameter's."""
    return Case({"shape": list(_any_shape(draw, 1, 4))}, [])


def _sequence(draw, batch_first: bool, length: int, features: int) -> tuple[int, int, int]:
    batch = draw(st.integers(1, 2))
    return (batch, length, features) if batch_first else (length, batch, features)


@st.composite
def attention(draw, type_name):
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    e = heads * head_dim + (1 if draw(st.integers(0, 9)) == 0 else 0)   # not divisible
    args = {"num_heads": heads}
    batch_first = draw(st.booleans())
    if batch_first:
        args["batch_first"] = True
    for name in ("bias", "add_bias_kv", "add_zero_attn"):
        maybe(draw, args, name, st.booleans())
    maybe_inferred(draw, args, "embed_dim", e)
    length = draw(st.integers(1, 4))
    query = _sequence(draw, batch_first, length, e)
    if draw(st.booleans()):
        return Case(args, [query])               # self-attention
    kdim, vdim = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    maybe_inferred(draw, args, "kdim", kdim)
    maybe_inferred(draw, args, "vdim", vdim)
    source = draw(st.integers(1, 4))
    batch = query[0] if batch_first else query[1]
    key, value = ((batch, source, d) if batch_first else (source, batch, d)
                  for d in (kdim, vdim))
    return Case(args, [query, key, value])


@st.composite
def recurrent(draw, type_name):
    """rnn, lstm, gru: one piece (`piece`) of one call; batched [L, N, I] or [N, L, I]
    (batch_first), or unbatched [L, I]; now and then the initial state as inputs, now and
    then of a wrong size."""
    lstm = type_name == "lstm"
    hidden = draw(st.integers(1, 5))
    args = {"hidden_size": hidden}
    maybe(draw, args, "num_layers", st.integers(1, 3))
    maybe(draw, args, "bias", st.booleans())
    maybe(draw, args, "bidirectional", st.booleans())
    maybe(draw, args, "dropout", st.sampled_from([0.0, 0.5]))
    if type_name == "rnn":
        maybe(draw, args, "nonlinearity", st.sampled_from(["tanh", "relu"]))
    if lstm:
        maybe(draw, args, "proj_size", st.integers(0, hidden))     # == hidden: refused
    batch_first = draw(st.booleans())
    if batch_first:
        args["batch_first"] = True
    features, length = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    maybe_inferred(draw, args, "input_size", features)
    unbatched = draw(st.integers(0, 3)) == 0
    x = (length, features) if unbatched else _sequence(draw, batch_first, length, features)
    args["piece"] = draw(st.integers(0, 2 if lstm else 1))
    shapes = [x]
    if draw(st.booleans()):
        stack = args.get("num_layers", 1) * (2 if args.get("bidirectional") else 1)
        batch = None if unbatched else x[0] if batch_first else x[1]
        h_out = args.get("proj_size") or hidden
        for size in (h_out, hidden) if lstm else (h_out,):
            if draw(st.integers(0, 9)) == 0:
                size += 1                                 # wrong: torch refuses it
            shapes.append((stack, size) if unbatched else (stack, batch, size))
    return Case(args, shapes)


@st.composite
def encoder_layer(draw, type_name):
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    args = {"nhead": heads, "dim_feedforward": draw(st.integers(1, 8))}
    batch_first = draw(st.booleans())
    if batch_first:
        args["batch_first"] = True
    maybe(draw, args, "norm_first", st.booleans())
    maybe(draw, args, "bias", st.booleans())
    maybe(draw, args, "activation", st.sampled_from(["relu", "gelu"]))
    maybe_inferred(draw, args, "d_model", heads * head_dim)
    return Case(args, [_sequence(draw, batch_first, draw(st.integers(1, 4)), heads * head_dim)])


@st.composite
def llm_attention(draw, type_name):
    """netcalc's `attention` [N, L, E]: heads in groups sharing a key/value head (GQA, MQA),
    head_dim given or E / heads, even where rotary rotates its pairs."""
    kv_heads, group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    heads = kv_heads * group
    rotary = draw(st.booleans())
    args = {"num_heads": heads}
    if group > 1 or draw(st.booleans()):
        args["num_kv_heads"] = kv_heads
    if draw(st.booleans()):
        head_dim = draw(st.integers(1, 4)) * (2 if rotary else 1)
        args["head_dim"] = head_dim
        e = draw(st.integers(1, 8))
    else:
        e = heads * draw(st.integers(1, 3)) * (2 if rotary else 1)
    if rotary:
        args["rotary"] = True
    for name in ("bias", "is_causal"):
        maybe(draw, args, name, st.booleans())
    maybe(draw, args, "out_bias", st.one_of(st.none(), st.booleans()))
    maybe(draw, args, "dropout", st.sampled_from([0.0, 0.1]))
    maybe(draw, args, "sliding_window", st.integers(1, 4))     # shorter than L, or not
    maybe_inferred(draw, args, "embed_dim", e)
    return Case(args, [(draw(st.integers(1, 2)), draw(st.integers(1, 5)), e)])


@st.composite
def gated_mlp(draw, type_name):
    shape = _any_shape(draw, 1, 3)
    args = {"hidden_features": draw(st.integers(1, 8))}
    maybe(draw, args, "activation", st.sampled_from(["silu", "gelu", "gelu_tanh"]))
    maybe(draw, args, "bias", st.booleans())
    maybe(draw, args, "out_features", st.one_of(st.none(), st.integers(1, 6)))
    maybe_inferred(draw, args, "in_features", shape[-1])
    return Case(args, [shape])


@st.composite
def mixture_of_experts(draw, type_name):
    """Real tensors route the tokens: whatever the routing, the MACs are the top_k
    experts' on every token."""
    shape = _any_shape(draw, 1, 3)
    experts = draw(st.integers(1, 5))
    args = {"num_experts": experts, "top_k": draw(st.integers(1, experts)),
            "hidden_features": draw(st.integers(1, 6))}
    maybe(draw, args, "activation", st.sampled_from(["silu", "gelu", "gelu_tanh"]))
    maybe(draw, args, "bias", st.booleans())
    maybe_inferred(draw, args, "in_features", shape[-1])
    return Case(args, [shape])


@st.composite
def rmsnorm(draw, type_name):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    k = draw(st.integers(1, len(shape)))
    normalized = list(shape[len(shape) - k:])
    if draw(st.integers(0, 7)) == 0:
        normalized[0] += 1                  # now and then a mismatch
    args = {"normalized_shape": normalized[0] if len(normalized) == 1 and draw(st.booleans())
            else normalized}
    maybe(draw, args, "eps", st.one_of(st.none(), st.floats(1e-8, 1e-3)))
    maybe(draw, args, "elementwise_affine", st.booleans())
    return Case(args, [tuple(shape)])


@st.composite
def matmul(draw, type_name):
    """[..., n, k] @ [..., k, m], the leading dims broadcasting (a 1 against a size)."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    other = [d if draw(st.booleans()) else 1 for d in lead]
    if draw(st.booleans()):
        lead, other = other, lead
    return Case({}, [(*lead, n, k), (*other, k, m)])


@st.composite
def scaled_dot_product_attention(draw, type_name):
    """q [N, Hq, L, E], k and v [N, Hkv, S, E / Ev]; Hkv < Hq only with enable_gqa."""
    args = {}
    n, kv_heads, groups = (draw(st.integers(1, 3)) for _ in range(3))
    if groups > 1:
        args["enable_gqa"] = True
    length, source = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    e, ev = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if draw(st.booleans()) and length <= source:
        args["is_causal"] = True
    maybe(draw, args, "scale", st.sampled_from([0.5, 1.0]))
    q_heads = kv_heads * groups
    return Case(args, [(n, q_heads, length, e), (n, kv_heads, source, e),
                       (n, kv_heads, source, ev)])


@st.composite
def scalar(draw, type_name):
    """x op c: c a small number, never 0 where it divides (torch gives inf, still a shape)."""
    op = draw(st.sampled_from(["add", "sub", "mul", "div", "pow", "rsub", "rdiv"]))
    other = draw(st.sampled_from([0.5, 2, -1.5, 3.0]))
    return Case({"op": op, "other": other}, [_any_shape(draw)])


@st.composite
def pointwise(draw, type_name):
    function = draw(st.sampled_from(["neg", "abs", "sqrt", "rsqrt", "exp", "log", "log1p",
                                     "expm1", "sin", "cos", "reciprocal", "square", "erf",
                                     "sign", "floor", "ceil", "round", "trunc"]))
    return Case({"function": function}, [_any_shape(draw)])


def _strategy_for(type_name: str):
    if type_name.startswith(("conv", "convtranspose")):
        return conv
    if type_name.startswith(("maxpool", "avgpool")):
        return window_pool
    if type_name.startswith("adaptive"):
        return adaptive_pool
    if type_name.startswith(("batchnorm", "instancenorm")):
        return running_stats_norm
    if type_name.endswith(("pad1d", "pad2d", "pad3d")):
        return pad
    if type_name.startswith(("upsampl",)):
        return upsample
    return {
        "layernorm": layernorm, "groupnorm": groupnorm, "localresponsenorm": local_response_norm,
        "prelu": prelu, "linear": linear, "embedding": embedding,
        "positionembedding": position_embedding, "identity": no_args,
        "contiguous": no_args, "narrow": narrow,
        "flatten": flatten, "unflatten": unflatten, "reshape": reshape, "view": reshape,
        "permute": permute, "transpose": transpose, "mean": reduction, "sum": reduction,
        "add": broadcasting, "mul": broadcasting, "sub": broadcasting, "concat": concat,
        "pixelshuffle": pixel_shuffle, "pixelunshuffle": pixel_shuffle,
        "squeeze": squeeze, "unsqueeze": unsqueeze, "select": select, "slice": slice_,
        "expand": expand, "stochasticdepth": stochastic_depth, "parameter": learned_tensor,
        "chunk": pieces, "split": pieces, "rnn": recurrent, "lstm": recurrent, "gru": recurrent,
        "multiheadattention": attention, "transformerencoderlayer": encoder_layer,
        "matmul": matmul, "scaleddotproductattention": scaled_dot_product_attention,
        "scalar": scalar, "pointwise": pointwise, "div": broadcasting,
        "attention": llm_attention, "gatedmlp": gated_mlp, "moe": mixture_of_experts,
        "rmsnorm": rmsnorm,
    }.get(type_name, elementwise)


def primary_types() -> list[str]:
    """Each layer class once, under its own name (aliases are tested by lookup)."""
    return sorted({cls.type_name for cls in REGISTRY.values()})


def case_for(type_name: str):
    return _strategy_for(type_name)(type_name)
