"""From a tree of named layers to reusable blocks, for writing specs and code.

`import` (torch → YAML) and `export` (spec → torch code) both start from a
tree: layers and containers (torch submodules, netcalc blocks), each child
wired to its siblings or to its container's inputs. Containers that are
built alike (the same children, types and wiring) share one template: one
YAML block, one Python class. Arguments that differ between them become the
template's parameters. A container that repeats one child n times in a chain
(`layer1.0`, `layer1.1`) becomes a repeat: YAML's `repeat: n`, torch's
`nn.Sequential`.
"""

from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass, field

from ..errors import SpecError, in_layer
from ..results import Summary
from ..spec.model import ExpandedSpec
from .parameters import Expr

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any, Callable


@dataclass
class Item:
    """A layer, a container, or a repeat, as its parent sees it."""

    name: str                          # local: conv1, 0, downsample
    type: str                          # layer type, container label (BasicBlock), or what repeats
    args: dict[str, Any]               # a layer's arguments; a container's parameter values
    inputs: list[str]                  # siblings' names, or the parent's input names
    children: list["Item"] | None = None   # a container's items; None for layers and repeats
    input_names: list[str] = field(default_factory=list)   # a container's own inputs
    output: str = ""                   # a container: the local reference of its output
    copies: int = 0                    # a repeat: how many chained copies of `type`
    is_template: bool = False          # `type` names a template (a container's, or a repeat's)
    repeated: "Item | None" = None     # a repeat of a container: the first copy
    trainable: bool = True
    literal: bool = False              # a layer whose arguments stay values: no parameters
                                       # and no repeat (export writes tensor ops inline)


@dataclass
class Template:
    """Containers built alike: one YAML block / Python class."""

    name: str
    input_names: list[str]
    output: str
    children: list[Item]               # args given as Param where they vary
    params: dict[str, Any]             # parameter -> the first instance's value


@dataclass(frozen=True)
class Param:
    """An argument that is the template's parameter `name`."""

    name: str


def make_templates(root: Item, reserved: Callable[[str], bool] = lambda name: False
                   ) -> list[Template]:
    """Give every container below `root` a template (inner ones first).

    `reserved(name)`: a name a template may not take (a layer type's, for YAML).
    Afterwards each container item has `type` = its template's name,
    `is_template` set and `args` = its parameter values; a container that
    repeats one child is replaced in its parent by a repeat item.
    """
    instances: dict[tuple, list[Item]] = {}     # signature -> containers built alike
    repeats: list[Item] = []                     # repeats of containers

    def visit(item: Item) -> Item:
        if item.children is None:
            return item
        item.children = [visit(child) for child in item.children]
        if item is root:
            return item
        repeat = _as_repeat(item)
        if repeat is not None:
            repeats.append(repeat)
            return repeat
        instances.setdefault(_signature(item), []).append(item)
        return item

    visit(root)
    taken: set[str] = set()      # lower-cased: YAML's block names ignore case
    templates = []
    for alike in instances.values():
        label, k = alike[0].type, 2
        name = label
        while name.lower() in taken or reserved(name):
            name, k = f"{label}_{k}", k + 1
        taken.add(name.lower())
        templates.append(_template(name, alike))
    for repeat in repeats:
        _refresh(repeat)
    return templates


def _refresh(item: Item) -> None:
    """A repeat of a container takes its template and values, once they are made."""
    if item.repeated is not None:
        item.type, item.args = item.repeated.type, dict(item.repeated.args)


def _signature(item: Item) -> tuple:
    """What containers built alike share: children, their types and wiring."""
    return (item.type, tuple(item.input_names), item.output,
            tuple((c.name, _kind(c), c.copies, tuple(sorted(c.args)), tuple(c.inputs),
                   c.trainable, _freeze(c.args) if c.literal else None)
                  for c in item.children))


def _kind(item: Item):
    """A layer's type, or the identity of the container (repeated) it is."""
    if item.children is not None:
        return ("container", _signature(item))
    if item.repeated is not None:
        return ("repeat", _signature(item.repeated))
    return item.type


def _content(item: Item):
    """Everything about an item, values included: repeats must be exact copies."""
    if item.repeated is not None:
        return (item.copies, _content(item.repeated))
    if item.children is None:
        return (item.type, item.copies, _freeze(item.args), item.trainable)
    return (_signature(item), tuple(_content(c) for c in item.children))


def _as_repeat(item: Item) -> Item | None:
    """A repeat item if `item` chains n exact copies of one child (named 0..n-1)."""
    members = item.children
    if len(item.input_names) != 1 or item.output != str(len(members) - 1):
        return None
    chained = all(m.name == str(k) and m.inputs == [item.input_names[0] if k == 0
                                                    else str(k - 1)]
                  and not m.copies and not m.literal for k, m in enumerate(members))
    if not chained or len({_content(m) for m in members}) != 1:
        return None
    first = members[0]
    container = first if first.children is not None else None
    return Item(item.name, first.type, dict(first.args), item.inputs, copies=len(members),
                is_template=container is not None, repeated=container,
                trainable=first.trainable)


