"""Activations and dropout: elementwise, shape-preserving, 0 MACs.

Most take only scalar arguments, so they are declared one line each from
torch's class name and its keyword defaults (fvcore's one-handle-per-op
table, as a registry).
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from ..errors import ShapeError
from .base import Layer, Saved, Shape, layer_type, normalize_dim
from .field import Field
from .registry import register, register_recipe

_ANNOTATION = {bool: "bool", float: "float", int: "int", str: "str", type(None): "int | None"}


class Elementwise(Layer):
    """y has x's shape; an in-place op allocates nothing new."""

    family: ClassVar[str] = "activation"
    layout: ClassVar[str] = "keep"       # elementwise: the output is laid out like the input
    saves: ClassVar[str] = "input"       # most derivatives need x
    # in place, torch keeps a copy of x for these (x itself is overwritten)
    copies_in_place: ClassVar[bool] = True

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        if getattr(self, "inplace", False) and self.saves == "input" and self.copies_in_place:
            return [Saved("new", elements=prod(xs[0]))]
        return super().saved_for_backward(xs, y)

    def output_shape(self, x: Shape) -> Shape:
        return x

    def activation_elements(self, x: Shape, y: Shape) -> int:
        return 0 if getattr(self, "inplace", False) else super().activation_elements(x, y)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees what its own input unit sees."""
        return field


def _declare(base: type, torch_class: str, class_vars: dict | None = None, **defaults: Any):
    """A layer type for `torch.nn.<torch_class>` with these keywords, made when a spec
    first names it (a summary of a ReLU network makes no dataclass for the others)."""
    def make() -> type:
        namespace = {"__module__": __name__, **(class_vars or {})}
        cls = type(torch_class, (_with_fields(base, **defaults),), namespace)
        return register(torch_class.lower())(cls)
    register_recipe(torch_class.lower(), make)


def _with_fields(base: type, **defaults: Any) -> type:
    """`base` with these keyword fields: one dataclass for every type declared with the
    same keywords and defaults (ReLU, SiLU, Mish ... share `inplace=False`), since
    making a dataclass costs start-up time and the types differ only in class data."""
    if not defaults:
        return base
    key = (base, *defaults.items())
    if key not in _FIELDS_OF:
        annotations = {name: _ANNOTATION[type(value)] for name, value in defaults.items()}
        namespace = {"__module__": __name__, "__annotations__": annotations, **defaults}
        name = f"{base.__name__}_{'_'.join(defaults)}"
        _FIELDS_OF[key] = layer_type(type(name, (base,), namespace))
    return _FIELDS_OF[key]


_FIELDS_OF: dict[tuple, type] = {}


# what their derivatives keep, where it is not x (a copy of it when in place)
_SAVES = {"ReLU": {"saves": "output"}, "Sigmoid": {"saves": "output"},
          "Tanh": {"saves": "output"}, "LeakyReLU": {"copies_in_place": False},
          "ELU": {"saves": "output"}}

for _name, _defaults in {
    "ReLU": {"inplace": False},
    "ReLU6": {"inplace": False},
    "LeakyReLU": {"negative_slope": 0.01, "inplace": False},
    "ELU": {"alpha": 1.0, "inplace": False},
    "SELU": {"inplace": False},
    "SiLU": {"inplace": False},
    "Mish": {"inplace": False},
    "Sigmoid": {},
    "Tanh": {},
    "Hardswish": {"inplace": False},
    "Hardsigmoid": {"inplace": False},
    "Softplus": {"beta": 1.0, "threshold": 20.0},
    "Softsign": {},
    "Tanhshrink": {},
}.items():
    _declare(Elementwise, _name, _SAVES.get(_name), **_defaults)

_declare(Elementwise, "GELU", {"choices": {"approximate": ("none", "tanh")}}, approximate="none")
_declare(Elementwise, "LogSigmoid", {"layout": "new"})      # its kernel writes a new buffer


class _Clamp(Elementwise):
    def check_arguments(self) -> None:
        super().check_arguments()
        if self.max_val <= self.min_val:
            raise ShapeError(f"max_val={self.max_val} must be greater than min_val={self.min_val}",
                             arg="max_val")


_declare(_Clamp, "Hardtanh", min_val=-1.0, max_val=1.0, inplace=False)


@register("threshold")
@layer_type
class Threshold(Elementwise):
    """y = x if x > threshold else value; both required, as in torch."""

    threshold: float
    value: float
    inplace: bool = False


class _NonZeroAlpha(Elementwise):
    def check_arguments(self) -> None:
        super().check_arguments()
        if self.alpha == 0:
            raise ShapeError("alpha=0 is not allowed for CELU (it divides by alpha)", arg="alpha")


_declare(_NonZeroAlpha, "CELU", alpha=1.0, inplace=False)


class _SoftmaxLike(Elementwise):
    layout: ClassVar[str] = "new"        # softmax kernels write a contiguous result
    saves: ClassVar[str] = "output"

    def output_shape(self, x: Shape) -> Shape:
        if self.dim is not None:
            normalize_dim(self.dim, len(x))
        return x

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees every entry of `dim` (torch's implicit dim: 0 for 0-, 1- and
        3-D inputs, else 1)."""
        dim = self.dim if self.dim is not None else 0 if len(x) in (0, 1, 3) else 1
        return field.mixed((normalize_dim(dim, len(x)),), f"{self.type_name} over dim {dim}")


