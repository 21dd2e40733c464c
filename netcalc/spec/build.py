"""The expanded spec under construction, for both ways of writing one:
expand.py drives it from a YAML document, pyspec.py from Python calls.

Here, once, are the rules every layer and group obeys however it was
written: names are letters, digits and '_', unique, and qualified
torch-style (`layer1.0.conv1`); `inputs` name earlier layers; a layer's type,
arguments and number of inputs are checked; every error says where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import (Location, Note, SpecError, UnknownArgumentError, did_you_mean, in_layer,
                      shorten)
from ..layers import lookup, unknown_type
from ..layers.base import NO_INPUT
from .loader import LocatedDict
from .model import ExpandedSpec, Group, LayerSpec

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# Refuse specs that expand past this many layers (YAML's are counted before
# expanding them: see expand._LayerCounter). From bench/benchmark.py's figures
# (docs/benchmarks.md): 100,000 layers take ~1.3 s and ~130 MiB on 2 cores, so
# 150,000 admit the largest real networks many times over and stop a mistyped
# `repeat:` before it costs more than ~2 s and ~200 MiB.
MAX_LAYERS = 150_000


def past_the_limit(loc: Location | None) -> SpecError:
    """The error of a spec that expands past MAX_LAYERS, at `loc`."""
    return SpecError(f"the spec expands past the limit of {MAX_LAYERS:,} layers", loc)


NAME = re.compile(r"^\w+$")


@dataclass
class Scope:
    """Where names are defined and looked up: the top level, or inside a block."""

    prefix: str                      # "" at top level, "layer1.0." inside a block
    inputs: dict[str, str]           # local input names -> producers
    depth: int
    trace: tuple[Note, ...]          # innermost block use first
    trainable: bool


def layer_name(value: Any, loc: Location) -> str:
    """A layer's own name; an integer (`0`, as nn.Sequential names its children) as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not NAME.match(value):
        dots = " ('.' separates block levels)" if isinstance(value, str) and "." in value else ""
        raise SpecError(f"layer name {shorten(value)} must be letters, digits and '_'{dots}", loc)
    return value


def usable_name(qualified: str) -> str:
    """A qualified name as a spec can write it: characters other than letters, digits,
    '_' and the '.' between levels become '_' (torchvision's RegNet: `block1-0`)."""
    return re.sub(r"[^\w.]", "_", qualified)


def check_input_name(name: Any, loc: Location) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError(f"input name {name!r} must be letters, digits and '_'", loc)


def check_block_name(name: Any, loc: Location) -> None:
    """A block's type name: shown in the table, so never a layer type's."""
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError(f"block name {name!r} must be letters, digits and '_'", loc)
    if lookup(name):
        raise SpecError(f"block '{name}' has the name of a layer type; choose another", loc)