def _template(name: str, instances: list[Item]) -> Template:
    for instance in instances:      # inner templates are made by now
        for child in instance.children:
            _refresh(child)
    first = instances[0]
    names = [c.name for c in first.children]
    # the (child, argument) pairs that vary between instances, grouped when they vary
    # together and mean the same (channels, a stride): one parameter each group
    varying: dict[tuple, list[tuple[str, str]]] = {}
    for index, child in enumerate(first.children):
        for key in child.args:
            values = tuple(_freeze(i.children[index].args[key]) for i in instances)
            # an expression of the model's parameters is passed in: a block's own code
            # cannot name them
            if len(set(values)) > 1 or any(map(has_expression, values)):
                varying.setdefault((values, _meaning(key)), []).append((child.name, key))
    params: dict[str, Any] = {}
    param_of: dict[tuple[str, str], str] = {}
    for members in varying.values():
        param = python_identifier(_param_name(members), params)
        child_name, key = members[0]
        params[param] = first.children[names.index(child_name)].args[key]
        param_of.update((member, param) for member in members)
    children = [Item(c.name, c.type, {k: Param(param_of[(c.name, k)]) if (c.name, k) in param_of
                                      else v for k, v in c.args.items()},
                     list(c.inputs), copies=c.copies, is_template=c.is_template,
                     trainable=c.trainable, literal=c.literal)
                for c in first.children]
    for instance in instances:
        values = {param: instance.children[names.index(child_name)].args[key]
                  for (child_name, key), param in param_of.items()}
        instance.args = {param: values[param] for param in params}
        instance.type, instance.is_template = name, True
    return Template(name, list(first.input_names), first.output, children, params)


# Arguments that all count channels (or features): equal, they are one parameter
_CHANNEL_ARGUMENTS = {"in_channels", "out_channels", "num_features", "num_channels", "channels"}
_FEATURE_ARGUMENTS = {"in_features", "out_features", "embedding_dim", "normalized_shape"}


def _meaning(key: str) -> str:
    if key in _CHANNEL_ARGUMENTS:
        return "channels"
    if key in _FEATURE_ARGUMENTS:
        return "features"
    return key


def _param_name(members: list[tuple[str, str]]) -> str:
    """A parameter's name, from the (child, argument) pairs it stands for."""
    keys = {key for _, key in members}
    return keys.pop() if len(keys) == 1 else _meaning(members[0][1])


def has_expression(value: Any) -> bool:
    """Does a value (a tuple's items too) hold an expression of the model's parameters?"""
    if isinstance(value, (tuple, list)):
        return any(map(has_expression, value))
    return isinstance(value, Expr)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def python_identifier(base: str, taken=()) -> str:
    """`base` as a Python name not in `taken`: conv-1 -> conv_1, 0 -> _0, class -> class_."""
    name = re.sub(r"\W", "_", base)
    if not name or name[0].isdigit():
        name = f"_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_"
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


# -- the spec as a tree ----------------------------------------------------------

def spec_tree(spec: ExpandedSpec, summary: Summary, for_yaml: bool = False,
              literal: Callable[[Any], bool] = lambda layer: False,
              arguments: dict[tuple[str, str], Any] | None = None) -> Item:
    """Layers placed in their blocks and repeats; inputs as each container sees them.

    For Python code (`for_yaml` false) a block's value is what its forward
    returns, and layers keep the arguments netcalc infers (in_channels), as
    torch needs them. For YAML a block's value is its last layer's output,
    another of its layers is read by its dotted path, and inferred arguments
    are left out. `literal(layer)`: its arguments must stay values (Item.literal).
    A block one of whose inner layers is read from outside it cannot be a Python
    class returning one value: for code, its layers join its parent's, named by
    their dotted path (`probe.conv`). `arguments`: (layer, key) -> the value to write
    instead (export's expressions of the constructor's parameters).
    """
    replaced: dict[str, dict[str, Any]] = {}
    for (layer_name, key), value in (arguments or {}).items():
        replaced.setdefault(layer_name, {})[key] = value
    root = Item("", "", {}, [], children=[])
    containers = {"": root}
    groups = sorted((g for g in spec.groups if g.end > g.first), key=lambda g: (g.first, -g.end))
    inlined = set() if for_yaml else _read_from_inside(spec, groups)
    producers_of: dict[str, str] = {}       # a container -> the producer of its output
    open_groups = []
    layer_index = 0
    for spec_layer, result in zip(spec.layers, summary.layers):
        while open_groups and open_groups[-1].end <= layer_index:
            open_groups.pop()
        while groups and groups[0].first == layer_index:
            group = groups.pop(0)
            open_groups.append(group)
            if group.name in inlined:
                continue
            parent = _parent(open_groups[:-1], inlined)
            item = Item(_local(group.name, parent), _label(group), {}, [], children=[])
            containers[parent].children.append(item)
            containers[group.name] = item
            producers_of[group.name] = spec.layers[group.end - 1].name if for_yaml \
                else group.output
        parent = _parent(open_groups, inlined)
        layer = spec_layer.layer
        args = layer.given_arguments()
        implied = layer.inferred(result.input_shapes[0]) if result.input_shapes else {}
        if for_yaml:
            args = {k: v for k, v in args.items() if k not in implied or implied[k] != v}
        else:
            args = {**implied, **args, **replaced.get(spec_layer.name, {})}
        containers[parent].children.append(Item(
            _local(spec_layer.name, parent), layer.type_name, args, [],
            trainable=spec_layer.trainable, literal=literal(layer)))
        layer_index += 1
    _wire(spec, containers, producers_of, for_yaml)
    return root


