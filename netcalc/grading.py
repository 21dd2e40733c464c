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
    from typing import Any, Callable, Sequence

    from .results import LayerResult

QUANTITIES = ("output", "params", "macs", "flops")
# what an answers file says that is no question: warned of, not scored
UNSCORED = ("answer_unknown_key", "answer_not_a_mapping")
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
    # why the value cannot be graded: `answer_malformed` (the item is wrong, with the
    # reason) or `answer_unknown_key` (no question: not scored); None when it can be
    problem: Remark | None = None

    @property
    def answered(self) -> bool:
        """False for a value left blank (`output:` with nothing after it)."""
        return self.given is not None


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
    loc: Location | None        # None: a question of the key the file does not answer
    # the student's earlier wrong answer (a layer's or block's name) this one follows
    # from exactly: right for the shapes that answer gives (partial credit)
    follow_through: str | None = None
    # False for an answer to no question (an unknown layer, a question not asked): shown
    # with its hint and warned about, never scored
    scored: bool = True

    @property
    def answered(self) -> bool:
        """False for a question left blank, or not in the file at all."""
        return self.given is not None

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
    """Out of the scored items: the questions (answered or not), not the answers to
    no question."""
    items = [i for i in items if i.scored]
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
    """Answers from their YAML text; `path` locates them in messages. A value left blank
    is an Answer not answered; a value that is no number or shape is an Answer with its
    `problem` (that item is wrong, the others are graded); so is a key that names no
    quantity (`total_param`, `weights`), which is not scored."""
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
            answers.append(_answer(None, TOTALS[key], value, key, where, where))
            continue
        if value is None:                   # `conv1:` with nothing under it: no answers
            continue
        if not isinstance(value, LocatedDict):
            near = closest(str(key), list(TOTALS))
            if near or str(key).startswith("total"):
                answers.append(Answer(None, str(key), value, doc.key_loc[key], doc.key_loc[key],
                                      Remark("answer_unknown_key", {
                                          "name": str(key), "closest": near,
                                          "known": ", ".join(TOTALS)})))
                continue
            # `conv1: [64, 55, 55]`: which quantity is not said; warned of, not scored,
            # and the file's other answers graded
            answers.append(Answer(str(key), "", value, where, doc.key_loc[key],
                                  Remark("answer_not_a_mapping", {"name": str(key)})))
            continue
        for quantity, given in value.items():
            at = value.where(quantity)
            if quantity not in QUANTITIES:
                answers.append(Answer(str(key), str(quantity), given, value.key_loc[quantity],
                                      doc.key_loc[key], Remark("answer_unknown_key", {
                                          "name": str(quantity),
                                          "closest": closest(str(quantity), QUANTITIES),
                                          "known": ", ".join(QUANTITIES)})))
                continue
            answers.append(_answer(str(key), quantity, given, quantity, at, doc.key_loc[key]))
    return answers


def _answer(layer: str | None, quantity: str, value: Any, name: str, at: Location,
            layer_loc: Location) -> Answer:
    """One answer: blank (None), read, or malformed with the located reason."""
    if value is None:
        return Answer(layer, quantity, None, at, layer_loc)
    try:
        given = _shape(value, at) if quantity == "output" else _count(value, name, at)
    except SpecError as error:
        return Answer(layer, quantity, value, at, layer_loc,
                      Remark("answer_malformed", {"where": str(at), "reason": error.message}))
    return Answer(layer, quantity, given, at, layer_loc)


def _count(value: Any, name: str, loc: Location) -> int:
    if isinstance(value, str):                       # 23,296 or 23_296
        value = value.replace(",", "").replace("_", "").strip()
        value = int(value) if value.isdigit() else value
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} is a whole number, got {value!r}", loc)
    return value


