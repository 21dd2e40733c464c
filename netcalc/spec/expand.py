"""From the YAML document to a flat list of layers: blocks, `repeat`, `if`,
`${...}` parameters, `inputs` resolution and torch-style qualified names.

Expansion needs no shapes: it checks names, references and arguments; the
shape rules run later, in `analyze`.
"""

from __future__ import annotations

import functools
import keyword
import os
import re
from dataclasses import dataclass, field

from ..dtypes import INPUT_DTYPES
from ..errors import Location, Note, SpecError, UsageError, did_you_mean, in_layer, shorten
from ..layers import lookup
from ..layers.base import MAX_INT, NO_INPUT, too_many_elements
from .build import (MAX_LAYERS, NAME, LayerGraph, Scope, check_block_name, check_input_name,
                    layer_name, past_the_limit)
from .expr import bind_params, cost, has_placeholder, substitute_deep, varies
from .loader import LocatedDict, LocatedList, located
from .model import ExpandedSpec, Group, InputSpec, LayerSpec
from .plan import Bind, Check, Index, Leaf, Plan, arguments, instance_key

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# Keys of a layer entry that are netcalc's own; every other key is an argument.
RESERVED_KEYS = ("type", "name", "inputs", "repeat", "if", "trainable", "tie_weight")
TOP_KEYS = ("name", "description", "params", "input", "inputs", "layers", "blocks")
BLOCK_KEYS = ("description", "params", "inputs", "layers")
DEFAULT_INPUT = "input"

# Refuse specs whose expansion takes too much work before starting it (counted
# without building them: see _LayerCounter; MAX_LAYERS bounds the layers): a
# step per copy of a layer (kept or switched off by `if`) and per operation in
# its ${...}; about a microsecond each.
MAX_STEPS = 4_000_000
MAX_BLOCK_DEPTH = 64


@dataclass
class BlockDef:
    """A block the spec defines: its parameters, inputs and layers."""

    name: str
    params: dict[str, Any]
    input_names: tuple[str, ...]
    layers: LocatedList
    loc: Location


@dataclass
class _Scope(Scope):
    """Names visible while a block's copy is expanded."""

    variables: dict[str, Any]        # block parameters (and `i` in a repeat)
    stack: tuple[str, ...]           # blocks being expanded, for recursion errors
    frame: int = 0                   # its variables' frame in a recorded plan


def expand(doc: Any, file: str, params: dict[str, Any] | None = None) -> ExpandedSpec:
    """The spec's layers, at its top-level `params` or at the values `params` gives."""
    if not isinstance(doc, LocatedDict):
        raise SpecError("the top level of a spec must be a mapping with `input` and `layers`",
                        _doc_loc(doc, file))
    _check_keys(doc, TOP_KEYS, "the spec")
    defaults = _params(doc.get("params", {}), doc.where("params"), "the spec")
    for name in params or {}:
        if name not in defaults:
            listed = ", ".join(defaults) or "none"
            raise UsageError(f"the spec has no param '{name}'{did_you_mean(name, defaults)} "
                             f"(its params: {listed})")
    variables = bind_params(defaults, params or {})
    spec = new_spec(doc, file, variables)
    spec.params = {name: variables[name] for name in defaults}
    spec.derived_params = tuple(name for name, default in defaults.items()
                                if varies(default))
    if "layers" not in doc:
        raise SpecError("the spec has no `layers` list", doc.loc)
    # a document is never changed once read: what its expansion at some values did holds
    # for every expansion of it at values that decide as those did (a search expands one
    # spec at many values). A plan is recorded from a document's second expansion on:
    # one expanded once, as a command does, spends nothing on it.
    known = doc.__dict__
    plan = known.get("_plan")
    if plan is not None and (not plan.counted or _within_limits(doc, variables)) \
            and plan.replay(spec, variables):
        return spec
    blocks = _blocks(doc)
    # a block's expansion at some values holds for every expansion of it
    expander = _Expander(spec, blocks, known.setdefault("_block_instances", {}),
                         record="_plan" in known)
    known.setdefault("_plan", None)
    scope = _Scope(prefix="", inputs={i.name: i.name for i in spec.inputs}, variables=variables,
                   depth=0, trace=(), trainable=True, stack=())

    # a spec too big to expand is refused at once, not after minutes: counted first once
    # its expansion has taken more than a small spec's steps (most never are)
    expander.count = lambda: _count(doc, blocks, variables)
    try:
        expander.expand_entries(doc["layers"], scope, doc.where("layers"), "the spec")
    except _Refused as error:       # (a SpecError like any other, to those who catch it)
        raise SpecError(error.message, error.loc, error.notes, error.arg) from None
    if not spec.layers:
        raise SpecError("the spec has no layers", doc.where("layers"))
    if expander.steps is not None:
        known["_plan"] = Plan(spec, expander.steps, variables, counted=expander.count is None)
    return spec


def _count(doc: LocatedDict, blocks: dict[str, BlockDef], variables: dict) -> None:
    """Refuse a spec whose expansion would take more than MAX_STEPS steps or make more
    than MAX_LAYERS layers, where the count says why (_LayerCounter)."""
    try:
        # a document is never changed once read: its blocks' counts hold for every
        # expansion of it (a search expands one spec at many values)
        _LayerCounter(blocks, doc.__dict__.setdefault("_block_counts", {})).entries(
            doc["layers"], variables, ())
    except _Malformed:
        pass      # counted up to an error: expanding stops there too, with its message
    except SpecError as error:
        if isinstance(error, _Refused):
            raise
        raise _Refused(error.message, error.loc, error.notes, error.arg) from None


