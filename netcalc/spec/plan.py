"""An expansion recorded once, replayed at other values of the spec's params.

A search (`netcalc fit`, a notebook's loop over widths) expands one spec at many
values. Most values change only layers' arguments (`out_channels: "${2 * width}"`),
never which layers there are, what they are called or what they read. So an
expansion records, in order, the steps that the values of `${...}` decide:

- `Index`: a repeat's copy, whose variables are its entry's and `i`;
- `Bind`: a block instance, whose variables are its params bound from its entry;
- `Check`: a value that decides the structure (`repeat`, `if`, `name`, `inputs`,
  `trainable`, `tie_weight`), with the value it had;
- `Leaf`: an entry's layer (or pieces), made from its arguments.

Replaying them at new values evaluates only those, and makes each layer anew from
its arguments. Where a checked value comes out otherwise, or anything fails, the
replay gives up and the spec is expanded in full, which says what went wrong: a
replay either gives exactly what the full expansion would, or nothing.
"""

from __future__ import annotations

from .build import piece_args
from .expr import bind_params, substitute_deep, varies
from .model import ExpandedSpec, Group, LayerSpec

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

    from ..errors import Location
    from .loader import LocatedDict

# An entry's arguments as a step keeps them: (key, value, None) for a value without
# ${...}, as evaluated; (key, the value as written, its location) for one to evaluate.
Arguments = tuple


def arguments(entry: LocatedDict, values: dict[str, Any]) -> Arguments:
    """`values` (an entry's evaluated arguments) as a step keeps them."""
    return tuple((key, entry[key], entry.where(key)) if varies(entry[key])
                 else (key, value, None) for key, value in values.items())


def _evaluated(args: Arguments, variables: dict) -> dict[str, Any]:
    return {key: value if loc is None else substitute_deep(value, variables, loc)
            for key, value, loc in args}


def instance_key(block_name: str, values: dict, trainable: bool, inputs: int) -> tuple:
    """What a block instance's layers depend on, but for its names (its group's
    `pattern`)."""
    # repr tells 1, 1.0 and True apart, and -0.0 from 0.0
    return block_name, repr(values), trainable, inputs


class Index:
    """Copy `k` of a repeat: its entry's variables (frame `parent`), and `i`."""

    __slots__ = ("parent", "k")

    def __init__(self, parent: int, k: int):
        self.parent, self.k = parent, k

    def moved(self, frames: int, layers: int, groups: int) -> "Index":
        return Index(self.parent + frames, self.k)

    def run(self, frames: list, patterns: dict) -> bool:
        frames.append({**frames[self.parent], "i": self.k})
        return True


class Bind:
    """A block instance's params, bound from its entry's arguments at frame `parent`;
    its group's pattern, where it has one (`keyed`: its trainable and count of inputs)."""

    __slots__ = ("parent", "block", "args", "group", "keyed")

    def __init__(self, parent: int, block, args: Arguments, group: int,
                 keyed: tuple[bool, int] | None):
        self.parent, self.block, self.args, self.group, self.keyed = \
            parent, block, args, group, keyed

    def moved(self, frames: int, layers: int, groups: int) -> "Bind":
        return Bind(self.parent + frames, self.block, self.args, self.group + groups,
                    self.keyed)

    def run(self, frames: list, patterns: dict) -> bool:
        values = bind_params(self.block.params, _evaluated(self.args, frames[self.parent]))
        frames.append(values)
        if self.keyed is not None:
            patterns[self.group] = instance_key(self.block.name, values, *self.keyed)
        return True


class Check:
    """A value that decides the structure: the replay holds while it comes out as it was."""

    __slots__ = ("frame", "written", "loc", "value")

    def __init__(self, frame: int, written: Any, loc: Location, value: Any):
        self.frame, self.written, self.loc, self.value = frame, written, loc, value

    def moved(self, frames: int, layers: int, groups: int) -> "Check":
        return Check(self.frame + frames, self.written, self.loc, self.value)

    def run(self, frames: list, patterns: dict) -> bool:
        return _same(substitute_deep(self.written, frames[self.frame], self.loc), self.value)


