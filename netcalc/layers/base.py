"""The unit of extension: one layer type.

A layer type is a frozen dataclass whose fields are torch's constructor
keywords with torch's defaults. It owns every rule about itself: argument
checks, output shape, parameters, buffers, MACs, the memory its output takes
and how to build the torch module. Rules raise `ShapeError(msg, arg=...)`
without a location; `analyze` adds the layer's name and position.
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import MISSING, dataclass, fields
from math import prod
from typing import Any, ClassVar, Mapping

from ..errors import ShapeError, SpecError, UnknownArgumentError, did_you_mean, shorten
from ..formulas import channels_last_strides, contiguous_strides, is_channels_last
from .field import Field, merged

Shape = tuple[int, ...]
Strides = tuple[int, ...]

# The input a layer of each spatial rank expects, for messages.
DIMS_BY_RANK = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}

# Sizes beyond int64 are not sizes torch could hold.
MAX_INT = 2**63 - 1

# A size a spec may write as `batch` (expand's): the batch `--batch` sets.
BATCH = "batch"

# The `arity` of a layer that reads no input: its output is its own parameter.
NO_INPUT = -1


# (layer class, its arguments as written) -> the layer: see Layer.from_args
_MADE: dict[tuple, "Layer"] = {}
_MOST_MADE = 20_000


def _written_key(value: Any) -> Any:
    """Arguments as a key that tells 1, 1.0 and True apart (equal in Python, not in a
    spec: an int argument refuses 1.0) and lists from tuples."""
    if isinstance(value, dict):         # (typing's Mapping checks slowly)
        return tuple((k, _written_key(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_written_key(v) for v in value))
    return (type(value), value)


_FIELDS: dict[type, dict] = {}


def _declared_fields(cls: type) -> dict:
    """A layer class's fields by name (dataclasses.fields filters them at every call)."""
    if cls not in _FIELDS:
        _FIELDS[cls] = {f.name: f for f in fields(cls)}
    return _FIELDS[cls]


def too_many_elements(shape: Shape) -> str | None:
    """Why torch could not hold a tensor of this shape (its sizes are int64), or None."""
    for size in shape:                   # (a loop: asked of every layer's output)
        if not isinstance(size, int):
            return None                  # a size written as a letter: no number to weigh
    if prod(shape) <= MAX_INT and max(shape, default=0) <= MAX_INT:
        return None
    if any(size > MAX_INT for size in shape) or prod(shape) > MAX_INT:
        return (f"{list(shape) if len(str(list(shape))) < 80 else 'the shape'} has "
                f"{shorten(prod(shape))} elements, more than a torch tensor can hold (2⁶³ − 1)")
    return None


class LayerNumbers(namedtuple("LayerNumbers", (
        "output_shape", "params", "buffers", "macs", "activation_elements", "output_strides",
        "warnings"), defaults=((),))):
    """What one layer contributes, computed by its own rules: its output shape; its
    parameters and buffers (torch's name -> element count); MACs; the new elements its
    output allocates (0 for views); the output's strides as torch lays it out; and
    warnings (valid, but likely not what was meant). A tuple: one is made for every layer
    analyzed, three times as fast as a frozen dataclass."""

    __slots__ = ()


class Saved(namedtuple("Saved", ("what", "index", "elements", "dtype"),
                       defaults=(0, 0, "model"))):
    """A tensor autograd keeps of a layer for the backward pass (in training): one of
    its inputs (`what` "input", by `index`), its output ("output"), or a new one of
    `elements` ("new", of `dtype`: the model's, "float32" or "int64")."""

    __slots__ = ()


# Making a dataclass compiles its methods, ~0.5 ms a class, and a spec uses a few of
# netcalc's ~120 layer types: each is made when a spec first names it (registry.lookup
# calls `made`), and without the eq, hash and repr methods, which layers need not
# compile each: equality is identity (equal arguments give one shared object,
# Layer.from_args) and one __repr__ below serves every type.
_AS_DATACLASS = dataclass(frozen=True, eq=False, repr=False)
_PENDING: set[type] = set()


def layer_type(cls: type) -> type:
    """Declare a layer type: a frozen dataclass of its arguments (fields with torch's
    defaults), made by `made(cls)` before its first use."""
    _PENDING.add(cls)
    return cls