def _within_limits(doc: LocatedDict, variables: dict) -> bool:
    """Does the spec's count at `variables` pass? Asked before replaying a plan whose
    expansion was counted: an expansion of its structure takes as many copies and
    makes as many layers, and so is counted too. Where the count refuses, the full
    expansion says why."""
    try:
        _count(doc, _blocks(doc), variables)
    except SpecError:
        return False
    return True


def new_spec(doc: LocatedDict, file: str, variables: dict) -> ExpandedSpec:
    """The spec's `name` (by default the file's) and its inputs, checked; no layers yet."""
    name = doc.get("name", os.path.splitext(os.path.basename(file))[0])
    if not isinstance(name, str):
        raise SpecError("`name` must be a string", doc.where("name"))
    return ExpandedSpec(name=name, file=file, inputs=_inputs(doc, variables))


def _doc_loc(doc: Any, file: str) -> Location:
    return getattr(doc, "loc", Location(file, 1, 1))


def _check_keys(mapping: LocatedDict, allowed: tuple[str, ...], what: str) -> None:
    for key in mapping:
        if isinstance(key, str) and key.startswith("x-"):
            continue      # extension keys, ignored: a place for YAML anchors
        if key not in allowed:
            raise SpecError(f"unknown key '{key}' in {what}{did_you_mean(key, allowed)} (expected: "
                            f"{', '.join(allowed)}; keys starting with x- are ignored)",
                            mapping.key_loc[key])


def _inputs(doc: LocatedDict, variables: dict) -> list[InputSpec]:
    if "input" in doc and "inputs" in doc:
        raise SpecError("give either `input` (one input) or `inputs` (named inputs), not both",
                        doc.key_loc["inputs"])
    if "input" in doc:
        return [_input(DEFAULT_INPUT, doc["input"], doc.where("input"), "input", variables)]
    if "inputs" in doc:
        named = doc["inputs"]
        if not isinstance(named, LocatedDict) or not named:
            raise SpecError("`inputs` maps input names to shapes: {image: [3, 224, 224]}",
                            doc.where("inputs"))
        result = []
        for key, value in named.items():
            check_input_name(key, named.key_loc[key])
            result.append(_input(key, value, named.where(key), f"input '{key}'", variables))
        return result
    raise SpecError("the spec needs `input: [C, H, W]`: the input's shape without the batch dim",
                    doc.loc)


def _input(name: str, value: Any, loc: Location, what: str, variables: dict) -> InputSpec:
    """`[3, 224, 224]`, or `{shape: [128], dtype: int64}` for token ids."""
    dtype = None
    if isinstance(value, LocatedDict):
        _check_keys(value, ("shape", "dtype"), what)
        dtype = value.get("dtype")
        if dtype is not None and (not isinstance(dtype, str) or dtype not in INPUT_DTYPES):
            raise SpecError(f"{what}: dtype {dtype!r} is not one of {', '.join(INPUT_DTYPES)}",
                            value.where("dtype"))
        if "shape" not in value:
            raise SpecError(f"{what} needs a `shape`", value.loc)
        loc, value = value.where("shape"), value["shape"]
    return InputSpec(name, _shape(substitute_deep(value, variables, loc), value, loc, what),
                     loc, dtype)


def _shape(value: Any, raw: Any, loc: Location, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{what} must be a list of sizes without the batch dim, like "
                        "[3, 224, 224]", loc)
    for i, size in enumerate(value):
        item_loc = raw.where(i) if isinstance(raw, LocatedList) else loc
        if isinstance(size, bool) or not isinstance(size, int):
            raise SpecError(f"{what}: size {size!r} is not an integer", item_loc)
        if size < 1:
            raise SpecError(f"{what}: size {size} must be at least 1", item_loc)
        if size > MAX_INT:
            raise SpecError(f"{what}: size {shorten(size)} is too large (torch sizes are 64-bit)",
                            item_loc)
    problem = too_many_elements(tuple(value))
    if problem:
        raise SpecError(f"{what}: {problem}", loc)
    return tuple(value)


def _blocks(doc: LocatedDict) -> dict[str, BlockDef]:
    raw = doc.get("blocks", {})
    if not isinstance(raw, dict):
        raise SpecError("`blocks` maps block names to {params, layers}", doc.where("blocks"))
    blocks = {}
    for name, body in raw.items():
        loc = raw.key_loc[name]
        check_block_name(name, loc)
        if name.lower() in blocks:
            raise SpecError(f"block '{name}' is defined twice (names ignore case)", loc)
        if not isinstance(body, LocatedDict):
            raise SpecError(f"block '{name}' must be a mapping with `layers` (and `params`)",
                            raw.where(name))
        _check_keys(body, BLOCK_KEYS, f"block '{name}'")
        params = _params(body.get("params", {}), body.where("params"), f"block '{name}'")
        input_names = body.get("inputs", [DEFAULT_INPUT])
        if isinstance(input_names, str):
            input_names = [input_names]
        if not isinstance(input_names, list) or not input_names or len(set(input_names)) != len(
                input_names) or not all(isinstance(n, str) and NAME.match(n) for n in input_names):
            raise SpecError(f"`inputs` of block '{name}' lists its input names, each once, "
                            "like [x, skip]", body.where("inputs"))
        if "layers" not in body:
            raise SpecError(f"block '{name}' has no `layers`", loc)
        blocks[name.lower()] = BlockDef(name, params, tuple(input_names), body["layers"], loc)
    return blocks


