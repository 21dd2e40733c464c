"""`netcalc check`: a student's answers graded against the spec's numbers.

An answers file lists, by layer (or block) name, any of `output`, `params`,
`macs`, `flops`, and the totals `total_params`, `total_macs`, `total_flops`.
Each wrong answer gets the right value, the worked step from `explain`, and,
where one fits, the usual mistake that gives that exact number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, SpecError, UsageError, closest, did_you_mean
from .results import Summary
from .spec.loader import LocatedDict, load_yaml
from .spec.model import ExpandedSpec
from .working import Remark, Step, explain_layers, kv_cache_step

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

QUANTITIES = ("output", "params", "macs", "flops")
TOTALS = {"total_params": "params", "total_macs": "macs", "total_flops": "flops",
          "total_kv_cache": "kv_cache"}


@dataclass(frozen=True)
class Answer:
    """One value a student's answers file gives."""

    layer: str | None           # None for a total
    quantity: str               # output, params, macs, flops
    given: Any                  # an int, or a shape (a tuple)
    loc: Location               # the value's
    layer_loc: Location         # the layer name's


@dataclass(frozen=True)
class Graded:
    """One answer marked: what was expected, the verdict and the hint."""

    layer: str | None
    quantity: str
    given: Any
    expected: Any               # as the answer is written: a shape without the batch if it was
    correct: bool
    hint: Remark | None         # the usual mistake that gives exactly the given number
    working: tuple[Step, ...]   # explain's steps for this quantity
    loc: Location


def read_answers(path: str) -> list[Answer]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such answers file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    return parse_answers(text, path)


def parse_answers(text: str, path: str = "<answers>") -> list[Answer]:
    """Answers from their YAML text; `path` locates them in messages."""
    if not text.strip():
        raise SpecError("the answers file is empty: list answers like `conv1: {params: 23296}`",
                        Location(path, 1, 1))
    doc = load_yaml(text, path)
    if not isinstance(doc, LocatedDict):
        raise SpecError("answers are a mapping: `conv1: {output: [64, 55, 55], params: 23296}`"
                        ", and `total_params: ...`", Location(path, 1, 1))
    answers = []
    for key, value in doc.items():
        where = doc.where(key)
        if key in TOTALS:
            answers.append(Answer(None, TOTALS[key], _count(value, key, where), where, where))
            continue
        if not isinstance(value, LocatedDict):
            raise SpecError(f"answers for '{key}' are a mapping like {{output: [64, 55, 55], "
                            "params: 23296, macs: 70276800}", where)
        for quantity, given in value.items():
            at = value.where(quantity)
            if quantity not in QUANTITIES:
                raise SpecError(f"'{quantity}' is not something netcalc checks"
                                f"{did_you_mean(str(quantity), list(QUANTITIES))} (it checks "
                                f"{', '.join(QUANTITIES)})", value.key_loc[quantity])
            answers.append(Answer(str(key), quantity, _shape(given, at) if quantity == "output"
                                  else _count(given, quantity, at), at, doc.key_loc[key]))
    return answers


def _count(value: Any, name: str, loc: Location) -> int:
    if isinstance(value, str):                       # 23,296 or 23_296
        value = value.replace(",", "").replace("_", "").strip()
        value = int(value) if value.isdigit() else value
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} is a whole number, got {value!r}", loc)
    return value