def _shape(value: Any, loc: Location) -> tuple[int, ...]:
    """[64, 55, 55], or 64x55x55, 64×55×55, (64, 55, 55); a 1-d shape may be its one
    size alone (500 for [500])."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[x×*,()\[\]\s]+", value) if p]
        if parts and all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value,)
    elif isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise SpecError(f"an output shape is a list like [64, 55, 55] or 64x55x55, got {value!r}",
                    loc)


def grade(spec: ExpandedSpec, summary: Summary, answers: list[Answer],
          questions: Sequence[tuple[str | None, str]] | None = None) -> list[Graded]:
    """Each answer marked. With `questions` (an answer key's items), the score is out of
    those: a question not answered is an item not answered (0), and an answer to
    another is shown and warned about but not scored; the items come in the questions'
    order. Without, the questions are those the file answers (a blank one included).
    An answer to an unknown layer, or under a key that names no quantity, is never
    scored."""
    layers = {r.name: r for r in summary.layers}
    blocks = {b.name: b for b in summary.blocks}
    known = [*layers, *blocks]
    steps = {w.name: w.steps for w in explain_layers(spec, summary)}     # once for all
    gradable = [a for a in answers if a.problem is None and a.answered
                and (a.layer is None or a.layer in layers or a.layer in blocks)]
    marked = dict(zip(map(id, gradable), _grade_given(spec, summary, gradable, steps)))
    items = []
    for answer in answers:
        if id(answer) in marked:
            items.append(marked[id(answer)])
        elif answer.problem is not None and answer.problem.key in UNSCORED:
            items.append(Graded(answer.layer, answer.quantity, answer.given, None, False,
                                answer.problem, (), answer.loc, scored=False))
        elif answer.layer is not None and answer.layer not in layers and \
                answer.layer not in blocks:
            # said so, and not scored; the other answers are graded all the same
            items.append(Graded(answer.layer, answer.quantity, answer.given, None, False,
                                Remark("unknown_layer", {
                                    "name": answer.layer, "spec": summary.name,
                                    "closest": closest(answer.layer, known)}),
                                (), answer.layer_loc, scored=False))
        else:               # left blank, or a value that is no number or shape: 0
            items.append(_ungraded(summary, layers, blocks, steps, answer.layer,
                                   answer.quantity, answer.given, answer.problem, answer.loc))
    if questions is None:
        return items
    order = {tuple(q): index for index, q in enumerate(questions)}
    asked = [f"{q[0]} {q[1]}" if q[0] else f"total_{q[1]}" for q in questions]
    for index, item in enumerate(items):
        if item.scored and (item.layer, item.quantity) not in order:
            written = f"{item.layer} {item.quantity}" if item.layer else f"total_{item.quantity}"
            items[index] = replace(item, scored=False, correct=False, follow_through=None,
                                   hint=Remark("answer_not_asked", {
                                       "question": written,
                                       "closest": closest(written, asked)}))
    answered = {(i.layer, i.quantity) for i in items if i.scored}
    items += [_ungraded(summary, layers, blocks, steps, layer, quantity, None, None, None)
              for layer, quantity in questions if (layer, quantity) not in answered]
    return sorted(items, key=lambda i: order.get((i.layer, i.quantity), len(order))
                  if i.scored else len(order))


def _ungraded(summary: Summary, layers: dict, blocks: dict, steps: dict, layer: str | None,
              quantity: str, given: Any, problem: Remark | None,
              loc: Location | None) -> Graded:
    """A question left blank (or not in the file), or answered with a value that is no
    number or shape: 0, with the expected value (a shape without the batch, as the
    question sheet asks it) and the working."""
    expected = None
    if quantity == "kv_cache":
        if summary.kv_cache is not None:
            expected = summary.kv_cache.sequence_bytes
    elif layer is None:
        expected = getattr(summary.totals, quantity, None)
    elif layer in layers or layer in blocks:
        row = layers.get(layer) or blocks[layer]
        if quantity == "output":
            expected = without_batch(row.output_shape, getattr(row, "batch_dim", 0))
        else:
            expected = getattr(row, quantity, None)
    working = _working(steps, Answer(layer, quantity, None, loc, loc)) \
        if layer in layers or layer in blocks else ()
    return Graded(layer, quantity, given, expected, False, problem, working, loc)


def _grade_given(spec: ExpandedSpec, summary: Summary, answers: list[Answer],
                 steps: dict) -> list[Graded]:
    """The answers that hold a number or a shape, for known layers and the totals."""
    layers = {r.name: r for r in summary.layers}
    blocks = {b.name: b for b in summary.blocks}
    graded = []
    for answer in answers:
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
        return _as_answered(row.output_shape, answer.given, batch_dim)
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


def without_batch(shape: tuple, batch_dim: int | None) -> tuple:
    """A shape as the question sheets write it: without the batch dim (`batch_dim` None:
    the shape holds none; an RNN's h_n holds it second)."""
    if batch_dim is None or len(shape) <= batch_dim:
        return shape
    return shape[:batch_dim] + shape[batch_dim + 1:]


def _as_answered(shape: tuple, given: tuple, batch_dim: int | None) -> tuple:
    """A shape as the answer writes it: without the batch if the answer left it out, as
    the tutorials do."""
    return without_batch(shape, batch_dim) if len(given) == len(shape) - 1 else shape


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
    try:
        numbers = _as_decided(spec_layer.layer.for_batch(batch), true).evaluate(xs)
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
        if _from_own_output(spec, summary, results, world, believed, answer) == item.given:
            # the MACs of the layer's own wrong output: right for that shape
            marked.append(replace(item, follow_through=answer.layer, hint=None))
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


def _from_own_output(spec: ExpandedSpec, summary: Summary, results: dict,
                     world: dict[str, _Computed], believed: dict, answer: Answer) -> int | None:
    """A layer's MACs (or FLOPs) by its own rule from the output shape the student gave
    that layer, when that shape is wrong: MACs = (output elements) · (the work per
    element, which the input decides), on the input the student's shapes give it."""
    name = answer.layer
    if name not in results or answer.quantity not in ("macs", "flops") or \
            name not in believed or believed[name][1] != name:
        return None
    true = results[name]
    shape = believed[name][0]
    if shape == true.output_shape:
        return None                 # the student's own output is right: nothing follows
    spec_layer = _spec_layer(spec, name)
    if len(spec_layer.inputs) != 1:
        return None
    source = spec_layer.inputs[0]
    x = world[source].passed_on if source in world else summary.inputs.get(source)
    if x is None:
        return None
    try:
        macs = _as_decided(spec_layer.layer.for_batch(summary.batch), true).macs(x, shape)
    except (NetcalcError, ArithmeticError, IndexError, ValueError, TypeError):
        return None
    return macs * (2 if answer.quantity == "flops" else 1)


def _as_decided(layer, true: LayerResult):
    """The layer with the arguments the input decides (in_channels, in_features,
    num_features) dropped: the student's shapes decide them."""
    decided = layer.inferred(true.input_shapes[0]) if true.input_shapes else {}
    dropped = {f.name: None for f in fields(layer)
               if f.name in decided and f.default is None and getattr(layer, f.name) is not None}
    return replace(layer, **dropped) if dropped else layer


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
    wrong: int                  # answered, neither right nor following through
    not_answered: int = 0       # graded students who left it blank or out
    points_lost: float = 0.0    # of the graded students' points on it: 1 a wrong or
                                # unanswered one, 1 − FOLLOW_THROUGH_CREDIT a follow-through


@dataclass(frozen=True)
class RemarkTally:
    """One remark exactly (its numbers too) across the class."""

    hint: Remark
    answers: int
    students: int
    items: tuple[tuple[str | None, str], ...]     # (layer, quantity), first seen first


@dataclass(frozen=True)
class MistakeTally:
    """One named mistake (a hint's key: a forgotten bias) across the class, on whichever
    layers it was made, and the questions it was made on."""

    hint: Remark                # its most common remark
    answers: int
    students: int
    items: tuple[tuple[str | None, str], ...]     # (layer, quantity), first seen first
    remarks: tuple[RemarkTally, ...] = ()         # each remark with its own numbers

    @property
    def key(self) -> str:
        return self.hint.key


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
    most_wrong: tuple[ItemTally, ...]       # the questions that lost points, most first
    # the questions every student is scored out of, and where they come from: "key"
    # (an answer key's items), "class" (every question some student answered)
    questions: tuple[tuple[str | None, str], ...] = ()
    questions_from: str = "class"


@dataclass(frozen=True)
class ClassResult:
    students: tuple[StudentResult, ...]
    summary: ClassSummary


def student_name(path: str) -> str:
    """A student's name: the answers file's stem (answers/alice.yaml -> alice)."""
    return Path(path).stem


def questions_of(spec: ExpandedSpec, summary: Summary, key: list[Answer]
                 ) -> tuple[tuple[str | None, str], ...]:
    """An answer key's items as the questions (the `.key.yaml` netcalc exercise writes):
    each a quantity of a layer, a block or the network."""
    known = {r.name for r in summary.layers} | {b.name for b in summary.blocks}
    questions = []
    for answer in key:
        if answer.problem is not None and answer.problem.key in UNSCORED:
            raise SpecError(f"'{answer.problem.args['name']}' in the answer key is not a "
                            "question" + did_you_mean(answer.problem.args["name"],
                                                      [*TOTALS, *QUANTITIES]),
                            answer.loc)
        if answer.layer is not None and answer.layer not in known:
            raise SpecError(f"the answer key asks about '{answer.layer}', no layer or block "
                            f"of {summary.name}{did_you_mean(answer.layer, sorted(known))}",
                            answer.layer_loc)
        if (answer.layer, answer.quantity) not in questions:
            questions.append((answer.layer, answer.quantity))
    if not questions:
        raise UsageError("the answer key holds no question")
    return tuple(questions)


def key_disagreements(spec: ExpandedSpec, summary: Summary, key: list[Answer]
                      ) -> list[Graded]:
    """The answer key's values that are not the spec's numbers. Only its questions are
    read, so a key made for another spec (another variant's) would set the questions
    silently: these say the spec may not be the one the students were given."""
    return [item for item in grade(spec, summary, key)
            if item.scored and item.answered and not item.correct]


def grade_class(spec: ExpandedSpec, summary: Summary,
                sources: list[tuple[str, str, Callable[[], list[Answer]]]],
                questions: Sequence[tuple[str | None, str]] | None = None) -> ClassResult:
    """Each (student, path, reader of its answers) graded; a file that cannot be read or
    graded is the student's error, and the others are graded all the same. Every student
    is scored out of `questions` (an answer key's items), or else out of every question
    some student's file answers, so that all share one denominator."""
    names = [name for name, _, _ in sources]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"two answers files for the student '{twice[0]}': students are "
                         "named by the file's stem")
    read: list[tuple[str, str, list[Answer] | None, str | None]] = []
    for name, path, reader in sources:
        try:
            read.append((name, path, reader(), None))
        except NetcalcError as error:
            # its first line, the located error (notes after it say where a bracket opened)
            read.append((name, path, None, str(error).splitlines()[0]))
    source = "key" if questions is not None else "class"
    if questions is None:
        known = {r.name for r in summary.layers} | {b.name for b in summary.blocks}
        found = {(a.layer, a.quantity) for _, _, answers, _ in read for a in answers or ()
                 if (a.problem is None or a.problem.key not in UNSCORED)
                 and (a.layer is None or a.layer in known)}
        order = _question_order(spec, summary)
        questions = tuple(sorted(found, key=lambda q: order(*q)))
    questions = tuple(tuple(q) for q in questions)
    students = []
    for name, path, answers, error in read:
        if answers is None:
            students.append(StudentResult(name, path, (), None, error))
            continue
        try:
            items = tuple(grade(spec, summary, answers, questions))
        except NetcalcError as failure:
            students.append(StudentResult(name, path, (), None,
                                          str(failure).splitlines()[0]))
            continue
        students.append(StudentResult(name, path, items, score(items)))
    return ClassResult(tuple(students),
                       _class_summary(spec, summary, students, questions, source))


def _class_summary(spec: ExpandedSpec, summary: Summary, students: list[StudentResult],
                   questions: tuple = (), source: str = "class") -> ClassSummary:
    graded = [s for s in students if s.score is not None]
    bands: dict[tuple[float, int], int] = {}
    for student in graded:
        key = (student.score.points, student.score.total)
        bands[key] = bands.get(key, 0) + 1
    scores = tuple(ScoreTally(points, total, count) for (points, total), count in
                   sorted(bands.items(), key=lambda b: (-b[0][0] / max(b[0][1], 1), -b[0][1])))
    percents = [s.score.points / s.score.total for s in graded if s.score.total]
    mean = 100 * sum(percents) / len(percents) if percents else None

    # (layer, quantity) -> answered, ✓, ~, ✗, not answered, points lost
    tallies: dict[tuple, list] = {tuple(q): [0, 0, 0, 0, 0, 0.0] for q in questions}
    kinds: dict[str, list] = {}        # hint key -> first remark, answers, students, items
    remarks: dict[tuple, list] = {}    # remark -> it, answers, students, items
    for student in graded:
        for item in student.items:
            if not item.scored:
                continue
            counts = tallies.setdefault((item.layer, item.quantity), [0, 0, 0, 0, 0, 0.0])
            counts[5] += 1 - item.credit
            if not item.answered:
                counts[4] += 1
                continue
            counts[0] += 1
            counts[1 if item.correct else 2 if item.follow_through else 3] += 1
            if item.hint is not None and not item.correct:
                question = (item.layer, item.quantity)
                for table, key in ((kinds, item.hint.key),
                                   (remarks, (item.hint.key,
                                              repr(sorted(item.hint.args.items()))))):
                    tally = table.setdefault(key, [item.hint, 0, set(), []])
                    tally[1] += 1
                    tally[2].add(student.student)
                    if question not in tally[3]:
                        tally[3].append(question)
    order = _question_order(spec, summary)
    items = tuple(ItemTally(layer, quantity, *counts) for (layer, quantity), counts in
                  sorted(tallies.items(), key=lambda t: order(*t[0])))
    most_wrong = tuple(sorted((i for i in items if i.points_lost), key=lambda i: -i.points_lost))
    named = []
    for hint, answers, who, where in kinds.values():
        own = tuple(sorted((RemarkTally(r_hint, r_answers, len(r_who), tuple(r_where))
                            for r_hint, r_answers, r_who, r_where in remarks.values()
                            if r_hint.key == hint.key),
                           key=lambda r: (-r.answers, -r.students)))
        named.append(MistakeTally(own[0].hint, answers, len(who), tuple(where), own))
    named.sort(key=lambda m: (-m.answers, -m.students))
    return ClassSummary(summary.name, len(students), len(graded), len(students) - len(graded),
                        scores, mean, tuple(named), items, most_wrong,
                        tuple(questions), source)


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
