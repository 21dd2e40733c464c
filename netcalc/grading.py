"""`netcalc check`: a student's answers graded against the spec's numbers.

An answers file lists, by layer (or block) name, any of `output`, `params`,
`macs`, `flops`, and the totals `total_params`, `total_macs`, `total_flops`.
Each wrong answer gets the right value, the worked step from `explain`, and,
where one fits, the usual mistake that gives that exact number.

Error carried forward (follow-through): a wrong answer that is exactly what the
layer's own rules give from the student's earlier wrong shapes (re-run on them,
through the layers they left unanswered) is marked as following from that answer
and earns FOLLOW_THROUGH_CREDIT of the item; the totals, likewise, from the sum of
the student's own answers. `grade_class` grades a class's answers files at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import Location, NetcalcError, SpecError, UsageError, closest, did_you_mean
from .results import Summary
from .spec.loader import LocatedDict, load_yaml
from .spec.model import ExpandedSpec
from .working import Remark, Step, explain_layers, kv_cache_step

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any, Callable

    from .results import LayerResult

QUANTITIES = ("output", "params", "macs", "flops")
TOTALS = {"total_params": "params", "total_macs": "macs", "total_flops": "flops",
          "total_kv_cache": "kv_cache"}
# An answer that follows from the student's own earlier wrong answer (error carried
# forward) earns half the item: the method was right, the number it started from was not.
FOLLOW_THROUGH_CREDIT = 0.5


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
    # the student's earlier wrong answer (a layer's or block's name) this one follows
    # from exactly: right for the shapes that answer gives (partial credit)
    follow_through: str | None = None

    @property
    def credit(self) -> float:
        """The item's share of a point: 1 right, FOLLOW_THROUGH_CREDIT following through."""
        if self.correct:
            return 1.0
        return FOLLOW_THROUGH_CREDIT if self.follow_through else 0.0


@dataclass(frozen=True)
class Score:
    """A student's score: `points` of `total`, an item following through earning
    FOLLOW_THROUGH_CREDIT."""

    correct: int
    follow_through: int
    total: int
    points: float


