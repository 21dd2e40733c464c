"""One table: an ATen operation of an exported program -> netcalc's layer type.

`torch.export` records models as ATen operations (`aten.conv2d.default`,
`aten.linear.default`, `aten.scaled_dot_product_attention.default`). Each
entry here reads one op's arguments as the arguments of a netcalc layer type,
the way `nn.Conv2d(...)` would be written in a spec. capture.py keeps the
layer only where netcalc's rules then give exactly torch's shape, MACs,
parameters and buffers for that op; an op with no entry, or whose entry
does not fit the call (a convolution whose weight is computed, an `add`
with a Python number), is kept as a generic op with torch's own numbers.
"""

from __future__ import annotations

import math

from ..errors import SpecError
from ..layers import lookup

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any, Callable


# Ops that check or describe rather than compute: no layer.
BOOKKEEPING = frozenset({
    "aten._assert_tensor_metadata.default", "aten._assert_scalar.default",
    "aten._assert_async.msg", "aten.sym_constrain_range_for_size.default",
    "aten.sym_size.int", "aten.sym_numel.default", "aten.sym_stride.int",
})

# Ops whose result is their input, as far as shapes and counts go.
PASS_THROUGH = frozenset({
    "aten.alias.default", "aten.detach.default", "aten.detach_.default",
    "aten.lift_fresh_copy.default",
})

# Ops that return a view of their input: no memory of their own.
VIEWS = frozenset({
    "aten.view.default", "aten.reshape.default", "aten.flatten.using_ints",
    "aten.permute.default", "aten.transpose.int", "aten.t.default",
    "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default",
    "aten.expand.default", "aten.slice.Tensor", "aten.select.int", "aten.unflatten.int",
    "aten.narrow.default", "aten.unbind.int", "aten.split.Tensor", "aten.chunk.default",
    "aten.split_with_sizes.default", "aten.view_as.default", "aten.reshape_as.default",
    "aten.expand_as.default", "aten.as_strided.default", "aten.alias.default",
    "aten.movedim.int", "aten.swapaxes.default", "aten.unfold.default",
    "aten.tensor_split.sections", "aten.tensor_split.indices",
})


# Ops that may read a parameter as a tensor of its own (`x + pos_embed`): the parameter
# is then a `parameter` layer feeding them, as a spec would write it.
OPERAND_OPS = frozenset({
    "aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor", "aten.cat.default",
    "aten.expand.default", "aten.unsqueeze.default", "aten.view.default",
    "aten.reshape.default", "aten.permute.default", "aten.transpose.int",
    "aten.matmul.default", "aten.slice.Tensor", "aten.select.int",
})


def layer_for(node, tensor_of: dict[str, str]):
    """netcalc's layer for this op, or None (no entry, or the call does not fit one)."""
    from .capture import _op_name
    rule = _RULES.get(_op_name(node.target))
    if rule is None:
        return None
    call = _Call(node, tensor_of)
    try:
        type_name, args = rule(call)
    except _NoFit:
        return None
    try:
        return lookup(type_name).from_args(args)
    except SpecError:
        return None


class _NoFit(Exception):
    """The call is not one the layer type describes."""


class _Call:
    """An op's arguments, by position or keyword, with torch's defaults."""

    def __init__(self, node, tensor_of: dict[str, str]):
        self.node, self.tensor_of = node, tensor_of
        schema = getattr(node.target, "_schema", None)
        self.names = [a.name for a in schema.arguments] if schema else []
        self.defaults = {a.name: a.default_value for a in schema.arguments
                         if schema and a.has_default_value()} if schema else {}

    def get(self, index: int, default: Any = None) -> Any:
        if index < len(self.node.args):
            return self.node.args[index]
        name = self.names[index] if index < len(self.names) else None
        if name in self.node.kwargs:
            return self.node.kwargs[name]
        return self.defaults.get(name, default)

    def activation(self, index: int):
        """An argument that must be a tensor the model computed (not a weight)."""
        value = self.get(index)
        if not _is_node(value) or value.name in self.tensor_of:
            raise _NoFit
        return value

    def weight(self, index: int, optional: bool = False):
        """An argument that must be one of the model's own tensors (None if optional)."""
        value = self.get(index)
        if value is None and optional:
            return None
        if not _is_node(value) or value.name not in self.tensor_of:
            raise _NoFit
        return tuple(int(s) for s in value.meta["val"].shape)

    def rank(self, index: int = 0) -> int:
        return len(self.activation(index).meta["val"].shape)

    def plain(self, index: int, default: Any = None) -> Any:
        """A non-tensor argument (a number, a list of ints)."""
        value = self.get(index, default)
        if _is_node(value) or (isinstance(value, (list, tuple)) and any(map(_is_node, value))):
            raise _NoFit
        return list(value) if isinstance(value, tuple) else value