def _params(params: Any, loc: Location, owner: str) -> dict[str, Any]:
    """`params: {out: 64, stride: 1}`: names usable in `${...}`, with their defaults."""
    if not isinstance(params, dict):
        raise SpecError(f"`params` of {owner} maps names to values: {{out: 64, stride: 1}}", loc)
    for param in params:
        if not isinstance(param, str) or not param.isidentifier() or param in RESERVED_KEYS \
                or keyword.iskeyword(param):        # `${True}` reads the constant
            raise SpecError(f"parameter {param!r} must be an identifier, not a Python keyword "
                            f"and not one of {', '.join(RESERVED_KEYS)}", params.key_loc[param])
        if not param.isascii():
            import unicodedata       # (rarely needed: not on every start)
            read = unicodedata.normalize("NFKC", param)
            if read != param:
                raise SpecError(f"parameter {param!r} is read in ${{...}} as {read!r} (Python "
                                "reads names in their NFKC form): write it so",
                                params.key_loc[param])
        if param == "i":
            raise SpecError("'i' is the index of `repeat` in ${...}; give the parameter "
                            "another name", params.key_loc[param])
    return params


_UNKNOWN = object()
_USES_INDEX = re.compile(r"\$\{[^}]*\bi\b")


def _uses_index(value: Any) -> bool:
    """Does a value (a list's items too) use the repeat index in a ${...}?"""
    if isinstance(value, list):
        return any(_uses_index(item) for item in value)
    return isinstance(value, str) and bool(_USES_INDEX.search(value))


class _LayerCounter:
    """Counts what a spec expands to without building it, so that a spec too big
    to expand is refused at once, not after minutes: its layers (at most
    MAX_LAYERS) and the steps expanding it takes (at most MAX_STEPS: a step per
    copy of a layer, switched off by `if` or not, and per operation of its
    ${...}). Block instances are memoized by their parameters.

    Anything malformed counts as one layer: the expander reports it properly.
    """

    def __init__(self, blocks: dict[str, BlockDef], memo: dict | None = None):
        self.blocks = blocks
        self.memo: dict[tuple, tuple[int, int]] = {} if memo is None else memo

    def entries(self, entries: Any, variables: dict, stack: tuple[str, ...]) -> tuple[int, int]:
        """(layers, steps) of a `layers` list."""
        layers = steps = 0
        for index, raw in enumerate(entries if isinstance(entries, LocatedList) else ()):
            entry_layers, entry_steps = self.entry(raw, variables, stack, entries.where(index))
            layers += entry_layers
            steps += entry_steps
            if layers > MAX_LAYERS:
                raise past_the_limit(entries.where(index))
            self.check_steps(steps, entries.where(index))
        return layers, steps

    def entry(self, raw: Any, variables: dict, stack: tuple[str, ...],
              loc: Location) -> tuple[int, int]:
        if isinstance(raw, str):
            raw = {"type": raw}
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            return 1, 1
        if "repeat" not in raw:
            return self.copy(raw, variables, stack, loc)
        repeat = self.value(raw["repeat"], variables)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
            return 1, 1
        loc = raw.where("repeat") if isinstance(raw, LocatedDict) else loc
        if repeat == 0:
            return 0, 1       # no copy: nothing of one is evaluated (its `if`, its arguments)
        if repeat > MAX_LAYERS:
            raise SpecError(f"repeat: {repeat:,} would expand past the limit of "
                            f"{MAX_LAYERS:,} layers", loc)
        # every copy, kept or switched off, costs at least its own step and its `if`
        self.check_steps(repeat * (1 + cost(raw.get("if"))), loc)
        if any(_uses_index(v) for k, v in raw.items() if k != "name"):
            layers = steps = 0
            for i in range(repeat):          # copies differ: count each, stop at a limit
                copy_layers, copy_steps = self.copy(raw, {**variables, "i": i}, stack, loc,
                                                    f" (copy {i} of {repeat})")
                layers += copy_layers
                steps += copy_steps
                if layers > MAX_LAYERS or steps > MAX_STEPS:
                    break
        else:
            copy_layers, copy_steps = self.copy(raw, {**variables, "i": 0}, stack, loc)
            layers, steps = repeat * copy_layers, repeat * copy_steps
        if layers > MAX_LAYERS:
            raise SpecError(f"repeat: {repeat:,} copies would expand past the limit of "
                            f"{MAX_LAYERS:,} layers", loc)
        self.check_steps(steps, loc)
        return layers, steps

    def copy(self, raw: dict, variables: dict, stack: tuple[str, ...], loc: Location,
             which: str = "") -> tuple[int, int]:
        """(layers, steps) of one copy of an entry; `which`: which copy of a repeat whose
        copies differ, for a note."""
        steps = 1 + cost(raw.get("if"))
        if "if" in raw:
            condition = self.value(raw["if"], variables)
            if condition is _UNKNOWN:
                raise _Malformed      # the expander will stop at this error
            if condition is False:
                return 0, steps
        arguments = {key: value for key, value in raw.items() if key not in RESERVED_KEYS}
        steps += cost(list(arguments.values()))
        block = self.blocks.get(raw["type"].lower())
        if block is None or block.name in stack:
            return 1, steps
        if len(stack) >= MAX_BLOCK_DEPTH:
            # the expander says so where it gets there (this counter's memo, kept from
            # earlier expansions of the document, need not get there)
            raise _Malformed
        given = {key: self.value(value, variables) for key, value in arguments.items()}
        try:
            params = bind_params(block.params, given)
        except SpecError:
            raise _Malformed from None
        memo_key = (block.name, repr(sorted(params.items(), key=lambda kv: kv[0])))
        if memo_key not in self.memo:
            try:
                counted = self.entries(block.layers, params, (*stack, block.name))
            except SpecError as error:     # in the block: say where it was used
                raise _Refused(error.message, error.loc, (
                    *error.notes, Note(getattr(raw, "loc", loc),
                                       f"in block '{block.name}', used here{which}")),
                    error.arg) from None
            if len(self.memo) >= _MOST_COUNTS:
                self.memo.clear()
            self.memo[memo_key] = counted
        layers, inner_steps = self.memo[memo_key]
        steps += inner_steps
        self.check_steps(steps, loc)
        return layers, steps

    @staticmethod
    def check_steps(steps: int, loc: Location) -> None:
        if steps > MAX_STEPS:
            raise SpecError(f"expanding this takes more than {MAX_STEPS:,} steps (a step per "
                            "copy of a layer, switched off by `if` or not, and per operation in "
                            "its ${...}); refusing to start", loc)

    @staticmethod
    def value(value: Any, variables: dict) -> Any:
        try:
            return substitute_deep(value, variables, None)
        except SpecError:
            return _UNKNOWN