def made(cls: type) -> type:
    """`cls` as a dataclass, its bases with fields made first."""
    if _PENDING:
        for base in reversed(cls.__mro__):
            if base in _PENDING:
                _PENDING.discard(base)
                _AS_DATACLASS(base)
    return cls


@layer_type
class Layer:
    """Base of every layer type; subclasses are frozen dataclasses (`@layer_type`)."""

    def __repr__(self) -> str:      # as a dataclass writes it: Conv2d(out_channels=64, ...)
        shown = ", ".join(f"{name}={getattr(self, name)!r}"
                          for name in _declared_fields(type(self)))
        return f"{type(self).__qualname__}({shown})"

    type_name: ClassVar[str] = ""
    # conv, linear, pool, norm, activation, dropout, merge, reshape, embedding, pad, resize
    family: ClassVar[str] = ""
    rank: ClassVar[int] = 0                      # spatial dims, for `Ints` arguments
    arity: ClassVar = 1      # inputs taken: a number, or a tuple of the numbers accepted
                             # (attention's 1 or 3); 0 means two or more, NO_INPUT none
    makes_pieces: ClassVar[bool] = False         # chunk, split: an entry makes every piece
    positive: ClassVar[tuple[str, ...]] = ()     # arguments that must be >= 1
    non_negative: ClassVar[tuple[str, ...]] = ()
    choices: ClassVar[Mapping[str, tuple]] = {}  # argument -> accepted strings
    int64_buffers: ClassVar[tuple[str, ...]] = ()  # buffers that stay int64 whatever the dtype
    # The output's memory layout, as torch's kernel allocates it: "new" (contiguous),
    # "keep" (the input's strides: elementwise ops), or "channels_last" (channels-last
    # when the input is, else contiguous: most 2-d/3-d image kernels)
    layout: ClassVar[str] = "new"
    # what autograd keeps for backward in training (torch's derivatives.yaml, checked with
    # saved_tensors_hooks): "input", "inputs", "output", or "" for nothing
    saves: ClassVar[str] = ""
    # the module class built for it, when not torch.nn's of the layer class's name: another
    # of torch.nn's (StochasticDepth is nn.Identity) or netcalc's own (torch_bridge/build.py)
    torch_class: ClassVar[str] = ""
    # its input is integer indices (an embedding's token ids): a spec input of a float
    # dtype is refused, as torch refuses it
    reads_indices: ClassVar[bool] = False

    # -- construction ---------------------------------------------------

    @classmethod
    def argument_names(cls) -> list[str]:
        return list(_declared_fields(cls))

    @classmethod
    def from_args(cls, args: Mapping[str, Any], other_keys: tuple[str, ...] = ()) -> "Layer":
        """The layer for a spec's arguments: names, types and ranges checked.

        `other_keys` are the spec's own keys (name, repeat, ...), named only in
        the suggestion for a misspelled argument. Layers are frozen, so the layers of
        equal arguments are one object, made once (a ResNet's repeated blocks, a search
        over a param that leaves most layers alike).
        """
        try:
            key = (cls, _written_key(args))
            made = _MADE.get(key)
        except TypeError:              # an argument no key can hold: made every time
            key, made = None, None
        if made is None:
            made = cls.parse_args(args, other_keys)
            made.check_arguments()
            if key is not None:
                if len(_MADE) >= _MOST_MADE:
                    _MADE.clear()
                _MADE[key] = made
        return made

    @classmethod
    def parse_args(cls, args: Mapping[str, Any], other_keys: tuple[str, ...] = ()) -> "Layer":
        """Check names and types of the spec's arguments and normalize them (3 -> (3, 3))."""
        declared = _declared_fields(cls)
        for key in args:
            if key not in declared:
                raise UnknownArgumentError(_unknown_argument(cls, key, other_keys), arg=key)
        values = {}
        for name, f in declared.items():
            if name not in args and f.default is MISSING:
                raise SpecError(f"missing argument '{name}'", arg="type")
            # defaults are in the spec's own form (`stride: 1`) and normalize the same way
            values[name] = _parse(f.type, args.get(name, f.default), name, cls)
        return cls(**values)

    def check_arguments(self) -> None:
        """Range checks that need no input shape; subclasses add their own."""
        for name in self.positive:
            _check_each(self, name, lambda v: v >= 1, "must be at least 1")
        for name in self.non_negative:
            _check_each(self, name, lambda v: v >= 0, "must not be negative")
        for name, accepted in self.choices.items():
            value = getattr(self, name)
            if value not in accepted:
                listed = ", ".join(repr(a) for a in accepted)
                raise ShapeError(f"{name}={value!r} is not one of {listed}", arg=name)

    # -- the rules --------------------------------------------------------

    def for_batch(self, batch: int) -> "Layer":
        """The layer with sizes written as `batch` filled in (most have none)."""
        return self

    def output_shape(self, x: Shape) -> Shape:
        raise NotImplementedError

    def params(self, x: Shape) -> dict[str, int]:
        return {}

    def buffers(self, x: Shape) -> dict[str, int]:
        return {}

    def macs(self, x: Shape, y: Shape) -> int:
        """Multiply-accumulates, as torch's FlopCounterMode counts them (flops / 2)."""
        return 0

    def activation_elements(self, x: Shape, y: Shape) -> int:
        """Elements of new memory the output needs (0 for an op that returns its input)."""
        return prod(y)

    def output_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        """The output's strides, by the type's `layout`."""
        if self.layout == "keep":
            return x_strides
        # a 3-d input is channels-last only to 1-d layers (torch runs them as 2-d ones)
        if self.layout == "channels_last" and (len(x) != 3 or self.rank == 1) \
                and is_channels_last(x, x_strides):
            return channels_last_strides(y)
        return contiguous_strides(y)

    def warnings(self, x: Shape, y: Shape) -> list[str]:
        """What torch accepts but a user likely did not mean."""
        return []

    # -- sequence models: what summary states beside the totals ----------------

    def causal_attention_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        """Of `macs`, the attention term (Q·Kᵀ and A·V) of a causal layer. torch's math
        path computes all of it; a causal mask makes half of it useful, which is what
        FlashAttention's MFU counts (summary's causal-effective line; PaLM's and
        Megatron's keep the whole term). 0 for other layers."""
        return 0

    def kv_cache_elements(self, xs: tuple[Shape, ...], context: int) -> int:
        """Elements one sequence's KV cache holds for this layer when a decoder generates
        with `context` tokens: its keys and values, 2·kv_heads·head_dim·context. 0 for
        layers that cache nothing (all but causal self-attention)."""
        return 0

    def output_batch_dim(self, xs: tuple[Shape, ...]) -> int | None:
        """Which dim of the output is the batch (None: none is): dim 0 but for torch's
        sequence-first layouts, an RNN's h_n [layers·D, N, H] or batch_first: false."""
        return 0

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """What the usual slips give for this layer's numbers, for `check` to name:
        (quantity, the i18n remark's key, the wrong number, the remark's arguments), e.g.
        an LSTM's parameters with one bias vector instead of torch's two."""
        return []

    def score_elements(self, xs: tuple[Shape, ...], y: Shape) -> int:
        """Elements of the L×L attention scores and their softmax (2·N·heads·L·S), which
        torch's math path holds while the layer runs and fused kernels (flash attention)
        never make: summary states the largest beside the inference peak, not in it."""
        return 0

    def param_shape(self, x: Shape, tensor: str) -> tuple[int, ...] | None:
        """A parameter tensor's shape, where `tie_weight` needs it (a linear layer's and
        an embedding's weight); None: only its element count is known."""
        return None

    def positions_held(self) -> int | None:
        """How many positions a learned position table holds (GPT-2's 1,024): a decoder
        cannot generate past them. None: no such limit (most layers; rotary has none)."""
        return None

    def active_params(self, xs: tuple[Shape, ...]) -> int | None:
        """Parameters one token's forward uses, where that is fewer than all of them
        (a mixture of experts: its router and top_k experts); None: all of them."""
        return None

    def notation(self) -> str:
        """The layer as a textbook or a diagram writes it: `conv 11×11/4, 64`."""
        return self.type_name

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """What one output unit sees of the network's input, from what one input unit
        sees (layers/field.py). A type without a rule says so; it never guesses."""
        return field.lost(f"netcalc has no receptive-field rule for {self.type_name}")

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """`receptive_field` for these inputs (merges and attention take several)."""
        (x,), (field,) = inputs, fields
        return self.receptive_field(x, y, field)

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """The tensors autograd keeps of this layer until the backward pass: by `saves`;
        types that keep more (statistics, indices, masks) add them."""
        if self.saves == "input":
            return [Saved("input")]
        if self.saves == "inputs":
            return [Saved("input", i) for i in range(len(xs))]
        if self.saves == "output":
            return [Saved("output")]
        return []

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list:
        """The worked computation (working.Step), with these numbers: the output size's
        formula, the parameters', the MACs'. None of them for a layer whose numbers
        need no working (an activation keeps its input's shape)."""
        return []

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        """All the rules for these inputs (of these layouts; contiguous by default)."""
        (x,) = inputs
        x_strides = strides[0] if strides else contiguous_strides(x)
        y = self.output_shape(x)
        return LayerNumbers(y, self.params(x), self.buffers(x), self.macs(x, y),
                            self.activation_elements(x, y), self.output_strides(x, x_strides, y),
                            tuple(self.warnings(x, y)))

    # -- torch ----------------------------------------------------------

    def inferred(self, x: Shape) -> dict[str, int]:
        """Arguments that follow from the input (in_channels, ...), with their values."""
        return {}

    def arguments(self, x: Shape) -> dict[str, Any]:
        """Every argument, inferred ones filled in: torch's keywords for this input."""
        values = {name: getattr(self, name) for name in _declared_fields(type(self))}
        values.update(self.inferred(x))
        return values

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each optional argument's default, normalized as a spec's value would be."""
        return {name: _parse(f.type, f.default, name, cls)
                for name, f in _declared_fields(cls).items() if f.default is not MISSING}

    def given_arguments(self) -> dict[str, Any]:
        """The arguments that differ from their defaults, as a person writes them
        (`kernel_size: 3` for (3, 3)): what a spec or torch call needs to say."""
        defaults = self.defaults()
        given = {}
        for f in _declared_fields(type(self)).values():
            value = getattr(self, f.name)
            if f.name in defaults and value == defaults[f.name]:
                continue
            per_dim = f.type in ("Ints", "Ints | None", "Padding", "OutputSize")
            # one value for every spatial dim (but torch reads a bare None as no size)
            if per_dim and isinstance(value, tuple) and len(set(value)) == 1 \
                    and value[0] is not None:
                value = value[0]
            given[f.name] = value
        return given

    def torch_module(self, nn, x: Shape):
        """The equivalent `torch.nn` module; our class names and arguments are torch's.

        (nn is passed in: layers never import torch.)
        """
        return getattr(nn, self.torch_class or type(self).__name__)(**self.arguments(x))

    @classmethod
    def arguments_of(cls, module) -> dict[str, Any] | None:
        """The arguments a torch module of this type was built with, for `import`,
        where its attributes do not carry them by name (None: they do)."""
        return None

    @classmethod
    def torch_call(cls, module: str, xs: list[str]) -> str:
        """How forward calls the module, as export writes it: `self.conv1(x)`."""
        return f"{module}({', '.join(xs)})"

    # -- helpers for rules --------------------------------------------------

    def check_inferred(self, name: str, actual: int, noun: str, where: str = "") -> int:
        """`in_channels` and friends: inferred when omitted, checked when given."""
        given = getattr(self, name)
        if given is not None and given != actual:
            raise ShapeError(f"{name}={given} but the input has {actual} {noun}"
                             f"{'s' if actual != 1 else ''}{where}", arg=name)
        return actual

    def expect_rank(self, x: Shape, ranks: tuple[int, ...], dims: str) -> None:
        if len(x) not in ranks:
            wanted = " or ".join(f"{r}-D" for r in ranks)
            # [1, 1, 3, 32, 32] for conv2d: the spec's input most likely included the batch
            batch_hint = (" (does the spec's input include the batch dim? Leave it out: "
                          "netcalc adds it)") if len(x) == max(ranks) + 1 and x[1] == 1 else ""
            raise ShapeError(" ".join(f"expects a {wanted} input {dims}, got {list(x)}".split())
                             + batch_hint)

    def expect_min_rank(self, x: Shape, rank: int, dims: str) -> None:
        if len(x) < rank:
            raise ShapeError(f"expects an input of at least {rank} dims {dims}, got {list(x)}")


class Merge(Layer):
    """Layers of two or more inputs (add, mul, concat): no parameters, no MACs."""

    arity: ClassVar[int] = 0
    family: ClassVar[str] = "merge"

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    def merge_strides(self, xs: tuple[Shape, ...], strides: tuple[Strides, ...],
                      y: Shape) -> Strides:
        return contiguous_strides(y)

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        y = self.merge_shape(inputs)
        strides = strides or tuple(contiguous_strides(x) for x in inputs)
        return LayerNumbers(y, {}, {}, 0, prod(y), self.merge_strides(inputs, strides, y))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """Each output unit sees what its inputs' units see, together."""
        return merged(fields, inputs, y)