for _name in ("Softmax", "LogSoftmax", "Softmin"):
    _declare(_SoftmaxLike, _name, dim=None)


@register("prelu")
@layer_type
class PReLU(Elementwise):
    """One learned slope, or one per channel (dim 1)."""

    num_parameters: int = 1
    init: float = 0.25

    positive: ClassVar[tuple[str, ...]] = ("num_parameters",)

    def output_shape(self, x: Shape) -> Shape:
        channels = x[1] if len(x) >= 2 else 1
        if self.num_parameters not in (1, channels):
            raise ShapeError(f"num_parameters={self.num_parameters} must be 1 or the input's "
                             f"{channels} channels", arg="num_parameters")
        return x

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": self.num_parameters}


class Dropout(Elementwise):
    """Identity at inference: returns its input itself, allocates nothing."""

    family: ClassVar[str] = "dropout"
    ranks: ClassVar[tuple[int, ...]] = ()   # accepted input ranks; () = any

    def notation(self) -> str:
        return f"{self.type_name} {self.p:g}"

    def check_arguments(self) -> None:
        super().check_arguments()
        if not 0 <= self.p <= 1:
            raise ShapeError(f"p={self.p}: a dropout probability is between 0 and 1", arg="p")

    def output_shape(self, x: Shape) -> Shape:
        if self.ranks:
            self.expect_rank(x, self.ranks, "")
        return x

    def activation_elements(self, x: Shape, y: Shape) -> int:
        return 0

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """In training it keeps its mask, of x's size and dtype (and writes a new output)."""
        return [Saved("new", elements=prod(xs[0]))] if self.p > 0 else []


for _name, _ranks in {
    "Dropout": (), "AlphaDropout": (), "FeatureAlphaDropout": (),
    # torch only warns when Dropout2d/3d get unusual ranks; Dropout1d refuses them
    "Dropout1d": (2, 3), "Dropout2d": (), "Dropout3d": (),
}.items():
    _declare(Dropout, _name, {"ranks": _ranks}, p=0.5, inplace=False)


@register("stochasticdepth", "droppath")
@layer_type
class StochasticDepth(Dropout):
    """torchvision.ops.StochasticDepth (timm's DropPath): while training it drops a
    residual branch for whole samples (`row`) or the whole batch; at inference
    it returns its input, so netcalc builds it as nn.Identity."""

    p: float
    mode: str = "row"

    choices: ClassVar = {"mode": ("row", "batch")}
    torch_class: ClassVar[str] = "Identity"    # torch.nn has none; eval makes it one

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """Training multiplies by a noise of one value per sample (or one): x's gradient
        needs the noise; the noise needs none, so x is not kept."""
        if self.p == 0:
            return []
        return [Saved("new", elements=xs[0][0] if self.mode == "row" else 1)]
