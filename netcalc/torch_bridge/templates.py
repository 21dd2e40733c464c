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

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError, in_layer
from ..results import Summary
from ..spec.model import ExpandedSpec


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


def make_templates(root: Item) -> list[Template]:
    """Give every container below `root` a template (inner ones first).

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
    labels: dict[str, int] = {}
    templates = []
    for alike in instances.values():
        label = alike[0].type
        labels[label] = labels.get(label, 0) + 1
        name = label if labels[label] == 1 else f"{label}_{labels[label]}"
        templates.append(_template(name, alike))
    for repeat in repeats:      # a repeated container's template and values are known now
        if repeat.repeated is not None:
            repeat.type, repeat.args = repeat.repeated.type, dict(repeat.repeated.args)
    return templates


def _signature(item: Item) -> tuple:
    """What containers built alike share: children, their types and wiring."""
    return (item.type, tuple(item.input_names), item.output,
            tuple((c.name, _kind(c), c.copies, tuple(sorted(c.args)), tuple(c.inputs))
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
        return (item.type, item.copies, _freeze(item.args))
    return (_signature(item), tuple(_content(c) for c in item.children))


def _as_repeat(item: Item) -> Item | None:
    """A repeat item if `item` chains n exact copies of one child (named 0..n-1)."""
    members = item.children
    if len(item.input_names) != 1 or item.output != str(len(members) - 1):
        return None
    chained = all(m.name == str(k) and m.inputs == [item.input_names[0] if k == 0
                                                    else str(k - 1)]
                  and not m.copies for k, m in enumerate(members))
    if not chained or len({_content(m) for m in members}) != 1:
        return None
    first = members[0]
    container = first if first.children is not None else None
    return Item(item.name, first.type, dict(first.args), item.inputs, copies=len(members),
                is_template=container is not None, repeated=container)


def _template(name: str, instances: list[Item]) -> Template:
    for instance in instances:      # repeats of containers: their template is made by now
        for child in instance.children:
            if child.repeated is not None:
                child.type, child.args = child.repeated.type, dict(child.repeated.args)
    first = instances[0]
    names = [c.name for c in first.children]
    # the (child, argument) pairs that vary between instances, grouped when they vary together
    varying: dict[tuple, list[tuple[str, str]]] = {}
    for index, child in enumerate(first.children):
        for key in child.args:
            values = tuple(_freeze(i.children[index].args[key]) for i in instances)
            if len(set(values)) > 1:
                varying.setdefault(values, []).append((child.name, key))
    params: dict[str, Any] = {}
    param_of: dict[tuple[str, str], str] = {}
    for members in varying.values():
        param = _identifier(_param_name(members), params)
        child_name, key = members[0]
        params[param] = first.children[names.index(child_name)].args[key]
        param_of.update((member, param) for member in members)
    children = [Item(c.name, c.type, {k: Param(param_of[(c.name, k)]) if (c.name, k) in param_of
                                      else v for k, v in c.args.items()},
                     list(c.inputs), copies=c.copies, is_template=c.is_template)
                for c in first.children]
    for instance in instances:
        values = {param: instance.children[names.index(child_name)].args[key]
                  for (child_name, key), param in param_of.items()}
        instance.args = {param: values[param] for param in params}
        instance.type, instance.is_template = name, True
    return Template(name, list(first.input_names), first.output, children, params)


# Arguments that all count channels (or features): equal, they are one parameter
_CHANNEL_ARGUMENTS = {"in_channels", "out_channels", "num_features", "num_channels"}
_FEATURE_ARGUMENTS = {"in_features", "out_features", "embedding_dim", "normalized_shape"}


def _param_name(members: list[tuple[str, str]]) -> str:
    """A parameter's name, from the (child, argument) pairs it stands for."""
    keys = {key for _, key in members}
    if len(keys) == 1:
        return keys.pop()
    if keys <= _CHANNEL_ARGUMENTS:
        return "channels"
    if keys <= _FEATURE_ARGUMENTS:
        return "features"
    child, key = members[0]
    return f"{key}_{child}"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _identifier(base: str, taken) -> str:
    name = re.sub(r"\W", "_", base)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"p_{name}"
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


# -- the spec as a tree ----------------------------------------------------------

def spec_tree(spec: ExpandedSpec, summary: Summary, inferred: bool = True,
              inner_references: bool = False) -> Item:
    """Layers placed in their blocks and repeats; inputs as each container sees them.

    `inferred`: keep the arguments netcalc infers (in_channels), as torch needs them.
    `inner_references`: a layer may read a layer inside another block by its
    dotted path (YAML can say so; Python code reads only a block's output).
    """
    root = Item("", "", {}, [], children=[])
    containers = {"": root}
    groups = sorted((g for g in spec.groups if g.end > g.first), key=lambda g: (g.first, -g.end))
    producers_of: dict[str, str] = {}       # a container -> the producer of its output
    open_groups = []
    layer_index = 0
    for spec_layer, result in zip(spec.layers, summary.layers):
        while open_groups and open_groups[-1].end <= layer_index:
            open_groups.pop()
        while groups and groups[0].first == layer_index:
            group = groups.pop(0)
            parent = open_groups[-1].name if open_groups else ""
            item = Item(_local(group.name, parent), _label(group), {}, [], children=[])
            containers[parent].children.append(item)
            containers[group.name] = item
            producers_of[group.name] = group.output
            open_groups.append(group)
        parent = open_groups[-1].name if open_groups else ""
        layer = spec_layer.layer
        args = layer.given_arguments()
        if inferred:
            args = {**layer.inferred(result.input_shapes[0]), **args}
        else:
            implied = layer.inferred(result.input_shapes[0])
            args = {k: v for k, v in args.items() if k not in implied or implied[k] != v}
        containers[parent].children.append(Item(_local(spec_layer.name, parent),
                                                layer.type_name, args, []))
        layer_index += 1
    _wire(spec, containers, producers_of, inner_references)
    return root


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
            if head == path or producers_of.get(prefix + head) == producer:
                return head
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
            # one input is `input`, as a YAML block's default; more are x1, x2, ...
            item.input_names.append(f"x{len(sources) - 1}" if len(sources) > 1 else "input")
            item.inputs.append(local(producer, parent_of(container), consumer))
        return item.input_names[sources.index(producer)]

    sources_of: dict[str, list[str]] = {}     # a container -> the producers its inputs are
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