class LayerGraph:
    """Adds layers and groups to an ExpandedSpec in execution order."""

    def __init__(self, spec: ExpandedSpec):
        self.spec = spec
        # every qualified name defined so far -> the producer of its output
        # (a leaf layer, a spec input, or for a skipped layer what it passes on)
        self.resolved: dict[str, str] = {}
        self.defined_at: dict[str, Location] = {}
        # an entry of several outputs (chunk, split) -> its pieces' qualified names
        self.pieces: dict[str, list[str]] = {}

    # -- names --------------------------------------------------------------

    def define(self, name: str, scope: Scope, entry: LocatedDict) -> str:
        """The qualified name for the layer or group `entry` makes."""
        qualified = scope.prefix + name
        if name in scope.inputs:
            raise SpecError(f"layer name '{name}' is already the name of an input",
                            entry.where("name"), scope.trace)
        if qualified in self.defined_at:
            raise SpecError(f"duplicate layer name '{name}' (first defined at "
                            f"{self.defined_at[qualified]})", entry.where("name"), scope.trace)
        self.defined_at[qualified] = entry.loc
        return qualified

    def generated_name(self, type_name: str, scope: Scope, counters: dict[str, int],
                       taken: dict | tuple = ()) -> str:
        """`relu_1`, `relu_2`, ... per type and scope, skipping names already taken."""
        base = type_name.lower()
        while True:
            counters[base] = counters.get(base, 0) + 1
            name = f"{base}_{counters[base]}"
            if name not in taken and scope.prefix + name not in self.resolved:
                return name

    def resolve(self, ref: str, scope: Scope, loc: Location, own_name: str,
                defined_later: dict[str, Location] | None = None) -> str:
        """The producer an `inputs` entry names: an input of the scope, or an earlier layer."""
        if ref in scope.inputs:
            return scope.inputs[ref]
        qualified = scope.prefix + ref
        if qualified in self.resolved:
            return self.taken_whole(self.resolved[qualified], ref, loc, scope)
        if qualified in self.pieces:
            return self.taken_whole(qualified, ref, loc, scope)
        if qualified == own_name:
            raise SpecError(f"a layer cannot take its own output ('{ref}')", loc, scope.trace)
        if defined_later and ref in defined_later:
            raise SpecError(f"'{ref}' is defined later (at {defined_later[ref]}); `inputs` can "
                            "only name earlier layers", loc, scope.trace)
        visible = [*scope.inputs, *(q[len(scope.prefix):] for q in self.resolved
                                    if q.startswith(scope.prefix))]
        raise SpecError(f"unknown layer '{ref}' in `inputs`{did_you_mean(ref, visible)}", loc,
                        scope.trace)

    def taken_whole(self, producer: str, ref: str, loc: Location, scope: Scope) -> str:
        """`producer`, unless it is an entry of several outputs, which no layer takes whole."""
        if producer in self.pieces:
            names = self.pieces[producer]
            shown = [n[len(scope.prefix):] if n.startswith(scope.prefix) else n for n in names]
            raise SpecError(f"'{ref}' gives {len(names)} outputs: take one "
                            f"({', '.join(shown)})", loc, scope.trace)
        return producer

    # -- layers and groups --------------------------------------------------------

    def layer_class(self, type_name: str, loc: Location, scope: Scope,
                    blocks: dict | None = None) -> type:
        """The layer type `type_name` names; `blocks` (by name), for the message when it
        names none."""
        cls = lookup(type_name)
        if cls is None:
            names = [b.name for b in (blocks or {}).values()]
            raise SpecError(unknown_type(type_name, names).message, loc, scope.trace)
        return cls

    def add_layer(self, cls: type, args: dict[str, Any], entry: LocatedDict, scope: Scope,
                  qualified: str, inputs: tuple[str, ...], depth: int, trainable: bool,
                  other_keys: tuple[str, ...]) -> str:
        """A layer of type `cls` from its arguments; `entry` locates them for errors."""
        try:
            layer = cls.from_args(args, other_keys)
            _check_arity(cls, inputs)
            self._check_same_call(layer, inputs)
        except SpecError as error:
            raise _in_layer(error, qualified, cls.type_name, entry, scope) from None
        self.spec.layers.append(LayerSpec(qualified, layer, inputs, entry.loc,
                                          entry.locations(), depth, scope.trace, trainable))
        if len(self.spec.layers) > MAX_LAYERS:
            raise past_the_limit(entry.loc)
        self.resolved[qualified] = qualified
        return qualified

    def tie_weight(self, qualified: str, ref: Any, scope: Scope, loc: Location) -> None:
        """`tie_weight: wte`: the layer just added reads layer `wte`'s weight as its own
        (torch's `lm_head.weight = wte.weight`)."""
        if not isinstance(ref, str):
            raise SpecError(f"tie_weight names an earlier layer, got {ref!r}", loc, scope.trace)
        if scope.prefix + ref == qualified:
            raise SpecError("tie_weight: a layer cannot share its weight with itself; name the "
                            "earlier layer that holds it", loc, scope.trace)
        try:
            source = self.resolve(ref, scope, loc, qualified)
        except SpecError as error:           # resolve speaks of `inputs`
            raise SpecError(error.message.replace("in `inputs`", "in `tie_weight`"), loc,
                            scope.trace) from None
        if source != scope.prefix + ref or source not in {s.name for s in self.spec.layers}:
            raise SpecError(f"tie_weight: '{ref}' is not a layer (a block or an input has no "
                            "weight of its own): name the layer that holds the weight", loc,
                            scope.trace)
        self.spec.layers[-1].tied = {"weight": source}

    def add_pieces(self, cls: type, args: dict[str, Any], entry: LocatedDict, scope: Scope,
                   qualified: str | tuple[str, ...], inputs: tuple[str, ...], depth: int,
                   trainable: bool, other_keys: tuple[str, ...]) -> str:
        """Every piece of a chunk, split or recurrent layer: `name.0`, `name.1`, ... in a
        group `name`, or the names listed. Returns the entry's name, which no layer may
        take whole."""
        shown = qualified if isinstance(qualified, str) else ", ".join(qualified)
        try:
            count = cls.from_args(args, other_keys).piece_count()
            if isinstance(qualified, tuple):           # name: [left, right]
                if count is not None and count != len(qualified):
                    raise SpecError(f"{cls.type_name} makes {count} pieces here but `name` "
                                    f"lists {len(qualified)}", arg="name")
            elif count is None:
                raise SpecError(f"{cls.type_name} by one size makes as many pieces as the dim "
                                "holds, which only the input shape tells: name them all "
                                "(`name: [a, b, ...]`), or give the sizes as a list", arg="name")
        except SpecError as error:
            raise _in_layer(error, shown, cls.type_name, entry, scope) from None
        if isinstance(qualified, tuple):
            for k, name in enumerate(qualified):
                self.add_layer(cls, piece_args(cls, args, k, len(qualified)), entry,
                               scope, name, inputs, depth, trainable, other_keys)
            self.pieces[shown] = list(qualified)
            return shown
        group = self.open_group(qualified, cls.type_name, "block", depth, entry.loc)
        names = [f"{qualified}.{k}" for k in range(count)]
        for k, name in enumerate(names):
            self.add_layer(cls, piece_args(cls, args, k), entry, scope, name, inputs,
                           depth + 1, trainable, other_keys)
        self.close_group(group, names[-1])
        self.pieces[qualified] = names
        self.resolved.pop(qualified)          # taken by piece only
        return qualified

    def _check_same_call(self, layer, inputs: tuple[str, ...]) -> None:
        """`same_call` (rnn, lstm, gru) marks piece k of an entry whose piece 0 is the
        layer k places back: netcalc's mark, which a spec cannot set elsewhere."""
        if not getattr(layer, "same_call", False):
            return
        layers = self.spec.layers
        first = layers[-layer.piece] if len(layers) >= layer.piece else None
        if first is None or type(first.layer) is not type(layer) or first.inputs != inputs \
                or first.layer.piece != 0 or first.layer.same_call:
            raise SpecError("same_call marks the later pieces of one entry, which netcalc "
                            "makes from `name: [...]` or a name without `piece`: leave it out",
                            arg="same_call")

    def open_group(self, qualified: str, type_name: str, kind: str, depth: int, loc: Location,
                   copies: int = 0) -> Group:
        """A block or repeat whose layers are the ones added until `close_group`."""
        group = Group(qualified, type_name, kind, depth, loc, first=len(self.spec.layers),
                      copies=copies)
        self.spec.groups.append(group)
        return group

    def close_group(self, group: Group, output: str) -> None:
        """`output`: what the group gives on; a block ending in pieces gives them all
        (its row shows the last one)."""
        group.end = len(self.spec.layers)
        group.output = self.pieces[output][-1] if output in self.pieces else output
        self.resolved[group.name] = output