def _is_node(value) -> bool:
    return hasattr(value, "op") and hasattr(value, "meta")


# -- the rules: op -> (layer type, its arguments) -----------------------------------------

def _conv(call: _Call):
    call.activation(0)
    weight = call.weight(1)
    spatial = len(weight) - 2
    if call.rank(0) != spatial + 2:
        raise _NoFit                         # an unbatched input: torch's 3-d conv2d
    padding = call.plain(4, 0)
    return f"conv{spatial}d", {
        "out_channels": weight[0], "kernel_size": list(weight[2:]),
        "stride": call.plain(3, 1), "padding": padding, "dilation": call.plain(5, 1),
        "groups": call.plain(6, 1), "bias": call.weight(2, optional=True) is not None}


def _linear(call: _Call):
    call.activation(0)
    weight = call.weight(1)
    return "linear", {"out_features": weight[0],
                      "bias": call.weight(2, optional=True) is not None}


def _addmm(call: _Call):
    """torch.addmm(bias, x, w) with the model's w [in, out] and bias: a linear layer
    (GPT-2's Conv1D); its weight is stored transposed, the counts are the same."""
    if call.get(3, 1) != 1 or call.get(4, 1) != 1:       # beta, alpha
        raise _NoFit
    bias = call.weight(0)
    call.activation(1)
    weight = call.weight(2)
    if len(weight) != 2 or bias != (weight[1],):
        raise _NoFit
    return "linear", {"out_features": weight[1], "bias": True}


def _batch_norm(call: _Call):
    """aten.batch_norm(input, weight, bias, running_mean, running_var, training, ...);
    _native_batch_norm_legit_no_training has the same first five."""
    rank = call.rank(0)
    if rank not in (2, 3, 4, 5):
        raise _NoFit
    affine = call.weight(1, optional=True) is not None
    if affine != (call.weight(2, optional=True) is not None):
        raise _NoFit
    tracked = call.weight(3, optional=True) is not None
    names = call.names
    eps = call.plain(names.index("eps")) if "eps" in names else 1e-5
    momentum = call.plain(names.index("momentum")) if "momentum" in names else 0.1
    return f"batchnorm{max(rank - 2, 1)}d", {
        "affine": affine, "track_running_stats": tracked, "eps": eps, "momentum": momentum}


def _layer_norm(call: _Call):
    call.activation(0)
    weight = call.weight(2, optional=True)
    bias = call.weight(3, optional=True)
    if bias is not None and weight is None:
        raise _NoFit
    return "layernorm", {"normalized_shape": call.plain(1), "eps": call.plain(4, 1e-5),
                         "elementwise_affine": weight is not None, "bias": bias is not None}


def _group_norm(call: _Call):
    call.activation(0)
    affine = call.weight(2, optional=True) is not None
    if affine != (call.weight(3, optional=True) is not None):
        raise _NoFit
    return "groupnorm", {"num_groups": call.plain(1), "eps": call.plain(4, 1e-5),
                         "affine": affine}


def _one_input(type_name: str, **arguments: int):
    """A layer of one input (an activation, dropout, a reshape); `arguments`: its
    argument -> the op's position."""
    def rule(call: _Call):
        call.activation(0)
        return type_name, {name: call.plain(index) for name, index in arguments.items()}
    return rule


def _hardtanh(call: _Call):
    call.activation(0)
    low, high = call.plain(1, -1.0), call.plain(2, 1.0)
    if (low, high) == (0.0, 6.0):
        return "relu6", {}
    return "hardtanh", {"min_val": low, "max_val": high}


