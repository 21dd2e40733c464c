"""A spec's top-level `params` as the exported class's constructor arguments.

The expanded spec holds numbers, not the `${...}` they came from, so which
torch arguments follow a param is found the way one finds a function's
slope: expand and analyze the spec again with the param moved, and compare
every layer's arguments. An argument that moves in step, as a·param + b with
whole a and b, is written as that expression (`nn.Linear(512, num_classes)`,
`nn.Conv2d(3, 2 * width, 3)`); a param that changes the layers themselves
(`depth` repeating a block), enters an argument any other way, or a tensor
operation that forward spells out, stays at its value, and the file says so.
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import NetcalcError
from ..results import Summary
from ..spec.model import ExpandedSpec

# what the exported file's __init__ methods read besides their parameters: a parameter
# of that name would hide it (`def __init__(self, nn=8)` breaks every nn.Linear)
_NAMES_THE_CODE_USES = frozenset({"self", "torch", "nn", "x", "batch", *dir(builtins)})

# a variant of the spec at other param values: (expanded, summary)
Variant = Callable[[dict], tuple[ExpandedSpec, Summary]]


@dataclass(frozen=True)
class Expr:
    """An argument as code over the constructor's parameters (`2 * width`), with its
    value at the spec's own params (a block class's default)."""

    code: str
    value: int


@dataclass
class ConstructorParams:
    """What the exported class takes, and why the other params stay fixed."""

    defaults: dict[str, int] = field(default_factory=dict)   # param -> the spec's value
    arguments: dict[tuple[str, str], Any] = field(default_factory=dict)  # (layer, key) -> value
    fixed: dict[str, str] = field(default_factory=dict)      # param -> why it stays
    spec_params: dict[str, Any] = field(default_factory=dict)

    def defaults_of_fixed(self) -> dict[str, Any]:
        return {name: self.spec_params[name] for name in self.fixed}


def constructor_params(spec: ExpandedSpec, summary: Summary, variant: Variant,
                       literal: Callable[[Any], bool]) -> ConstructorParams:
    """Which of the spec's whole-number params become constructor arguments, and every
    layer argument (expressions in place of numbers) that follows them. `literal(layer)`:
    a layer whose arguments forward's code writes as values."""
    found = ConstructorParams(spec_params=dict(spec.params))
    base = _arguments(spec, summary)
    layers = {layer.name: layer.layer for layer in spec.layers}
    slopes: dict[str, dict[tuple, int]] = {}        # param -> leaf -> a
    for name, value in spec.params.items():
        if name in spec.derived_params or type(value) is not int:
            continue
        if name in _NAMES_THE_CODE_USES or keyword.iskeyword(name):
            found.fixed[name] = "the exported code uses that name itself"
            continue
        moved = _slopes(spec, base, variant, name, value)
        if isinstance(moved, str):
            found.fixed[name] = moved
            continue
        if not moved:                  # an input size, say: INPUT_SHAPES holds it
            found.fixed[name] = "no layer's arguments follow it"
            continue
        spelled = next((leaf[0] for leaf in moved if literal(layers[leaf[0]])), None)
        if spelled is not None:
            found.fixed[name] = f"layer '{spelled}' (spelled out in forward) reads it"
            continue
        slopes[name] = moved
    _check_together(spec, base, variant, slopes, found)
    for name in slopes:
        found.defaults[name] = spec.params[name]
    terms: dict[tuple, dict[str, int]] = {}
    for name, moved in slopes.items():
        for leaf, a in moved.items():
            terms.setdefault(leaf, {})[name] = a
    for (layer, key, *path), by_param in terms.items():
        value = _leaf(base[layer][key], path)
        offset = value - sum(a * spec.params[p] for p, a in by_param.items())
        expression = Expr(_code(by_param, offset), value)
        whole = found.arguments.get((layer, key), base[layer][key])
        found.arguments[(layer, key)] = _with_leaf(whole, path, expression)
    return found


def _arguments(spec: ExpandedSpec, summary: Summary) -> dict[str, dict[str, Any]]:
    """Every layer's torch arguments, inferred ones included (as export writes them)."""
    return {layer.name: layer.layer.arguments(result.input_shapes[0] if result.input_shapes
                                              else ())
            for layer, result in zip(spec.layers, summary.layers)}