class Leaf:
    """An entry's layer, made from its arguments at frame `frame`, as layer `first`; or
    its pieces (a chunk's, an LSTM's), layers `first` on: `pieces` is (how many, whether
    the entry names them). `fixed`: the layers, where no argument holds a ${...}."""

    __slots__ = ("frame", "cls", "args", "first", "pieces", "fixed")

    def __init__(self, frame: int, cls: type, args: Arguments, first: int,
                 pieces: tuple[int, bool] | None, fixed: list | None):
        self.frame, self.cls, self.args, self.first, self.pieces, self.fixed = \
            frame, cls, args, first, pieces, fixed

    def moved(self, frames: int, layers: int, groups: int) -> "Leaf":
        return Leaf(self.frame + frames, self.cls, self.args, self.first + layers, self.pieces,
                    self.fixed)

    def make(self, frames: list, made: list) -> bool:
        if self.fixed is not None:
            made[self.first:self.first + len(self.fixed)] = self.fixed
            return True
        cls, args = self.cls, _evaluated(self.args, frames[self.frame])
        layer = cls.from_args(args)
        in_pieces = cls.makes_pieces and args.get("piece") is None
        if self.pieces is None:
            made[self.first] = layer
            return not in_pieces
        count, named = self.pieces
        found = layer.piece_count()
        if not in_pieces or (found != count if not named else found not in (None, count)):
            return False
        for k in range(count):
            made[self.first + k] = cls.from_args(piece_args(cls, args, k,
                                                             count if named else None))
        return True


def _same(value: Any, recorded: Any) -> bool:
    """Equal and of one type (1, 1.0 and True are not the same `repeat`), lists item by
    item."""
    if type(value) is not type(recorded):
        return False
    if type(value) is list:
        return len(value) == len(recorded) and all(map(_same, value, recorded))
    return value == recorded


class Plan:
    """A spec's expansion as `steps` at the top level's values `variables`, to replay
    at others; `counted`: whether the expansion was counted (expand._LayerCounter),
    as any of its structure is, at the values a replay is asked for too."""

    def __init__(self, spec: ExpandedSpec, steps: list, variables: dict, counted: bool):
        # copies: what the expansion returned is its caller's, to change if it likes
        self.layers = [LayerSpec(s.name, s.layer, s.inputs, s.loc, s.arg_loc, s.depth, s.trace,
                                 s.trainable, s.frozen, dict(s.tied)) for s in spec.layers]
        self.groups = [_group(g, g.pattern) for g in spec.groups]
        # the steps that decide whether the structure holds, before any layer is made
        self.structure = [step for step in steps if type(step) is not Leaf]
        self.leaves = [step for step in steps if type(step) is Leaf]
        self.values = repr(variables)      # (tells 1, 1.0 and True apart)
        self.counted = counted

    def replay(self, spec: ExpandedSpec, variables: dict) -> bool:
        """Give `spec` the layers and groups of the expansion at `variables` (the top
        level's), if their structure is the recorded one; False where it is not, or
        where anything fails (the full expansion says what)."""
        if repr(variables) == self.values:       # the spec loaded again, as it was
            made, patterns = [s.layer for s in self.layers], {}
        else:
            made, patterns = [None] * len(self.layers), {}
            if not self._run(variables, made, patterns):
                return False
        spec.layers = [LayerSpec(s.name, layer, s.inputs, s.loc, s.arg_loc, s.depth, s.trace,
                                 s.trainable, s.frozen, dict(s.tied) if s.tied else {})
                       for s, layer in zip(self.layers, made)]
        spec.groups = [_group(g, patterns.get(index, g.pattern))
                       for index, g in enumerate(self.groups)]
        return True

    def _run(self, variables: dict, made: list, patterns: dict) -> bool:
        """The steps at `variables`: each layer into `made`, block instances' patterns
        into `patterns` by group; False where the structure is not the recorded one."""
        frames = [variables]
        try:
            for step in self.structure:
                if not step.run(frames, patterns):
                    return False
            for leaf in self.leaves:
                if not leaf.make(frames, made):
                    return False
        except Exception:       # noqa: BLE001 (the full expansion raises it, located)
            return False
        return True


def _group(group: Group, pattern: object) -> Group:
    return Group(group.name, group.type_name, group.kind, group.depth, group.loc, group.first,
                 group.end, group.output, group.copies, group.series, pattern, group.inputs)