def _merge(type_name: str):
    """x op y of two tensors; x op c of a tensor and a Python number is a `scalar`."""
    def rule(call: _Call):
        call.activation(0)
        other = call.get(1)
        if call.get(2, 1) != 1 and type_name in ("add", "sub"):    # add(x, y, alpha=2)
            raise _NoFit
        if _is_number(other):
            return "scalar", {"op": type_name, "other": other}
        call.activation(1)
        if type_name == "div" and call.get(2) is not None:          # rounding_mode=...
            raise _NoFit
        return type_name, {}
    return rule


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(op: str):
    """x op c with c a Python number: pow(x, 2), rsub(x, 1) = 1 − x."""
    def rule(call: _Call):
        call.activation(0)
        other = call.get(1)
        if not _is_number(other) or call.get(2, 1) != 1:
            raise _NoFit
        return "scalar", {"op": op, "other": other}
    return rule


def _function(name: str):
    def rule(call: _Call):
        call.activation(0)
        return "pointwise", {"function": name}
    return rule


def _cat(call: _Call):
    tensors = call.get(0)
    if not isinstance(tensors, (list, tuple)) or len(tensors) < 2:
        raise _NoFit
    if not all(_is_node(t) and t.name not in call.tensor_of for t in tensors):
        raise _NoFit
    return "concat", {"dim": call.plain(1, 0)}


def _pool(kind: str):
    def rule(call: _Call):
        rank = call.rank(0) - 2
        kernel = call.plain(1)
        stride = call.plain(2, []) or None
        args = {"kernel_size": kernel, "stride": stride, "padding": call.plain(3, 0)}
        if kind == "max":
            args.update(dilation=call.plain(4, 1), ceil_mode=call.plain(5, False))
        else:
            args.update(ceil_mode=call.plain(4, False), count_include_pad=call.plain(5, True),
                        divisor_override=call.plain(6, None))
        return f"{kind}pool{rank}d", args
    return rule


def _adaptive_pool(call: _Call):
    rank = call.rank(0) - 2
    return f"adaptiveavgpool{max(rank, 1)}d", {"output_size": call.plain(1)}


def _view(type_name: str):
    """x.view(shape) / x.reshape(shape), the batch dim written -1 where the op keeps it in
    dim 0 (as a spec writes it): the same op at any batch."""
    def rule(call: _Call):
        x = tuple(int(s) for s in call.activation(0).meta["val"].shape)
        y = tuple(int(s) for s in call.node.meta["val"].shape)
        shape = call.plain(1)
        if x and y and x[0] == y[0] and math.prod(x[1:]) == math.prod(y[1:]):
            shape = [-1, *y[1:]]
        return type_name, {"shape": shape}
    return rule


def _expand(call: _Call):
    """x.expand(size); a parameter expanded along a new leading dim (ViT's class token,
    `cls_token.expand(B, -1, -1)`) meets the batch: written `batch`, as a spec does."""
    x = call.activation(0)
    size = call.plain(1)
    if x.op == "get_attr" and size and x.meta["val"].shape[0] == 1 and size[0] != -1:
        size = ["batch", *size[1:]]
    return "expand", {"size": size}


def _slice(call: _Call):
    call.activation(0)
    end = call.plain(3, None)
    return "slice", {"dim": call.plain(1, 0), "start": call.plain(2, None),
                     "end": None if end is not None and end >= 2**62 else end,
                     "step": call.plain(4, 1)}


def _reduce(type_name: str):
    def rule(call: _Call):
        call.activation(0)
        if call.get(3) is not None:          # dtype=...
            raise _NoFit
        dims = call.plain(1)
        return type_name, {"dim": dims if dims else None, "keepdim": call.plain(2, False)}
    return rule


def _embedding(call: _Call):
    weight = call.weight(0)
    call.activation(1)
    padding = call.plain(2, -1)
    return "embedding", {"num_embeddings": weight[0], "embedding_dim": weight[1],
                         "padding_idx": None if padding == -1 else padding}


def _softmax(type_name: str):
    def rule(call: _Call):
        call.activation(0)
        if call.get(2) not in (None, False):        # softmax(x, dim, dtype=...)
            raise _NoFit
        return type_name, {"dim": call.plain(1)}
    return rule


def _matmul(call: _Call):
    a, b = call.activation(0), call.activation(1)
    if len(a.meta["val"].shape) < 2 or len(b.meta["val"].shape) < 2:
        raise _NoFit                         # vector products: torch's mv/dot
    return "matmul", {}