def window(sizes: tuple[int, ...]) -> str:
    """(3, 3) -> '3×3' for notations."""
    return "×".join(str(s) for s in sizes)


def per_dim(values: tuple[int, ...]) -> str:
    """(2, 2) -> '2', (1, 2) -> '1×2': one number when every dim has it."""
    return str(values[0]) if len(set(values)) == 1 else window(values)


# -- argument parsing -------------------------------------------------------

# Other libraries' names for torch's arguments, for suggestions.
_ARGUMENT_NAMES_ELSEWHERE = {
    "filters": "out_channels", "units": "out_features", "strides": "stride", "use_bias": "bias",
    "kernel": "kernel_size", "pool_size": "kernel_size", "rate": "p", "num_output": "out_channels",
    "pad": "padding", "axis": "dim"}


def _unknown_argument(cls: type[Layer], key: Any, other_keys: tuple[str, ...]) -> str:
    names = cls.argument_names()
    if _ARGUMENT_NAMES_ELSEWHERE.get(key) in names:
        hint = f"; torch calls it '{_ARGUMENT_NAMES_ELSEWHERE[key]}'"
    else:
        hint = did_you_mean(key, [*names, *other_keys])
    accepted = ", ".join(names) if names else "none"
    also = f"; and every layer takes {', '.join(other_keys)}" if other_keys else ""
    return f"{cls.type_name} has no argument '{key}'{hint} (it takes: {accepted}{also})"