def _shape(value: Any, loc: Location) -> tuple[int, ...]:
    """[64, 55, 55], or 64x55x55, 64×55×55, (64, 55, 55)."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[x×*,()\[\]\s]+", value) if p]
        if parts and all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    elif isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise SpecError(f"an output shape is a list like [64, 55, 55] or 64x55x55, got {value!r}",
                    loc)


def grade(spec: ExpandedSpec, summary: Summary, answers: list[Answer]) -> list[Graded]:
    layers = {r.name: r for r in summary.layers}
    blocks = {b.name: b for b in summary.blocks}
    steps = {w.name: w.steps for w in explain_layers(spec, summary)}     # once for all
    graded = []
    for answer in answers:
        if answer.layer is not None and answer.layer not in layers and \
                answer.layer not in blocks:
            # wrong, and said so; the other answers are graded all the same
            graded.append(Graded(answer.layer, answer.quantity, answer.given, None, False,
                                 Remark("unknown_layer", {
                                     "name": answer.layer, "spec": summary.name,
                                     "closest": closest(answer.layer, [*layers, *blocks])}),
                                 (), answer.layer_loc))
            continue
        if answer.quantity == "kv_cache":
            graded.append(_kv_cache(summary, answer))
            continue
        if answer.layer is None:
            row = summary.totals
        else:
            row = layers.get(answer.layer) or blocks[answer.layer]
        # a block's output and the totals hold the batch first; a layer's says where
        expected = _expected(row, answer, getattr(row, "batch_dim", 0))
        correct = answer.given == expected
        hint = None
        if not correct:
            hint = _own_mistake(spec, layers, answer) or \
                _mistake(answer, expected, row, _geometry_layer(spec, layers, answer.layer),
                         summary)
        graded.append(Graded(answer.layer, answer.quantity, answer.given, expected, correct,
                             hint, _working(steps, answer), answer.loc))
    return graded


def _kv_cache(summary: Summary, answer: Answer) -> Graded:
    """`total_kv_cache`: one sequence's cache in bytes at the context --kv-cache gives."""
    kv = summary.kv_cache
    if kv is None:
        raise SpecError("total_kv_cache: give the context with --kv-cache CONTEXT (and the "
                        "cache's --dtype)", answer.loc)
    expected = kv.sequence_bytes
    hint = None
    if answer.given * 2 == expected:
        hint = Remark("kv_forgot_values")
    elif answer.given * kv.dtype_bytes == expected and kv.dtype_bytes != 1:
        hint = Remark("kv_elements_not_bytes", {"bytes": kv.dtype_bytes,
                                                "dtype": summary.dtype})
    elif answer.given == kv.batch_bytes and summary.batch != 1:
        hint = Remark("counted_batch", {"factor": summary.batch})
    else:                              # another dtype's bytes: float32's for float16's
        wrong = [b for b in (1, 2, 4, 8) if b != kv.dtype_bytes
                 and answer.given == kv.elements * b]
        if wrong:
            hint = Remark("kv_dtype_bytes", {"bytes": wrong[0], "dtype": summary.dtype,
                                             "dtype_bytes": kv.dtype_bytes})
    return Graded(None, "kv_cache", answer.given, expected, answer.given == expected, hint,
                  (kv_cache_step(kv),), answer.loc)


def _expected(row, answer: Answer, batch_dim: int | None = 0):
    if answer.quantity == "output":
        shape = row.output_shape
        # the batch dim may be left out, as the tutorials do (an RNN's h_n holds it second)
        if batch_dim is not None and len(answer.given) == len(shape) - 1:
            return shape[:batch_dim] + shape[batch_dim + 1:]
        return shape
    return getattr(row, answer.quantity)


def _working(all_steps: dict[str, tuple[Step, ...]], answer: Answer) -> tuple[Step, ...]:
    """explain's steps for the answer: its layer's, or those of the block's members."""
    if answer.layer is None:
        return ()
    wanted = {"params": ("params",), "macs": ("MACs",), "flops": ("MACs",)}
    steps = [step for name, layer_steps in all_steps.items()
             if name == answer.layer or name.startswith(f"{answer.layer}.")
             for step in layer_steps]
    if answer.quantity == "output":
        return tuple(s for s in steps if s.quantity.endswith("_out")
                     or s.quantity.startswith("dim ") or s.quantity == "features")
    # a block's number is its members': the steps of those that have one
    return tuple(s for s in steps if s.quantity in wanted[answer.quantity] and s.value)


# -- the usual mistakes -------------------------------------------------------

def _own_mistake(spec: ExpandedSpec, layers: dict, answer: Answer) -> Remark | None:
    """The slip the layer's own type knows gives exactly this number (an LSTM's one
    bias, a forgotten direction, heads counted twice)."""
    if answer.layer not in layers:
        return None
    result = layers[answer.layer]
    layer = next(s.layer for s in spec.layers if s.name == answer.layer)
    for quantity, key, wrong, args in layer.usual_mistakes(result.input_shapes,
                                                           result.output_shape):
        if quantity == answer.quantity and wrong == answer.given:
            return Remark(key, args)
    return None