def _attention(call: _Call):
    for index in (0, 1, 2):
        call.activation(index)
    mask = call.get(3)
    if mask is not None and (not _is_node(mask) or mask.name in call.tensor_of):
        raise _NoFit
    return "scaleddotproductattention", {
        "dropout_p": call.plain(4, 0.0), "is_causal": call.plain(5, False),
        "scale": call.plain(6, None), "enable_gqa": call.plain(7, False)}


def piece_for(node, index: int, tensor_of: dict[str, str]):
    """The layer for piece `index` of an op that returns several tensors: unbind's is a
    select; a piece of chunk, split or split_with_sizes a narrow of the sizes torch cut."""
    from .capture import _op_name
    op = _op_name(node.target)
    call = _Call(node, tensor_of)
    try:
        x = call.activation(0)
        if op == "aten.unbind.int":
            return lookup("select").from_args({"dim": call.plain(1, 0), "index": index})
        if op in ("aten.chunk.default", "aten.split.Tensor", "aten.split_with_sizes.default"):
            dim = call.plain(2, 0) % len(x.meta["val"].shape)
            lengths = [int(piece.shape[dim]) for piece in node.meta["val"]]
            return lookup("narrow").from_args({"dim": dim, "start": sum(lengths[:index]),
                                               "length": lengths[index]})
    except (_NoFit, SpecError):
        return None
    return None


def _like(type_name: str):
    """x.reshape_as(y), x.view_as(y), x.expand_as(y): the shape is y's, known here."""
    def rule(call: _Call):
        x = tuple(int(s) for s in call.activation(0).meta["val"].shape)
        y = [int(s) for s in call.node.meta["val"].shape]
        if type_name == "expand":
            return "expand", {"size": y}
        if x and y and x[0] == y[0] and math.prod(x[1:]) == math.prod(y[1:]):
            y = [-1, *y[1:]]
        return type_name, {"shape": y}
    return rule


def _upsample(mode: str):
    """F.interpolate: upsample_nearest2d.vec(x, output_size, scale_factors) and the
    interpolating ones, (x, output_size, align_corners, scale_factors); by size, or by
    scale factors where netcalc's rounding of them gives torch's size."""
    def rule(call: _Call):
        call.activation(0)
        size = call.plain(1)
        align = None if mode == "nearest" else call.plain(2, False)
        scales = call.plain(2 if mode == "nearest" else 3)
        args = {"size": size, "mode": mode} if size is not None else \
            {"scale_factor": scales, "mode": mode}
        if mode != "nearest":
            args["align_corners"] = align
        return "upsample", args
    return rule


_PAD_TYPES = {"constant": "constantpad", "reflect": "reflectionpad",
              "replicate": "replicationpad", "circular": "circularpad"}