def piece_args(cls: type, args: dict[str, Any], k: int, named: int | None = None
                ) -> dict[str, Any]:
    """The arguments of piece k of an entry. Pieces of one call (rnn, lstm, gru:
    `one_call`) mark each after the first `same_call`, counted there; a chunk's or
    split's carry `pieces`, the count a name list promises, checked against the input's."""
    if getattr(cls, "one_call", False):
        return {**args, "piece": k, **({"same_call": True} if k else {})}
    return {**args, "piece": k, **({"pieces": named} if named is not None else {})}


def _in_layer(error: SpecError, qualified: str, type_name: str, entry: LocatedDict,
              scope: Scope) -> SpecError:
    """Locate an argument error at its argument and name the layer."""
    key = error.arg if error.arg in entry else None
    if not key:
        loc = entry.loc
    elif isinstance(error, UnknownArgumentError):
        loc = entry.key_loc[key]
    else:
        loc = entry.where(key)
    return in_layer(error, qualified, type_name, loc, scope.trace)


def _check_arity(cls, inputs: tuple[str, ...]) -> None:
    n = len(inputs)
    if isinstance(cls.arity, tuple):
        if n not in cls.arity:
            counts = " or ".join(str(a) for a in cls.arity)
            raise SpecError(f"{cls.type_name} takes {counts} inputs, given {n}", arg="inputs")
        return
    if cls.arity == NO_INPUT:
        if n:
            raise SpecError(f"{cls.type_name} takes no input: its tensor is its own "
                            "parameters (leave out `inputs`)", arg="inputs")
        return
    if cls.arity == 0 and n < 2:
        raise SpecError(f"{cls.type_name} takes two or more inputs, given {n}: list them in "
                        "`inputs`", arg="inputs")
    if cls.arity and n != cls.arity:
        raise SpecError(f"{cls.type_name} takes {cls.arity} input{'s' if cls.arity > 1 else ''}, "
                        f"given {n}", arg="inputs")
