"""The quick calculators: one layer on one input, no spec file.

`one_layer` runs a single layer through the same rules as a spec (analyze,
explain); `solve` finds the hyper-parameter a question leaves out by trying
each value against those rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analyze import analyze
from .errors import ShapeError, SpecError, UsageError
from .layers import lookup
from .results import LayerResult
from .spec.model import ExpandedSpec, InputSpec, LayerSpec
from .working import LayerWorking, explain_layers

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# the spatial rank an input of this many dims (channels first, no batch) has
_RANKS = {2: 1, 3: 2, 4: 3}


def layer_type(kind: str, input_shape: tuple[int, ...]) -> str:
    """conv + a 3-D input [C, H, W] -> conv2d."""
    if kind == "linear":
        return "linear"
    if len(input_shape) not in _RANKS:
        raise UsageError(f"--input {'x'.join(map(str, input_shape))}: a {kind} takes [C, L], "
                         "[C, H, W] or [C, D, H, W] (without the batch)")
    return f"{kind}{_RANKS[len(input_shape)]}d"


@dataclass(frozen=True)
class Calculation:
    """One layer computed without a spec, with its working."""

    result: LayerResult
    working: LayerWorking
    warnings: tuple                  # results.SpecWarning: what torch accepts but is unlikely


def one_layer(type_name: str, args: dict[str, Any], input_shape: tuple[int, ...],
              batch: int = 1) -> Calculation:
    """The layer `type_name(**args)` on an input of `input_shape` (no batch dim)."""
    cls = lookup(type_name)
    layer = cls.from_args(args)
    spec = ExpandedSpec(name=type_name, file=f"<{type_name}>",
                        inputs=[InputSpec("input", input_shape, None)])
    spec.layers.append(LayerSpec(type_name, layer, ("input",), None, {}, 0))
    summary = analyze(spec, batch=batch)
    (working,) = explain_layers(spec, summary)
    return Calculation(summary.layers[0], working, summary.warnings)


# -- solve ------------------------------------------------------------------------

# What `solve` may look for, and the range it tries (for an input size I):
SOLVABLE = {"kernel_size": lambda i: range(1, i + 1), "stride": lambda i: range(1, i + 1),
            "padding": lambda i: range(0, i + 1), "dilation": lambda i: range(1, i + 1)}


def solve(type_name: str, known: dict[str, Any], input_size: int, output_size: int
          ) -> tuple[str, list[int], dict[str, int]]:
    """The one of kernel_size, stride, padding (or dilation, when those are given) a
    question leaves out: every value with which `input_size` gives `output_size`.

    Unstated, dilation is 1 and (when two are left out) padding is 0: what a textbook
    question leaves unsaid. Returns (the unknown, its values, what was assumed).
    """
    known = dict(known)
    assumed = {}
    missing = [name for name in ("kernel_size", "stride", "padding") if name not in known]
    if "dilation" not in known and missing:
        assumed["dilation"] = 1
    if len(missing) == 2 and "padding" in missing:
        assumed["padding"] = 0
        missing.remove("padding")
    if not missing and "dilation" not in known:
        missing = ["dilation"]
    if len(missing) != 1:
        raise UsageError(f"solve finds one unknown: leave out one of -k, -s, -p (left out: "
                         f"{', '.join(missing) or 'none'})")
    (unknown,) = missing
    known.update((k, v) for k, v in assumed.items() if k in lookup(type_name).argument_names())
    solutions = []
    for value in SOLVABLE[unknown](input_size + 2):
        try:
            layer = lookup(type_name).from_args({**known, unknown: value})
            shape = layer.output_shape((1, 1, input_size))
        except (ShapeError, SpecError):
            continue
        if shape[-1] == output_size:
            solutions.append(value)
    return unknown, solutions, assumed