class _Malformed(Exception):
    """The counter met an error the expander reports at or before the same copy."""


class _Refused(SpecError):
    """The count refused the spec, where it says: an error of the whole spec, whichever
    entry the expansion had reached when it started counting."""


class _Expander(LayerGraph):
    """Drives a LayerGraph from the spec's `layers` lists and `blocks`."""

    def __init__(self, spec: ExpandedSpec, blocks: dict[str, BlockDef],
                 instances: dict | None = None, record: bool = False):
        super().__init__(spec)
        self.blocks = blocks
        # (block, its values, trainable, inputs) -> one instance's expansion, which every
        # later use of the block at the same values repeats under its own names
        self.instances: dict[tuple, _Instance] = {} if instances is None else instances
        # counts the spec (refusing one too big) when called; called once the expansion
        # has taken UNCOUNTED_STEPS entry copies or made as many layers
        self.count = None
        self.copies = 0
        # the plan's steps (plan.py), where it records one; frame 0 is the top level's
        self.steps: list | None = [] if record else None
        self.frames = 1
        # the most blocks nested around a block expanded so far, itself included: how
        # deep a block instance's blocks nest, for the depth limit where it is repeated
        self.reached = 0

    # -- lists of entries -----------------------------------------------

    def expand_entries(self, entries: Any, scope: _Scope, loc: Location, owner: str) -> str:
        """Expands a `layers` list; returns the producer of its last entry's output."""
        if not isinstance(entries, LocatedList) or not entries:
            # keys where entries belong: the entries' '- ' are missing
            hint = "; start each layer with '- '" if isinstance(entries, dict) else ""
            raise SpecError(f"`layers` of {owner} must be a non-empty list{hint}", loc)
        names_here = self._literal_names(entries)
        counters: dict[str, int] = {}
        previous = next(iter(scope.inputs.values())) if len(scope.inputs) == 1 else None
        for index, raw in enumerate(entries):
            try:
                entry = self._entry(raw, entries, index)
                previous = self._expand_entry(entry, scope, previous, counters, names_here)
            except SpecError as error:
                if error.notes or not scope.trace or isinstance(error, _Refused):
                    raise
                # an error in a block's own lines: say where the block was used
                raise SpecError(error.message, error.loc, scope.trace, error.arg) from None
        return previous

    def _entry(self, raw: Any, entries: LocatedList, index: int) -> LocatedDict:
        loc = entries.where(index)
        if isinstance(raw, str):    # `- relu`: a layer with no arguments
            return located({"type": raw}, loc)
        if not isinstance(raw, LocatedDict):
            raise SpecError("a layer is a mapping like {type: conv2d, ...} or a bare type name "
                            "like `relu`", loc)
        if "type" not in raw:
            cased = [k for k in raw if isinstance(k, str) and k.lower() == "type"]
            hint = f" (keys are case-sensitive: '{cased[0]}' should be 'type')" if cased else ""
            raise SpecError(f"this layer has no `type`{hint}", raw.loc)
        if not isinstance(raw["type"], str):
            raise SpecError("`type` must be a layer type or block name", raw.where("type"))
        return raw

    @staticmethod
    def _literal_names(entries: LocatedList) -> dict[str, Location]:
        """Names written plainly in this list, for 'defined later' messages."""
        names = {}
        for raw in entries:
            if isinstance(raw, LocatedDict) and isinstance(raw.get("name"), (str, int)) \
                    and not has_placeholder(raw.get("name")):
                names[str(raw["name"])] = raw.where("name")
        return names

    # -- one entry (maybe repeated) ---------------------------------------

    def _expand_entry(self, entry: LocatedDict, scope: _Scope, previous: str | None,
                      counters: dict[str, int], names_here: dict[str, Location]) -> str:
        type_name = entry["type"]
        indexed_names = "repeat" in entry and has_placeholder(entry.get("name"))
        label = None
        if isinstance(entry.get("name"), list) and "repeat" not in entry:
            # `name: [left, right]`: the pieces of a chunk or split
            names = tuple(layer_name(n, entry.where("name")) for n in
                          self._decided(entry, "name", scope.variables, scope.frame))
            return self._instance(entry, scope, scope.variables, scope.frame, previous, names,
                                  scope.depth, names_here, first=True)
        if "name" in entry and not indexed_names:
            label = self._name_value(entry, scope.variables, scope.frame)
        if "repeat" not in entry:
            name = label or self.generated_name(type_name, scope, counters, names_here)
            return self._instance(entry, scope, scope.variables, scope.frame, previous, name,
                                  scope.depth, names_here, first=True)

        if _reads_no_input(type_name):
            raise SpecError("a layer that reads no input cannot be repeated: its copies would "
                            "not chain (write each one)", entry.where("repeat"), scope.trace)
        repeat = self._decided(entry, "repeat", scope.variables, scope.frame)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
            raise SpecError(f"repeat must be a whole number of times (0 or more), got "
                            f"{shorten(repeat)}", entry.where("repeat"), scope.trace)
        group = None
        if not indexed_names:
            # `{name: layer1, repeat: 2}` -> layer1.0, layer1.1 (like nn.Sequential)
            group_name = label or self.generated_name(type_name, scope, counters, names_here)
            qualified = self.define(group_name, scope, entry)
            group = self.open_group(qualified, type_name, "repeat", scope.depth, entry.loc,
                                    copies=repeat)
        if repeat == 0:      # no copies: like a layer switched off, it passes its input on
            passed = self._references(entry, scope, scope.variables, scope.frame, names_here, "") \
                if "inputs" in entry else (previous,)
            if len(passed) != 1 or passed[0] is None:
                raise SpecError("with repeat: 0 this entry passes its input on: give it one "
                                "input (`inputs: [name]`)", entry.where("repeat"), scope.trace)
            previous = passed[0]
        for k in range(repeat):
            variables = {**scope.variables, "i": k}
            frame = self._frame(Index(scope.frame, k))
            if indexed_names:   # `{name: "conv${i + 1}", repeat: 3}` -> conv1, conv2, conv3
                name, depth = self._name_value(entry, variables, frame), scope.depth
            else:
                name, depth = f"{group_name}.{k}", scope.depth + 1
            previous = self._instance(entry, scope, variables, frame, previous, name, depth,
                                      names_here, first=k == 0)
            if indexed_names:           # a block copy: which of how many, for the diagram
                # (its own group came before those of the blocks inside it)
                made = next((g for g in reversed(self.spec.groups)
                             if g.name == scope.prefix + name), None)
                if made is not None:
                    made.series = (k, repeat)
        if group:
            self.close_group(group, previous)
        return previous

    def _instance(self, entry: LocatedDict, scope: _Scope, variables: dict, frame: int,
                  previous: str | None, name: str, depth: int, names_here: dict,
                  first: bool) -> str:
        self.tally(1)
        if isinstance(name, tuple):
            qualified = tuple(self.define(n, scope, entry) for n in name)
        elif "repeat" in entry and not has_placeholder(entry.get("name")):
            qualified = scope.prefix + name        # group member: already unique by index
            self.defined_at[qualified] = entry.loc
        else:
            qualified = self.define(name, scope, entry)
        if "inputs" in entry and first:
            try:
                inputs = self._references(entry, scope, variables, frame, names_here,
                                          qualified)
            except SpecError as error:
                shown = ", ".join(qualified) if isinstance(qualified, tuple) else qualified
                raise in_layer(error, shown, entry["type"], error.loc, scope.trace) from None
        elif _reads_no_input(entry["type"]):
            inputs = ()
        elif previous in self.pieces:
            names = [n[len(scope.prefix):] if n.startswith(scope.prefix) else n
                     for n in self.pieces[previous]]
            raise SpecError(f"the layer before gives {len(names)} outputs ({', '.join(names)}): "
                            f"say which this layer takes with `inputs: [{names[0]}]`, or make "
                            "the entry before one piece (`piece: 0`)", entry.loc, scope.trace)
        elif previous is None:
            raise SpecError("this spec has several inputs: say which this layer takes with "
                            "`inputs: [name]`", entry.loc, scope.trace)
        else:
            inputs = (previous,)

        if "if" in entry:
            condition = self._decided(entry, "if", variables, frame)
            if not isinstance(condition, bool):
                raise SpecError(f"`if` must be true or false, got {shorten(condition)}",
                                entry.where("if"), scope.trace)
            if not condition:     # a layer switched off passes its input on unchanged
                if not inputs:
                    raise SpecError("a layer that reads no input has nothing to pass on: it "
                                    "cannot be switched off by `if`", entry.where("if"),
                                    scope.trace)
                if len(inputs) != 1:
                    raise SpecError("a layer with several inputs cannot be switched off by "
                                    "`if`", entry.where("if"), scope.trace)
                self.resolved[qualified] = inputs[0]
                return inputs[0]

        trainable = scope.trainable
        if "trainable" in entry:
            value = self._decided(entry, "trainable", variables, frame)
            if not isinstance(value, bool):
                raise SpecError("`trainable` must be true or false", entry.where("trainable"),
                                scope.trace)
            trainable = trainable and value

        type_name = entry["type"]
        block = self.blocks.get(type_name.lower())
        if block is not None:
            if isinstance(qualified, tuple):
                raise SpecError(f"block '{block.name}' has one name; a list of names is for "
                                "every piece of a chunk, split or recurrent layer",
                                entry.where("name"), scope.trace)
            return self._expand_block(block, entry, scope, variables, frame, qualified, inputs,
                                      depth, trainable)
        return self._leaf(entry, scope, variables, frame, qualified, inputs, depth, trainable)

    # -- leaves and blocks ------------------------------------------------

    def _leaf(self, entry: LocatedDict, scope: _Scope, variables: dict, frame: int,
              qualified: str, inputs: tuple[str, ...], depth: int, trainable: bool) -> str:
        cls = self.layer_class(entry["type"], entry.where("type"), scope, self.blocks)
        args = {key: self._value(entry, key, variables) for key in entry
                if key not in RESERVED_KEYS}
        if cls.makes_pieces and "tie_weight" in entry:
            raise SpecError(f"tie_weight: {cls.type_name} holds no weight another layer could "
                            "share", entry.where("tie_weight"), scope.trace)
        if cls.makes_pieces and args.get("piece") is None:
            first = len(self.spec.layers)
            output = self.add_pieces(cls, args, entry, scope, qualified, inputs, depth,
                                     trainable, RESERVED_KEYS)
            self._made(entry, frame, cls, args, first,
                       (len(self.spec.layers) - first, isinstance(qualified, tuple)))
            return output
        if isinstance(qualified, tuple):
            one = "with `piece`, the entry is one piece" if cls.makes_pieces \
                else "this layer has one output"
            raise SpecError(f"layer '{', '.join(qualified)}' ({cls.type_name}): a list of names "
                            f"is for every piece of a chunk, split or recurrent layer; {one}",
                            entry.where("name"), scope.trace)
        added = self.add_layer(cls, args, entry, scope, qualified, inputs, depth, trainable,
                               RESERVED_KEYS)
        self._made(entry, frame, cls, args, len(self.spec.layers) - 1, None)
        if "tie_weight" in entry:
            self.tie_weight(added, self._decided(entry, "tie_weight", variables, frame), scope,
                            entry.where("tie_weight"))
        return added

    def _expand_block(self, block: BlockDef, entry: LocatedDict, scope: _Scope, variables: dict,
                      frame: int, qualified: str, inputs: tuple[str, ...], depth: int,
                      trainable: bool) -> str:
        if block.name in scope.stack:
            cycle = " → ".join([*scope.stack[scope.stack.index(block.name):], block.name])
            raise SpecError(f"block '{block.name}' uses itself ({cycle})", entry.where("type"),
                            scope.trace)
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks are nested more than {MAX_BLOCK_DEPTH} deep here",
                            entry.where("type"), scope.trace)
        if "tie_weight" in entry:
            raise SpecError(f"tie_weight is for a layer, and '{block.name}' is a block: give it "
                            "to the block's layer that holds the weight",
                            entry.where("tie_weight"), scope.trace)
        given = {}
        for key in entry:
            if key in RESERVED_KEYS:
                continue
            if key not in block.params:
                hint = did_you_mean(key, [*block.params, *RESERVED_KEYS])
                listed = ", ".join(block.params) or "none"
                raise SpecError(f"block '{block.name}' has no parameter '{key}'{hint} "
                                f"(its parameters: {listed})", entry.key_loc[key], scope.trace)
            given[key] = self._value(entry, key, variables)
        try:
            values = bind_params(block.params, given)
        except SpecError as error:
            raise SpecError(error.message, error.loc, scope.trace) from None
        if len(inputs) != len(block.input_names):
            raise SpecError(f"block '{block.name}' takes {len(block.input_names)} input(s) "
                            f"({', '.join(block.input_names)}), given {len(inputs)}",
                            entry.where("inputs"), scope.trace)
        key = _instance_key(block, values, trainable, inputs)
        root = self._bound(entry, block, given, frame, (trainable, len(inputs)) if key else None)
        made = self.instances.get(key) if key else None
        if made is not None and self.steps is not None and made.steps is None:
            made = None           # made where no plan was recorded: its steps are unknown
        if made is not None and len(scope.stack) + made.levels > MAX_BLOCK_DEPTH:
            made = None           # here its blocks nest too deep: expanded, it says where
        if made is not None:
            self.reached = max(self.reached, len(scope.stack) + made.levels)
            layers, groups = len(self.spec.layers), len(self.spec.groups)
            output = made.repeat(self, qualified, inputs, depth, entry.loc,
                                 (Note(entry.loc, f"in block '{block.name}', used here as "
                                                  f"'{qualified}'"), *scope.trace))
            if self.steps is not None:
                self.steps.extend(step.moved(root, layers, groups) for step in made.steps)
                self.frames = root + made.frames
            if len(self.spec.layers) > MAX_LAYERS:
                self.counted()
                raise past_the_limit(entry.loc)
            self.tally(made.copies)
            return output
        marks = self.marks()
        group = self.open_group(qualified, block.name, "block", depth, entry.loc)
        inner = _Scope(prefix=qualified + ".", inputs=dict(zip(block.input_names, inputs)),
                       variables=values, depth=depth + 1,
                       trace=(Note(entry.loc, f"in block '{block.name}', used here as "
                                              f"'{qualified}'"), *scope.trace),
                       trainable=trainable, stack=(*scope.stack, block.name), frame=root)
        outer_reach, self.reached = self.reached, len(inner.stack)
        output = self.expand_entries(block.layers, inner, block.loc, f"block '{block.name}'")
        self.close_group(group, output)
        levels = self.reached - len(scope.stack)
        self.reached = max(outer_reach, self.reached)
        if key:
            group.pattern, group.inputs = key, inputs
            if len(self.instances) >= _MOST_INSTANCES:
                self.instances.clear()
            self.instances[key] = _Instance.record(self, marks, qualified, inputs, depth,
                                                   len(scope.trace), output, root, levels)
        return output

    def tally(self, copies: int) -> None:
        """`copies` more entry copies expanded, or repeated from a block instance that
        took them (so that when the count starts depends on the spec, not on which
        instances were kept); counts the spec once they, or the layers, are many."""
        self.copies += copies
        if self.count is not None and (self.copies > UNCOUNTED_STEPS or len(self.spec.layers)
                                       >= min(UNCOUNTED_STEPS, MAX_LAYERS)):
            self.counted()

    def counted(self) -> None:
        """Count the spec now, if it was not yet: one too big is refused where the
        counter says why (`repeat: N` at its line), not where expanding reached the limit."""
        if self.count is not None:
            count, self.count = self.count, None
            count()

    def marks(self) -> tuple[int, ...]:
        """How much of each record there is so far: what a block's expansion adds after."""
        return (len(self.spec.layers), len(self.spec.groups), len(self.resolved),
                len(self.defined_at), len(self.pieces), self.copies,
                -1 if self.steps is None else len(self.steps))

    # -- names, references, values ------------------------------------------

    def _name_value(self, entry: LocatedDict, variables: dict, frame: int) -> str:
        return layer_name(self._decided(entry, "name", variables, frame), entry.where("name"))

    def _references(self, entry: LocatedDict, scope: _Scope, variables: dict, frame: int,
                    names_here: dict, own_name: str) -> tuple[str, ...]:
        refs = self._decided(entry, "inputs", variables, frame)
        if isinstance(refs, str):
            refs = [refs]
        loc = entry.where("inputs")
        if not isinstance(refs, list) or not refs:
            raise SpecError("`inputs` lists earlier layer names (or `input`)", loc, scope.trace)
        producers = []
        for i, ref in enumerate(refs):
            item_loc = loc
            raw_refs = entry["inputs"]
            if isinstance(raw_refs, LocatedList):
                item_loc = raw_refs.where(i)
            if isinstance(ref, int) and not isinstance(ref, bool):
                ref = str(ref)
            if not isinstance(ref, str):
                raise SpecError(f"`inputs` entry {ref!r} is not a layer name", item_loc,
                                scope.trace)
            producers.append(self.resolve(ref, scope, item_loc, own_name, names_here))
        return tuple(producers)

    def _value(self, entry: LocatedDict, key: str, variables: dict) -> Any:
        return substitute_deep(entry[key], variables, entry.where(key))

    # -- the plan (plan.py), where one is recorded -----------------------------------

    def _decided(self, entry: LocatedDict, key: str, variables: dict, frame: int) -> Any:
        """A value that decides the structure (which layers there are, their names and
        inputs): a replay holds while it comes out the same."""
        value = self._value(entry, key, variables)
        if self.steps is not None and varies(entry[key]):
            self.steps.append(Check(frame, entry[key], entry.where(key), value))
        return value

    def _bound(self, entry: LocatedDict, block: BlockDef, given: dict, frame: int,
               keyed: tuple[bool, int] | None) -> int:
        """The frame of a block instance's params, bound from `given` (its entry's
        arguments at `frame`); `keyed`: its trainable and count of inputs, where its
        group has a pattern."""
        if self.steps is None:
            return 0
        return self._frame(Bind(frame, block, arguments(entry, given),
                                len(self.spec.groups), keyed))

    def _frame(self, step: Index | Bind) -> int:
        """The frame of the variables `step` makes (0 where no plan is recorded)."""
        if self.steps is None:
            return 0
        self.steps.append(step)
        self.frames += 1
        return self.frames - 1

    def _made(self, entry: LocatedDict, frame: int, cls: type, args: dict, first: int,
              pieces: tuple[int, bool] | None) -> None:
        """The layer (or pieces) `entry` just made from `args`, from layer `first` on."""
        if self.steps is not None:
            if "same_call" in entry:      # a mark of netcalc's that a replay cannot check
                self.steps = None
                return
            kept = arguments(entry, args)
            fixed = None if any(loc is not None for _, _, loc in kept) else \
                [made.layer for made in self.spec.layers[first:]]
            self.steps.append(Leaf(frame, cls, kept, first, pieces, fixed))