def _parent(open_groups: list, inlined: set[str]) -> str:
    """The innermost open group that is a container of its own ("" at the top)."""
    return next((g.name for g in reversed(open_groups) if g.name not in inlined), "")


def _read_from_inside(spec: ExpandedSpec, groups: list) -> set[str]:
    """Groups some layer outside reads an inner layer of (not the group's output),
    counting the spec's outputs (layers nothing reads) as read from outside."""
    outputs = {g.name: g.output for g in groups}
    consumed = {p for layer in spec.layers for p in layer.inputs}
    reads = [(layer.name, p) for layer in spec.layers for p in layer.inputs] + \
        [("", layer.name) for layer in spec.layers if layer.name not in consumed]
    found = set()
    for consumer, producer in reads:
        parts = producer.split(".")
        for k in range(1, len(parts)):
            group = ".".join(parts[:k])
            if group in outputs and producer != outputs[group] \
                    and not consumer.startswith(group + "."):
                found.add(group)
    return found


def _input_name(container: Item) -> str:
    """A new input's name: `input` (YAML's default for one), then x1, x2, ...; never a
    child's name, which a reference would mean instead."""
    taken = {c.name for c in container.children} | set(container.input_names)
    candidates = itertools.chain(["input"], (f"x{k}" for k in itertools.count(1)))
    return next(name for name in candidates if name not in taken)


def _label(group) -> str:
    return group.type_name if group.kind == "block" else f"{group.type_name}_stack"


def _local(name: str, parent: str) -> str:
    return name[len(parent) + 1:] if parent else name


def _wire(spec: ExpandedSpec, containers: dict[str, Item], producers_of: dict[str, str],
          inner_references: bool) -> None:
    """Turn each layer's qualified inputs into references its container can see."""
    def parent_of(name: str) -> str:
        parent = name.rpartition(".")[0]
        while parent not in containers:
            parent = parent.rpartition(".")[0]
        return parent

    def local(producer: str, container: str, consumer) -> str:
        """`producer` as `container` sees it: a child, or one of the container's inputs."""
        item = containers[container]
        prefix = f"{container}." if container else ""
        if producer.startswith(prefix) and producer != container:
            path = producer[len(prefix):]
            head = path.split(".")[0]
            # a child container may have a dotted name (its parent's layers joined ours)
            for child in sorted(child_names[container], key=len, reverse=True):
                if path.startswith(child + ".") and producers_of.get(prefix + child) == producer:
                    head = child
                    break
            if head == path or path in child_names[container] \
                    or producers_of.get(prefix + head) == producer:
                return path if path in child_names[container] else head
            if inner_references:
                return path
            raise in_layer(SpecError(f"export writes a block's output only; this layer reads "
                                     f"'{producer}' from inside block '{prefix + head}'"),
                           consumer.name, consumer.layer.type_name, consumer.loc)
        if not container:
            return producer          # a spec input
        sources = sources_of.setdefault(container, [])
        if producer not in sources:
            sources.append(producer)
            item.input_names.append(_input_name(item))
            item.inputs.append(local(producer, parent_of(container), consumer))
        return item.input_names[sources.index(producer)]

    sources_of: dict[str, list[str]] = {}     # a container -> the producers its inputs are
    child_names = {name: {c.name for c in item.children} for name, item in containers.items()}
    root = containers[""]
    root.input_names = [i.name for i in spec.inputs]
    by_name = {}
    for name, item in containers.items():
        for child in item.children:
            by_name[f"{name}.{child.name}" if name else child.name] = child
    for spec_layer in spec.layers:
        container = parent_of(spec_layer.name)
        by_name[spec_layer.name].inputs = [local(p, container, spec_layer)
                                           for p in spec_layer.inputs]
    for name, item in containers.items():
        if name:
            item.output = local(producers_of[name], name, spec.layers[0])
    consumed = {p for layer in spec.layers for p in layer.inputs}
    root.output = ",".join(local(layer.name, "", layer) for layer in spec.layers
                           if layer.name not in consumed)