def _check_each(layer: Layer, name: str, ok, message: str) -> None:
    value = getattr(layer, name)
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not ok(v):
            raise ShapeError(f"{name}={_show(value)} {message}", arg=name)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return f"{value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


def parse_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            raise SpecError(f"{name} must be an integer, got {value} (write {int(value)}, or "
                            "int(...) inside a ${} expression)", arg=name)
        raise SpecError(f"{name} must be an integer, got {_type_name(value)}"
                        f"{_yaml_number_hint(value)}", arg=name)
    if abs(value) > MAX_INT:
        raise SpecError(f"{name}={shorten(value)} is too large (torch sizes are 64-bit)",
                        arg=name)
    return value


def parse_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{name} must be a number, got {_type_name(value)}"
                        f"{_yaml_number_hint(value)}", arg=name)
    if not math.isfinite(value):
        raise SpecError(f"{name} must be a finite number, got {value}", arg=name)
    return value


def _yaml_number_hint(value: Any) -> str:
    """YAML 1.1 reads `1e6` and `1.0e6` as strings: say how to write the number."""
    if not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number) or "e" not in value.lower():
        return ""
    return f" (YAML reads {value} as text: write {yaml_float(value)})"


def yaml_float(text: str) -> str:
    """A number in exponent form as YAML 1.1 reads a float: 1e-05 -> 1.0e-05
    (it needs a dot in the mantissa and a sign in the exponent)."""
    mantissa, _, exponent = text.lower().partition("e")
    if not exponent:
        return text
    mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
    exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
    return f"{mantissa}e{exponent}"