def _reads_no_input(type_name: str) -> bool:
    """A learned tensor (`parameter`): its default input is none, not the previous layer."""
    return isinstance(type_name, str) and _type_reads_no_input(type_name)


@functools.lru_cache(maxsize=256)       # asked of every entry copy
def _type_reads_no_input(type_name: str) -> bool:
    cls = lookup(type_name)
    return cls is not None and cls.arity == NO_INPUT


_MOST_INSTANCES = 2_000
_MOST_COUNTS = 20_000        # a block's count at its params: two ints each
# Entry copies (or layers) a spec's expansion takes before the spec is counted: far more
# than real networks' (ResNet-152: ~1,000), far fewer than a second's work
UNCOUNTED_STEPS = 20_000


def _instance_key(block: BlockDef, values: dict, trainable: bool,
                  inputs: tuple[str, ...]) -> tuple | None:
    """What a block instance's layers depend on, but for its names: None where its
    inputs are not distinct (an inner layer reading one could not say which)."""
    if len(set(inputs)) != len(inputs):
        return None
    return instance_key(block.name, values, trainable, len(inputs))


def _added(record: dict, since: int) -> list:
    """The items a dict gained after it held `since` (its newest, in order)."""
    gained = len(record) - since
    items = []
    for item in reversed(record.items()):
        if len(items) == gained:
            break
        items.append(item)
    return items[::-1]