def score(items: list[Graded] | tuple[Graded, ...]) -> Score:
    return Score(sum(i.correct for i in items), sum(bool(i.follow_through) for i in items),
                 len(items), sum(i.credit for i in items))


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
    return _carried_forward(spec, summary, answers, graded)


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
    bias, a forgotten direction, heads counted twice, batch norm's running statistics);
    for a block or the totals, the slip made in one of its layers, or in every layer
    that can make it."""
    if answer.layer is None or answer.layer not in layers:
        members = [r.name for r in layers.values()] if answer.layer is None else \
            [name for name in layers if name.startswith(f"{answer.layer}.")]
        return _members_mistake(spec, layers, members, answer) \
            if answer.quantity in ("params", "macs", "flops") else None
    result = layers[answer.layer]
    layer = _spec_layer(spec, answer.layer).layer
    for quantity, key, wrong, args in layer.usual_mistakes(result.input_shapes,
                                                           result.output_shape):
        if quantity != answer.quantity:
            continue
        if quantity == "output":
            wrong = _as_answered(tuple(wrong), answer.given, result.batch_dim)
        if wrong == answer.given:
            return Remark(key, args)
    return None


# arguments of a remark that add up over layers (the biases, the statistics counted)
_ADDITIVE_ARGS = ("bias", "stats", "buffers", "out")


def _members_mistake(spec: ExpandedSpec, layers: dict, members: list[str],
                     answer: Answer) -> Remark | None:
    """A block's or the totals' number with one slip in one member layer, or the same
    slip in every member that can make it (batch norm's statistics in each)."""
    scale = 2 if answer.quantity == "flops" else 1          # the slips are in MACs
    quantity = "macs" if answer.quantity == "flops" else answer.quantity
    expected = sum(getattr(layers[name], quantity) for name in members) * scale
    by_key: dict[str, list[tuple[int, dict]]] = {}
    for name in members:
        result = layers[name]
        seen = set()
        for slip_quantity, key, wrong, args in _spec_layer(spec, name).layer.usual_mistakes(
                result.input_shapes, result.output_shape):
            if slip_quantity != quantity or key in seen:
                continue
            seen.add(key)
            delta = (wrong - getattr(result, quantity)) * scale
            if delta and expected + delta == answer.given:
                return Remark(key, args)
            by_key.setdefault(key, []).append((delta, args))
    for key, slips in by_key.items():
        if len(slips) > 1 and expected + sum(d for d, _ in slips) == answer.given:
            args = _merged_args([a for _, a in slips])
            if args is not None:
                return Remark(key, args)
    return None


def _merged_args(all_args: list[dict]) -> dict | None:
    """One remark's arguments for a slip made in several layers: equal ones kept, counts
    summed; None where they neither agree nor add up."""
    merged = {}
    for name in all_args[0]:
        values = [args.get(name) for args in all_args]
        if all(v == values[0] for v in values):
            merged[name] = values[0]
        elif name in _ADDITIVE_ARGS and all(isinstance(v, int) for v in values):
            merged[name] = sum(values)
        else:
            return None
    return merged


def _spec_layer(spec: ExpandedSpec, name: str):
    return next(s for s in spec.layers if s.name == name)


def _as_answered(shape: tuple, given: tuple, batch_dim: int | None) -> tuple:
    """A shape as the answer writes it: without the batch if the answer left it out."""
    if batch_dim is not None and len(given) == len(shape) - 1:
        return shape[:batch_dim] + shape[batch_dim + 1:]
    return shape


def _with_batch(given: tuple, shape: tuple, batch_dim: int | None) -> tuple:
    """An answered shape with the batch put back where the true `shape` holds it."""
    if batch_dim is not None and len(given) == len(shape) - 1:
        return given[:batch_dim] + (shape[batch_dim],) + given[batch_dim:]
    return tuple(given)


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
        buffers = getattr(row, "buffers", None)
        if buffers is None:
            buffers = _block_sum(summary, answer.layer, "buffers")
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
    # a transposed convolution's size has another formula: its slip is its own type's
    windowed = [s for s in spec.layers if (s.name == name or s.name.startswith(f"{name}."))
                and hasattr(s.layer, "kernel_size") and not hasattr(s.layer, "output_padding")]
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
    """Output sizes as the usual slips compute them: without the padding, padded on one
    side only (I + P for I + 2P), rounding up (or down, under ceil_mode), without the
    + 1, without the stride."""
    strides = getattr(layer, "strides", None) or layer.stride
    dilations = getattr(layer, "dilations", None) or getattr(layer, "dilation", (1,) * len(inputs))
    pads = layer.padding if not isinstance(layer.padding, str) else (0,) * len(inputs)
    ceil = getattr(layer, "ceil_mode", False)

    def sizes(pad: bool = True, up: bool = ceil, plus_one: int = 1, stride: bool = True,
              sides: int = 2):
        out = []
        for i, k, s, p, d in zip(inputs, layer.kernel_size, strides, pads, dilations):
            top = i + sides * (p if pad else 0) - d * (k - 1) - 1
            step = s if stride else 1
            out.append((-(-top // step) if up else top // step) + plus_one)
        return tuple(out)

    slips = [("used_unpadded", sizes(pad=False)) if any(pads) else None,
             ("floor_not_ceil" if ceil else "ceil_not_floor", sizes(up=not ceil)),
             ("forgot_plus_one", sizes(plus_one=0)),
             ("forgot_stride", sizes(stride=False)) if any(s != 1 for s in strides) else None,
             # last: with P = 1 and S = 1 it is the size without the + 1 as well
             ("padded_one_side", sizes(sides=1)) if any(pads) else None]
    right = sizes()
    return [slip for slip in slips if slip and slip[1] != right]


# -- error carried forward ----------------------------------------------------

@dataclass(frozen=True)
class _Computed:
    """A layer's numbers by its own rules on the shapes a student believes it reads."""

    output: tuple | None        # None: those shapes do not fit the layer
    params: int
    macs: int
    origin: str | None          # the wrong answer its inputs come from; None: the truth
    passed_on: tuple | None     # what the student believes flows on: their own answer, if
    passed_origin: str | None   # they gave the layer's output, else `output`


def _world(spec: ExpandedSpec, summary: Summary,
           believed: dict[str, tuple[tuple, str]]) -> dict[str, _Computed]:
    """Every layer's numbers when the outputs in `believed` (layer -> full shape and the
    answer it came from) are what the student says, the layers reading them re-run on
    those shapes by their own rules; the other layers keep their true numbers."""
    results = {r.name: r for r in summary.layers}
    flowing: dict[str, tuple[tuple | None, str | None]] = \
        {name: (shape, None) for name, shape in summary.inputs.items()}
    world = {}
    for spec_layer in spec.layers:
        true = results[spec_layer.name]
        ins = [flowing.get(name, (None, None)) if name in flowing
               else (results[name].output_shape, None) for name in spec_layer.inputs]
        origins = [origin for _, origin in ins if origin is not None]
        if not origins:
            computed = _Computed(true.output_shape, true.params, true.macs, None, None, None)
        elif any(shape is None for shape, _ in ins):
            computed = _Computed(None, 0, 0, origins[0], None, None)
        else:
            computed = _rerun(spec_layer, summary.batch, true, tuple(s for s, _ in ins),
                              origins[0])
        shape, origin = computed.output, computed.origin
        if shape == true.output_shape:
            origin = None                   # back on the true shape: nothing carries on
        if spec_layer.name in believed:
            shape, origin = believed[spec_layer.name]
            origin = None if shape == true.output_shape else origin
        flowing[spec_layer.name] = (shape, origin)
        world[spec_layer.name] = replace(computed, passed_on=shape, passed_origin=origin)
    return world


def _rerun(spec_layer, batch: int, true: LayerResult, xs: tuple, origin: str) -> _Computed:
    """The layer's rules on the student's shapes. Arguments the spec states but the input
    decides (in_channels, in_features, num_features) are dropped: the student's shape
    decides them, as it would in a spec that left them out."""
    layer = spec_layer.layer.for_batch(batch)
    try:
        decided = layer.inferred(true.input_shapes[0]) if true.input_shapes else {}
        dropped = {f.name: None for f in fields(layer)
                   if f.name in decided and f.default is None
                   and getattr(layer, f.name) is not None}
        if dropped:
            layer = replace(layer, **dropped)
        numbers = layer.evaluate(xs)
    except (NetcalcError, ArithmeticError, IndexError, ValueError):
        # a shape no rule accepts (the rank or sizes the student wrote): nothing follows
        return _Computed(None, 0, 0, origin, None, None)
    params = sum(n for tensor, n in numbers.params.items() if tensor not in spec_layer.tied)
    return _Computed(numbers.output_shape, params, numbers.macs, origin, None, None)


def _carried_forward(spec: ExpandedSpec, summary: Summary, answers: list[Answer],
                     graded: list[Graded]) -> list[Graded]:
    """Follow-through for each wrong answer that the student's own earlier wrong answers
    give exactly; then, for those still unexplained, the mistakes only a changed
    network shows (the flatten taken before the last pool)."""
    if all(item.correct or item.expected is None for item in graded):
        return graded
    results = {r.name: r for r in summary.layers}
    groups = {g.name: g for g in spec.groups}
    believed = {}           # every output answered, right ones too: a right one ends a chain
    for item in graded:
        if item.quantity != "output" or item.expected is None:
            continue
        producer = item.layer if item.layer in results else groups[item.layer].output
        if producer not in results:
            continue
        true = results[producer]
        believed[producer] = (_with_batch(item.given, true.output_shape, true.batch_dim),
                              item.layer)
    world = _world(spec, summary, believed)
    changed: list | None = None              # the changed networks, made when first asked
    marked = []
    for answer, item in zip(answers, graded):
        if item.correct or item.expected is None or item.quantity == "kv_cache":
            marked.append(item)
            continue
        if item.layer is None:
            value, origin = _student_total(spec, summary, world, answers, item.quantity)
        else:
            value, origin = _in_world(spec, results, groups, world, answer, computed=True)
        if origin is not None and value == item.given:
            marked.append(replace(item, follow_through=origin, hint=None))
            continue
        if item.hint is None:
            if changed is None:
                changed = _changed_networks(spec, summary, results)
            hint = next((remark for remark, other in changed
                         if _world_value(spec, results, groups, other, answer)
                         == answer.given), None)
            item = replace(item, hint=hint)
        marked.append(item)
    return marked


def _in_world(spec: ExpandedSpec, results: dict, groups: dict, world: dict[str, _Computed],
              answer: Answer, computed: bool) -> tuple[Any, str | None]:
    """A layer's or block's quantity in `world`, as the answer writes it, and the wrong
    answer it comes from. `computed`: an output as the layer's rules give it from its
    inputs (else as it flows on: the student's own answer, where they gave one)."""
    if answer.layer in results:
        members, last, batch_dim = [answer.layer], answer.layer, \
            results[answer.layer].batch_dim
    else:
        group = groups[answer.layer]
        members, last, batch_dim = [s.name for s in spec.layers[group.first:group.end]], \
            group.output, 0
    if answer.quantity == "output":
        numbers = world[last]
        shape, origin = (numbers.output, numbers.origin) if computed \
            else (numbers.passed_on, numbers.passed_origin)
        if shape is None:
            return None, None
        return _as_answered(shape, answer.given, batch_dim), origin
    if any(world[m].output is None for m in members):
        return None, None
    value = sum(world[m].macs if answer.quantity in ("macs", "flops") else world[m].params
                for m in members) * (2 if answer.quantity == "flops" else 1)
    return value, next((world[m].origin for m in members if world[m].origin), None)


def _world_value(spec: ExpandedSpec, results: dict, groups: dict,
                 world: dict[str, _Computed], answer: Answer) -> Any:
    """The answer's quantity as a changed network gives it (a total: summed)."""
    if answer.layer is not None:
        return _in_world(spec, results, groups, world, answer, computed=False)[0]
    if any(numbers.output is None for numbers in world.values()):
        return None
    return sum(n.macs if answer.quantity in ("macs", "flops") else n.params
               for n in world.values()) * (2 if answer.quantity == "flops" else 1)


def _student_total(spec: ExpandedSpec, summary: Summary, world: dict[str, _Computed],
                   answers: list[Answer], quantity: str) -> tuple[int | None, str | None]:
    """A total as the student's own numbers add up: their answers for the layers and
    blocks they answered (a block's covering its layers), the layers' numbers on the
    student's shapes for the rest; and the first wrong answer it comes from."""
    answered = {a.layer: a.given for a in answers if a.quantity == quantity and a.layer}
    results = {r.name: r for r in summary.layers}
    true_blocks = {b.name: b for b in summary.blocks}
    covering = sorted((g for g in spec.groups if g.name in answered and g.name in true_blocks),
                      key=lambda g: g.depth)
    scale, own = (2, "macs") if quantity == "flops" else (1, quantity)
    total, origin, counted = 0, None, set()
    for index, spec_layer in enumerate(spec.layers):
        group = next((g for g in covering if g.first <= index < g.end), None)
        if group is not None:
            if group.name not in counted:
                counted.add(group.name)
                total += answered[group.name]
                if answered[group.name] != getattr(true_blocks[group.name], quantity):
                    origin = origin or group.name
            continue
        name = spec_layer.name
        if name in answered:
            total += answered[name]
            if answered[name] != getattr(results[name], quantity):
                origin = origin or name
            continue
        numbers = world[name]
        if numbers.output is None:
            if _counts_none(spec_layer.layer, own):
                continue        # a residual add of the student's mismatched shapes: 0 all the same
            return None, None
        value = getattr(numbers, own) * scale
        total += value
        if numbers.origin and value != getattr(results[name], quantity):
            origin = origin or numbers.origin
    return total, origin


def _counts_none(layer, quantity: str) -> bool:
    """The layer's type holds no parameters (or counts no MACs) at any shape (an add, an
    activation): its share of a total is 0 even on shapes it cannot take."""
    from .layers.base import Layer

    return getattr(type(layer), quantity) is getattr(Layer, quantity)


def _changed_networks(spec: ExpandedSpec, summary: Summary,
                      results: dict) -> list[tuple[Remark, dict[str, _Computed]]]:
    """The networks a usual slip computes, each with its remark: the flatten's size taken
    before the last pool (the input of the last pool that changes the size)."""
    networks = []
    for flatten in (s for s in spec.layers if s.layer.type_name == "flatten"):
        pool = _last_pool(spec, results, flatten)
        if pool is None:
            continue
        try:
            shape = flatten.layer.for_batch(summary.batch).evaluate(
                (pool.input_shapes[0],)).output_shape
        except NetcalcError:
            continue
        networks.append((Remark("flatten_before_pool", {"pool": pool.name,
                                                        "features": shape[-1]}),
                         _world(spec, summary, {flatten.name: (shape, flatten.name)})))
    return networks


def _last_pool(spec: ExpandedSpec, results: dict, flatten) -> LayerResult | None:
    """The pool nearest before `flatten`, along its one-input chain, that changes the
    size (an adaptive pool that keeps it is passed by)."""
    names = {s.name: s for s in spec.layers}
    current = flatten
    while len(current.inputs) == 1 and current.inputs[0] in names:
        current = names[current.inputs[0]]
        result = results[current.name]
        if result.family == "pool" and result.input_shapes[0] != result.output_shape:
            return result
    return None


# -- a class at once ----------------------------------------------------------

@dataclass(frozen=True)
class StudentResult:
    """One student's answers file graded, or why it could not be."""

    student: str                # the file's stem
    path: str
    items: tuple[Graded, ...]
    score: Score | None         # None when the file could not be graded
    error: str | None = None    # `path:line:col: error: ...` when it could not

    def item(self, layer: str | None, quantity: str) -> Graded | None:
        return next((i for i in self.items if (i.layer, i.quantity) == (layer, quantity)),
                    None)


@dataclass(frozen=True)
class ItemTally:
    """One question across the class: how many answered it, and how."""

    layer: str | None           # None for a total
    quantity: str
    answered: int
    correct: int
    follow_through: int
    wrong: int                  # neither right nor following through


@dataclass(frozen=True)
class MistakeTally:
    """One named mistake across the class, and the questions it was made on."""

    hint: Remark
    answers: int
    students: int
    items: tuple[tuple[str | None, str], ...]     # (layer, quantity), first seen first


@dataclass(frozen=True)
class ScoreTally:
    points: float
    total: int
    students: int


@dataclass(frozen=True)
class ClassSummary:
    """What a teacher reads first: the scores, the common mistakes, the hard questions."""

    spec: str
    students: int               # answers files
    graded: int
    not_graded: int             # files with an error
    scores: tuple[ScoreTally, ...]          # best first
    mean_percent: float | None              # of the graded students' points
    mistakes: tuple[MistakeTally, ...]      # most answers first
    items: tuple[ItemTally, ...]            # every question, in the spec's order
    most_wrong: tuple[ItemTally, ...]       # the questions wrong at least once, most first


@dataclass(frozen=True)
class ClassResult:
    students: tuple[StudentResult, ...]
    summary: ClassSummary


def student_name(path: str) -> str:
    """A student's name: the answers file's stem (answers/alice.yaml -> alice)."""
    return Path(path).stem


def grade_class(spec: ExpandedSpec, summary: Summary,
                sources: list[tuple[str, str, Callable[[], list[Answer]]]]) -> ClassResult:
    """Each (student, path, reader of its answers) graded; a file that cannot be read or
    graded is the student's error, and the others are graded all the same."""
    names = [name for name, _, _ in sources]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"two answers files for the student '{twice[0]}': students are "
                         "named by the file's stem")
    students = []
    for name, path, read in sources:
        try:
            items = tuple(grade(spec, summary, read()))
        except NetcalcError as error:
            # its first line, the located error (notes after it say where a bracket opened)
            students.append(StudentResult(name, path, (), None, str(error).splitlines()[0]))
            continue
        students.append(StudentResult(name, path, items, score(items)))
    return ClassResult(tuple(students), _class_summary(spec, summary, students))


def _class_summary(spec: ExpandedSpec, summary: Summary,
                   students: list[StudentResult]) -> ClassSummary:
    graded = [s for s in students if s.score is not None]
    bands: dict[tuple[float, int], int] = {}
    for student in graded:
        key = (student.score.points, student.score.total)
        bands[key] = bands.get(key, 0) + 1
    scores = tuple(ScoreTally(points, total, count) for (points, total), count in
                   sorted(bands.items(), key=lambda b: (-b[0][0] / max(b[0][1], 1), -b[0][1])))
    percents = [s.score.points / s.score.total for s in graded if s.score.total]
    mean = 100 * sum(percents) / len(percents) if percents else None

    tallies: dict[tuple, list[int]] = {}        # (layer, quantity) -> answered, ✓, ~, ✗
    mistakes: dict[tuple, list] = {}            # remark -> it, answers, students, items
    for student in graded:
        for item in student.items:
            counts = tallies.setdefault((item.layer, item.quantity), [0, 0, 0, 0])
            counts[0] += 1
            counts[1 if item.correct else 2 if item.follow_through else 3] += 1
            if item.hint is not None and not item.correct:
                key = (item.hint.key, repr(sorted(item.hint.args.items())))
                tally = mistakes.setdefault(key, [item.hint, 0, set(), []])
                tally[1] += 1
                tally[2].add(student.student)
                if (item.layer, item.quantity) not in tally[3]:
                    tally[3].append((item.layer, item.quantity))
    order = _question_order(spec, summary)
    items = tuple(ItemTally(layer, quantity, *counts) for (layer, quantity), counts in
                  sorted(tallies.items(), key=lambda t: order(*t[0])))
    most_wrong = tuple(sorted((i for i in items if i.wrong), key=lambda i: -i.wrong))
    named = tuple(sorted((MistakeTally(hint, answers, len(who), tuple(where))
                          for hint, answers, who, where in mistakes.values()),
                         key=lambda m: (-m.answers, -m.students)))
    return ClassSummary(summary.name, len(students), len(graded), len(students) - len(graded),
                        scores, mean, named, items, most_wrong)


def _question_order(spec: ExpandedSpec, summary: Summary):
    """Questions in the spec's order: a layer or block where it starts, its quantities as
    an answers file lists them; the totals after, and names not in the spec last."""
    position = {}
    for index, spec_layer in enumerate(spec.layers):
        position.setdefault(spec_layer.name, (index, 1))
    for group in spec.groups:
        position.setdefault(group.name, (group.first, 0))     # a block before its layers
    quantities = [*QUANTITIES, "kv_cache"]

    def order(layer: str | None, quantity: str) -> tuple:
        rank = quantities.index(quantity) if quantity in quantities else len(quantities)
        if layer is None:
            return (1, 0, 0, rank, "")
        if layer in position:
            return (0, *position[layer], rank, "")
        return (2, 0, 0, rank, layer)
    return order