def _leaves(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    if isinstance(value, (tuple, list)):
        found = {path + ("len",): len(value)}
        for k, item in enumerate(value):
            found.update(_leaves(item, path + (k,)))
        return found
    return {path: value}


def _leaf(value: Any, path: list) -> Any:
    for k in path:
        value = value[k]
    return value


def _with_leaf(value: Any, path: list, leaf: Any) -> Any:
    if not path:
        return leaf
    items = list(value)
    items[path[0]] = _with_leaf(items[path[0]], path[1:], leaf)
    return type(value)(items)


def _probes(value: int) -> list[int]:
    """Values to move a param to, nearest first; doubling keeps divisibility (heads)."""
    candidates = [value + 1, value + 2, value - 1, value - 2, 2 * value, value // 2,
                  3 * value, value // 4, 4 * value]
    return list(dict.fromkeys(c for c in candidates if c >= 1 and c != value))


def _moved(spec: ExpandedSpec, variant: Variant, values: dict) -> dict[str, dict] | str:
    """Every layer's arguments at other param values; "invalid" where the spec is not
    valid there, "layers" where its layers differ (names, types)."""
    try:
        other, summary = variant(values)
    except NetcalcError:
        return "invalid"
    if [(layer.name, layer.layer.type_name) for layer in other.layers] != \
            [(layer.name, layer.layer.type_name) for layer in spec.layers]:
        return "layers"
    return _arguments(other, summary)


def _slopes(spec: ExpandedSpec, base: dict, variant: Variant, name: str,
            value: int) -> dict[tuple, int] | str:
    """leaf (layer, key, *index) -> a, for each argument that moves as a·param + b; or why
    the param must stay at its value."""
    points = []
    for probe in _probes(value):
        moved = _moved(spec, variant, {name: probe})
        if moved == "layers":
            return "it changes the layers themselves"
        if moved != "invalid":
            points.append((probe, moved))
            if len(points) == 2:
                break
    if len(points) < 2:
        return "the spec is valid at no two other values of it nearby"
    slopes = {}
    for layer, arguments in base.items():
        for key, whole in arguments.items():
            at = [_leaves(whole)] + [_leaves(moved[layer][key]) for _, moved in points]
            if not at[0].keys() == at[1].keys() == at[2].keys():
                return f"it changes how many values layer '{layer}' gives {key}"
            for path, here in at[0].items():
                there = [leaves[path] for leaves in at[1:]]
                if there == [here, here]:
                    continue
                if path[-1:] == ("len",) or any(type(v) is not int for v in (here, *there)):
                    return f"it changes {key} of layer '{layer}' other than linearly"
                a, rest = divmod(there[0] - here, points[0][0] - value)
                if rest or there[1] - here != a * (points[1][0] - value):
                    return f"it changes {key} of layer '{layer}' other than linearly"
                slopes[(layer, key, *path)] = a
    return slopes


def _check_together(spec: ExpandedSpec, base: dict, variant: Variant,
                    slopes: dict[str, dict[tuple, int]], found: ConstructorParams) -> None:
    """Arguments moved by several params: the sum of their terms must hold with all of
    them moved at once; where it does not, those params stay (and leave `slopes`)."""
    shared = {leaf for moved in slopes.values() for leaf in moved
              if sum(leaf in other for other in slopes.values()) > 1}
    if not shared:
        return
    involved = [name for name, moved in slopes.items() if shared & moved.keys()]
    for step in (1, 2):
        values = {name: spec.params[name] * (1 + step) for name in involved}
        moved = _moved(spec, variant, values)
        if isinstance(moved, str):
            continue
        if all(_leaf(moved[layer][key], path) == _leaf(base[layer][key], path) + sum(
                slopes[p].get((layer, key, *path), 0) * (values[p] - spec.params[p])
                for p in involved) for layer, key, *path in shared):
            return
        break
    for name in involved:
        found.fixed[name] = "it enters an argument together with another param, not as a sum"
        del slopes[name]


def _code(by_param: dict[str, int], offset: int) -> str:
    """a·p + b·q + c as Python: `num_classes`, `2 * width`, `width + 1`, `hidden - 64`."""
    terms = []
    for name, a in by_param.items():
        term = name if abs(a) == 1 else f"{abs(a)} * {name}"
        terms.append(("- " if a < 0 else "+ ") + term if terms else ("-" if a < 0 else "") + term)
    if offset:
        terms.append(f"{'-' if offset < 0 else '+'} {abs(offset)}")
    return " ".join(terms) if terms else str(offset)