def _pad(call: _Call):
    """F.pad(x, pad, mode, value): the padding layer of pad's rank."""
    rank = call.rank(0)
    pad = call.plain(1)
    mode = call.plain(2, "constant")
    if mode not in _PAD_TYPES or len(pad) % 2 or not 1 <= len(pad) // 2 <= 3:
        raise _NoFit
    if rank not in (len(pad) // 2 + 1, len(pad) // 2 + 2):
        raise _NoFit                         # F.pad of the last dims of a longer tensor
    args = {"padding": pad}
    if mode == "constant":
        args["value"] = call.plain(3, None) or 0.0
    return f"{_PAD_TYPES[mode]}{len(pad) // 2}d", args


_RULES: dict[str, Callable] = {
    "aten.conv1d.default": _conv, "aten.conv2d.default": _conv, "aten.conv3d.default": _conv,
    "aten.conv1d.padding": _conv, "aten.conv2d.padding": _conv, "aten.conv3d.padding": _conv,
    "aten.linear.default": _linear, "aten.addmm.default": _addmm,
    "aten.batch_norm.default": _batch_norm,
    "aten._native_batch_norm_legit_no_training.default": _batch_norm,
    "aten.layer_norm.default": _layer_norm,
    "aten.group_norm.default": _group_norm,
    "aten.relu.default": _one_input("relu"), "aten.relu_.default": _one_input("relu"),
    "aten.gelu.default": _one_input("gelu", approximate=1),
    "aten.gelu_.default": _one_input("gelu", approximate=1),
    "aten.silu.default": _one_input("silu"), "aten.silu_.default": _one_input("silu"),
    "aten.sigmoid.default": _one_input("sigmoid"),
    "aten.sigmoid_.default": _one_input("sigmoid"),
    "aten.tanh.default": _one_input("tanh"), "aten.tanh_.default": _one_input("tanh"),
    "aten.hardswish.default": _one_input("hardswish"),
    "aten.hardswish_.default": _one_input("hardswish"),
    "aten.hardsigmoid.default": _one_input("hardsigmoid"),
    "aten.hardsigmoid_.default": _one_input("hardsigmoid"),
    "aten.hardtanh.default": _hardtanh, "aten.hardtanh_.default": _hardtanh,
    "aten.mish.default": _one_input("mish"), "aten.mish_.default": _one_input("mish"),
    "aten.leaky_relu.default": _one_input("leakyrelu", negative_slope=1),
    "aten.leaky_relu_.default": _one_input("leakyrelu", negative_slope=1),
    "aten.elu.default": _one_input("elu", alpha=1),
    "aten.softplus.default": _one_input("softplus", beta=1, threshold=2),
    "aten.softmax.int": _softmax("softmax"), "aten.log_softmax.int": _softmax("logsoftmax"),
    "aten.add.Tensor": _merge("add"), "aten.add_.Tensor": _merge("add"),
    "aten.sub.Tensor": _merge("sub"), "aten.mul.Tensor": _merge("mul"),
    "aten.mul_.Tensor": _merge("mul"), "aten.div.Tensor": _merge("div"),
    "aten.add.Scalar": _scalar("add"), "aten.sub.Scalar": _scalar("sub"),
    "aten.mul.Scalar": _scalar("mul"), "aten.div.Scalar": _scalar("div"),
    "aten.pow.Tensor_Scalar": _scalar("pow"), "aten.rsub.Scalar": _scalar("rsub"),
    **{f"aten.{name}.default": _function(name) for name in (
        "neg", "abs", "sqrt", "rsqrt", "exp", "log", "log1p", "expm1", "sin", "cos",
        "reciprocal", "square", "erf", "sign", "floor", "ceil", "round", "trunc")},
    "aten.cat.default": _cat, "aten.concat.default": _cat,
    "aten.max_pool1d.default": _pool("max"), "aten.max_pool2d.default": _pool("max"),
    "aten.max_pool3d.default": _pool("max"),
    "aten.avg_pool1d.default": _pool("avg"), "aten.avg_pool2d.default": _pool("avg"),
    "aten.avg_pool3d.default": _pool("avg"),
    "aten.adaptive_avg_pool1d.default": _adaptive_pool,
    "aten.adaptive_avg_pool2d.default": _adaptive_pool,
    "aten.adaptive_avg_pool3d.default": _adaptive_pool,
    "aten.dropout.default": _one_input("dropout", p=1),
    "aten.dropout_.default": _one_input("dropout", p=1),
    "aten.upsample_nearest1d.vec": _upsample("nearest"),
    "aten.upsample_nearest2d.vec": _upsample("nearest"),
    "aten.upsample_nearest3d.vec": _upsample("nearest"),
    "aten.upsample_linear1d.vec": _upsample("linear"),
    "aten.upsample_bilinear2d.vec": _upsample("bilinear"),
    "aten.upsample_bicubic2d.vec": _upsample("bicubic"),
    "aten.upsample_trilinear3d.vec": _upsample("trilinear"),
    "aten.flatten.using_ints": _one_input("flatten", start_dim=1, end_dim=2),
    "aten.view.default": _view("view"), "aten.reshape.default": _view("reshape"),
    "aten.permute.default": _one_input("permute", dims=1),
    "aten.transpose.int": _one_input("transpose", dim0=1, dim1=2),
    "aten.unsqueeze.default": _one_input("unsqueeze", dim=1),
    "aten.squeeze.dim": _one_input("squeeze", dim=1),
    "aten.expand.default": _expand,
    "aten.contiguous.default": _one_input("contiguous"),
    "aten.select.int": _one_input("select", dim=1, index=2),
    "aten.slice.Tensor": _slice,
    "aten.mean.dim": _reduce("mean"), "aten.sum.dim_IntList": _reduce("sum"),
    "aten.embedding.default": _embedding,
    "aten.reshape_as.default": _like("reshape"), "aten.view_as.default": _like("view"),
    "aten.expand_as.default": _like("expand"),
    "aten.pad.default": _pad,
    "aten.matmul.default": _matmul, "aten.bmm.default": _matmul,
    "aten.scaled_dot_product_attention.default": _attention,
}