@dataclass
class _Instance:
    """One block instance's expansion, as the same block at the same values gives it
    anywhere: its layers, groups and names, to repeat under another instance's name,
    inputs, depth and trace (a ResNet stage's identical blocks, 100,000-layer stacks)."""

    qualified: str
    inputs: tuple[str, ...]
    depth: int
    outer_trace: int                 # the notes of its layers' traces outside the block
    first: int                       # the index of its first layer
    layers: list
    groups: list
    resolved: list
    defined_at: list
    pieces: list
    output: str
    # the names it holds under its instance's name, with what follows that name's dot:
    # found at its first repeat
    own: tuple[tuple[str, str], ...] | None = field(default=None, compare=False, repr=False)
    # its plan's steps, their frames from its params' (0), its layers and groups from its
    # first; and the frames they make, its params' too. None: recorded without a plan
    steps: list | None = field(default=None, compare=False, repr=False)
    frames: int = 0
    copies: int = 0                  # the entry copies its expansion took
    levels: int = 1                  # the levels of blocks it holds, its own included

    @classmethod
    def record(cls, graph: _Expander, marks: tuple[int, ...], qualified: str,
               inputs: tuple[str, ...], depth: int, outer_trace: int,
               output: str, root: int, levels: int) -> "_Instance":
        """The expansion since `marks` of the instance `qualified`, whose params are
        frame `root` of the plan being recorded, if one is; `levels`: of blocks in it."""
        layers0, groups0, resolved0, defined0, pieces0, copies0, steps0 = marks
        made = cls(qualified, inputs, depth, outer_trace, layers0, graph.spec.layers[layers0:],
                   graph.spec.groups[groups0:], _added(graph.resolved, resolved0),
                   _added(graph.defined_at, defined0), _added(graph.pieces, pieces0), output,
                   copies=graph.copies - copies0, levels=levels)
        if graph.steps is not None and steps0 >= 0:
            made.steps = [step.moved(-root, -layers0, -groups0) for step in graph.steps[steps0:]]
            made.frames = graph.frames - root
        return made

    def repeat(self, graph: LayerGraph, qualified: str, inputs: tuple[str, ...], depth: int,
               loc: Location, trace: tuple) -> str:
        """Add this expansion again as the instance `qualified`, used at `loc`, whose
        layers' traces end with `trace` (its own use first); returns its output."""
        new = qualified + "."
        # every name the expansion holds, as this instance's: its own under its name, and
        # the producers it read as those this one reads
        names = dict(zip(self.inputs, inputs))
        names[self.qualified] = qualified
        if self.own is None:
            self.own = self._own_names()
        names.update((n, new + tail) for n, tail in self.own)
        name = names.__getitem__

        notes: dict[int, Note] = {}

        def renamed(note: Note) -> Note:
            made = notes.get(id(note))
            if made is None:
                made = notes[id(note)] = Note(note.loc, note.message.replace(
                    f"used here as '{self.qualified}", f"used here as '{qualified}", 1))
            return made

        shift, moved = depth - self.depth, len(graph.spec.layers) - self.first
        add_layer = graph.spec.layers.append
        for layer in self.layers:       # (the instance's own note is the new trace's first)
            inner = layer.trace[:len(layer.trace) - self.outer_trace - 1]
            add_layer(LayerSpec(
                name(layer.name), layer.layer, tuple(map(name, layer.inputs)), layer.loc,
                layer.arg_loc, layer.depth + shift,
                (*map(renamed, inner), *trace) if inner else trace,
                layer.trainable, layer.frozen,
                {t: name(s) for t, s in layer.tied.items()} if layer.tied else {}))
        own = True      # the first group is the instance's own: used at `loc`, and which
        for group in self.groups:      # copy of a series it is, if any, its user says
            graph.spec.groups.append(Group(
                name(group.name), group.type_name, group.kind, group.depth + shift,
                loc if own else group.loc, group.first + moved, group.end + moved,
                name(group.output), group.copies, () if own else group.series,
                group.pattern, tuple(map(name, group.inputs))))
            own = False
        for key, value in self.resolved:
            graph.resolved[name(key)] = name(value)
        for key, where in self.defined_at:
            graph.defined_at[name(key)] = where
        for key, held in self.pieces:
            graph.pieces[name(key)] = list(map(name, held))
        return name(self.output)

    def _own_names(self) -> tuple[tuple[str, str], ...]:
        """Every name the expansion holds under its instance's name (layers, their
        inputs and tied sources, groups, resolved names, pieces), with what follows
        that name and its dot."""
        old = self.qualified + "."
        held = {self.output}
        for layer in self.layers:
            held.update((layer.name, *layer.inputs, *layer.tied.values()))
        for group in self.groups:
            held.update((group.name, group.output, *group.inputs))
        held.update(n for pair in self.resolved for n in pair)
        held.update(key for key, _ in self.defined_at)
        for key, pieces in self.pieces:
            held.update((key, *pieces))
        return tuple((n, n[len(old):]) for n in held if n.startswith(old))