def parse_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{name} must be true or false, got {_type_name(value)}", arg=name)
    return value


def parse_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{name} must be a string, got {_type_name(value)}", arg=name)
    return value


def parse_int_list(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise SpecError(f"{name} must be a list of integers, got {_type_name(value)}", arg=name)
    return tuple(parse_int(v, name) for v in value)


def parse_ints(value: Any, name: str, rank: int) -> tuple[int, ...]:
    """`3` -> (3, 3) for rank 2; a list must give one value per spatial dim."""
    if isinstance(value, list):
        if len(value) != rank:
            raise SpecError(f"{name} needs {rank} value{'s' if rank > 1 else ''} "
                            f"(one per spatial dim), got {len(value)}", arg=name)
        return tuple(parse_int(v, name) for v in value)
    return (parse_int(value, name),) * rank


def parse_padding(value: Any, name: str, rank: int):
    if isinstance(value, str):
        if value not in ("same", "valid"):
            raise SpecError(f"{name}={value!r}: the only padding strings are 'same' and 'valid'",
                            arg=name)
        return value
    return parse_ints(value, name, rank)


def _optional(parse):
    def parse_optional(value, name, *rest):
        return None if value is None else parse(value, name, *rest)
    return parse_optional


def parse_output_size(value: Any, name: str, rank: int):
    """Adaptive pools: an int, or one int-or-null per spatial dim (null keeps the input's)."""
    if isinstance(value, list):
        if len(value) != rank:
            raise SpecError(f"{name} needs {rank} values (one per spatial dim), got {len(value)}",
                            arg=name)
        return tuple(None if v is None else parse_int(v, name) for v in value)
    return (None if value is None else parse_int(value, name),) * rank


def parse_sizes_or_batch(value: Any, name: str) -> tuple[int | str, ...]:
    """A list of sizes, any of which may be `batch`."""
    if not isinstance(value, list):
        raise SpecError(f"{name} must be a list of sizes, got {_type_name(value)}", arg=name)
    return tuple(v if v == BATCH else parse_int(v, name) for v in value)


def parse_dims(value: Any, name: str) -> tuple[int, ...]:
    """A dim or a list of dims (torch's `int | tuple[int]`)."""
    if isinstance(value, list):
        return tuple(parse_int(v, name) for v in value)
    return (parse_int(value, name),)


_PARSERS = {
    "int": lambda v, n, cls: parse_int(v, n),
    "float": lambda v, n, cls: parse_float(v, n),
    "bool": lambda v, n, cls: parse_bool(v, n),
    "str": lambda v, n, cls: parse_str(v, n),
    "int | None": lambda v, n, cls: _optional(parse_int)(v, n),
    "float | None": lambda v, n, cls: _optional(parse_float)(v, n),
    "bool | None": lambda v, n, cls: _optional(parse_bool)(v, n),
    "Ints": lambda v, n, cls: parse_ints(v, n, cls.rank),
    "Ints | None": lambda v, n, cls: _optional(parse_ints)(v, n, cls.rank),
    "Padding": lambda v, n, cls: parse_padding(v, n, cls.rank),
    "OutputSize": lambda v, n, cls: parse_output_size(v, n, cls.rank),
    "IntList": lambda v, n, cls: parse_int_list(v, n),
    "SizesOrBatch": lambda v, n, cls: parse_sizes_or_batch(v, n),
    "Dims": lambda v, n, cls: parse_dims(v, n),
    "Dims | None": lambda v, n, cls: _optional(parse_dims)(v, n),
    "SizeOrList": lambda v, n, cls: _one_or_list(parse_int)(v, n),
    "SizeOrList | None": lambda v, n, cls: _optional(_one_or_list(parse_int))(v, n),
    "Floats | None": lambda v, n, cls: _optional(_one_or_list(parse_float))(v, n),
}


def _one_or_list(parse):
    """A value, or a list of values kept as a tuple (upsample's size, scale_factor)."""
    def parse_one_or_list(value: Any, name: str):
        if isinstance(value, list):
            return tuple(parse(v, name) for v in value)
        return parse(value, name)
    return parse_one_or_list


def _parse(annotation: str, value: Any, name: str, cls: type[Layer]) -> Any:
    return _PARSERS[annotation](value, name, cls)


# Annotation aliases: the schema reads as types, the parsers key on the names.
Ints = tuple
Padding = tuple
OutputSize = tuple
IntList = tuple
SizesOrBatch = tuple
Dims = tuple
SizeOrList = tuple
Floats = tuple


def normalize_dim(dim: int, ndim: int, name: str = "dim") -> int:
    """torch's dim wrapping: -1 is the last dim; out of range is an error."""
    if not -ndim <= dim < ndim:
        raise ShapeError(f"{name}={dim} is out of range for a {ndim}-D tensor "
                         f"(expected {-ndim} to {ndim - 1})", arg=name)
    return dim % ndim