def _mistake(answer: Answer, expected, row, geometry, summary: Summary) -> Remark | None:
    """The usual slip that gives exactly the number given, if one does."""
    given = answer.given
    if answer.quantity == "params":
        # a layer's and the totals' own; a block's, its members'
        bias = getattr(row, "bias_params", None)
        if bias is None:
            bias = _block_sum(summary, answer.layer, "bias_params")
        if bias and given == expected - bias:
            return Remark("forgot_bias", {"bias": bias})
        buffers = getattr(row, "buffers", 0)
        if buffers and given == expected + buffers:
            return Remark("counted_buffers", {"buffers": buffers})
        return None
    if answer.quantity in ("macs", "flops"):
        macs = expected if answer.quantity == "macs" else expected // 2
        if answer.quantity == "macs" and given == 2 * expected:
            return Remark("flops_not_macs", {"macs": expected})
        if answer.quantity == "flops" and given * 2 == expected:
            return Remark("macs_not_flops", {"flops": expected})
        if macs and given % expected == 0 and given // expected > 2 and summary.batch == 1:
            return Remark("counted_batch", {"factor": given // expected})
        return None
    return _shape_mistake(given, expected, len(given) == len(row.output_shape), geometry)


def _geometry_layer(spec: ExpandedSpec, layers: dict, name: str | None):
    """The layer whose window sets the output size, with its result: the layer itself, or
    a block's last member with a kernel (conv1 = conv, relu: the conv)."""
    if name is None:
        return None
    windowed = [s for s in spec.layers if (s.name == name or s.name.startswith(f"{name}."))
                and hasattr(s.layer, "kernel_size")]
    return (windowed[-1].layer, layers[windowed[-1].name]) if windowed else None


def _block_sum(summary: Summary, block: str, attr: str) -> int:
    return sum(getattr(r, attr) for r in summary.layers if r.name.startswith(f"{block}."))


def _shape_mistake(given, expected, batched: bool, geometry) -> Remark | None:
    """`batched`: the answer includes the batch; `geometry`: (layer, result) whose window
    sets the size, if one does."""
    if batched and given[1:] == expected[1:]:
        return Remark("batch_differs", {"batch": expected[0]})
    if batched:                                        # compare what follows the batch
        given, expected = given[1:], expected[1:]
    if len(expected) >= 3 and tuple(given) == (*expected[-2:], expected[-3]):
        return Remark("channels_last_order")          # (224, 224, 3) for [3, 224, 224]
    if geometry is None:
        return None
    layer, result = geometry
    x = result.input_shapes[0]
    rank = len(layer.kernel_size)
    for key, sizes in _window_mistakes(layer, x[-rank:]):
        if tuple(given[-rank:]) == sizes and tuple(given[:-rank]) == tuple(expected[:-rank]):
            return Remark(key)
    return None


def _window_mistakes(layer, inputs) -> list[tuple[str, tuple[int, ...]]]:
    """Output sizes as the usual slips compute them: without the padding, rounding up
    (or down, under ceil_mode), without the + 1, without the stride."""
    strides = getattr(layer, "strides", None) or layer.stride
    dilations = getattr(layer, "dilations", None) or getattr(layer, "dilation", (1,) * len(inputs))
    pads = layer.padding if not isinstance(layer.padding, str) else (0,) * len(inputs)
    ceil = getattr(layer, "ceil_mode", False)

    def sizes(pad: bool = True, up: bool = ceil, plus_one: int = 1, stride: bool = True):
        out = []
        for i, k, s, p, d in zip(inputs, layer.kernel_size, strides, pads, dilations):
            top = i + 2 * (p if pad else 0) - d * (k - 1) - 1
            step = s if stride else 1
            out.append((-(-top // step) if up else top // step) + plus_one)
        return tuple(out)

    slips = [("used_unpadded", sizes(pad=False)) if any(pads) else None,
             ("floor_not_ceil" if ceil else "ceil_not_floor", sizes(up=not ceil)),
             ("forgot_plus_one", sizes(plus_one=0)),
             ("forgot_stride", sizes(stride=False)) if any(s != 1 for s in strides) else None]
    right = sizes()
    return [slip for slip in slips if slip and slip[1] != right]
