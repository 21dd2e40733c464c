"""`netcalc export --to torch`: the spec as a readable, standalone PyTorch file.

Blocks built alike become one class (arguments that differ between them
become its constructor's parameters); repeats become `nn.Sequential`; add,
mul and concat are spelled out in `forward`. Module names are the spec's
qualified names, so the exported model's `named_modules()` lines up with
netcalc's table. Writing the file needs no torch.
"""

from __future__ import annotations

import keyword
import re

from .. import __version__
from ..errors import SpecError, in_layer
from ..layers import lookup
from ..layers.tensor import TensorOp
from ..render import units
from ..results import Summary
from ..spec.model import ExpandedSpec
from .model import check_module_names
from .templates import Item, Param, Template, make_templates


def export_torch(spec: ExpandedSpec, summary: Summary) -> str:
    check_module_names(spec)
    root = spec_tree(spec, summary)
    templates = make_templates(root)
    classes = [_class_code(t.name, t) for t in templates]
    model_class = _class_name(spec.name or "Model")
    top = Template(model_class, root.input_names, root.output, root.children, {})
    shapes = ", ".join(f"{name!r}: {tuple(summary.inputs[name][1:])}" for name in summary.inputs)
    dtypes = ", ".join(f"{name!r}: torch.{dtype}" for name, dtype in summary.input_dtypes.items())
    t = summary.totals
    header = (f'"""{spec.name}: exported by netcalc {__version__} from {spec.file}.\n\n'
              f"{units.count(t.params)} parameters, {units.count(t.macs)} MACs for one input "
              f"of {', '.join(units.shape(s[1:]) for s in summary.inputs.values())}.\n"
              f'Check it with: netcalc verify {spec.file}\n"""\n\n'
              "import torch\nfrom torch import nn\n\n\n")
    footer = (f"\n\n\nINPUT_SHAPES = {{{shapes}}}     # without the batch dim\n"
              f"INPUT_DTYPES = {{{dtypes}}}\n\n\n"
              "def example_inputs(batch: int = 1) -> list[torch.Tensor]:\n"
              '    """Zeros of the input shapes, in the order forward takes them."""\n'
              "    return [torch.zeros(batch, *shape, dtype=INPUT_DTYPES[name])\n"
              "            for name, shape in INPUT_SHAPES.items()]\n\n\n"
              'if __name__ == "__main__":\n'
              f"    model = {model_class}().eval()\n"
              "    print(model)\n"
              '    print(f"{sum(p.numel() for p in model.parameters()):,} parameters")\n'
              "    with torch.no_grad():\n"
              "        outputs = model(*example_inputs())\n"
              "    print(outputs.shape if isinstance(outputs, torch.Tensor) else\n"
              "          [output.shape for output in outputs])\n")
    return header + "\n\n\n".join([*classes, _class_code(model_class, top)]) + footer


# -- the spec as a tree ----------------------------------------------------------

def spec_tree(spec: ExpandedSpec, summary: Summary) -> Item:
    """Layers placed in their blocks and repeats; inputs as each container sees them."""
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
        args = {**layer.inferred(result.input_shapes[0]), **layer.given_arguments()}
        containers[parent].children.append(Item(_local(spec_layer.name, parent),
                                                layer.type_name, args, []))
        layer_index += 1
    _wire(spec, containers, producers_of)
    return root


def _label(group) -> str:
    return group.type_name if group.kind == "block" else f"{group.type_name}_stack"


def _local(name: str, parent: str) -> str:
    return name[len(parent) + 1:] if parent else name


def _wire(spec: ExpandedSpec, containers: dict[str, Item], producers_of: dict[str, str]) -> None:
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
            raise in_layer(SpecError(f"export writes a block's output only; this layer reads "
                                     f"'{producer}' from inside block '{prefix + head}'"),
                           consumer.name, consumer.layer.type_name, consumer.loc)
        if not container:
            return producer          # a spec input
        sources = sources_of.setdefault(container, [])
        if producer not in sources:
            sources.append(producer)
            item.input_names.append(f"x{len(item.input_names)}")
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


# -- code ------------------------------------------------------------------------

# nn.Module's own attributes (torch 2.13): a child of one of these names would hide it,
# so such children (and non-identifiers like `0`) are reached through `_modules`
_MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu
zero_grad""".split())


def _attribute(name: str) -> str:
    """How a module's code reaches its child `name`."""
    if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") \
            and name not in _MODULE_ATTRIBUTES:
        return f"self.{name}"
    return f"self._modules[{name!r}]"


def _class_name(label: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", label)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Block"
    return f"Net{name}" if name[0].isdigit() else name


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident) or ident in ("self", "torch",
                                                                                   "nn", "x"):
        ident = f"{'_' if ident[:1].isdigit() else ''}{ident}_"
    return ident


def _source(value) -> str:
    if isinstance(value, Param):
        return value.name
    return repr(value)


def _sequential_shaped(template: Template) -> bool:
    return all(c.name == str(k) and c.inputs == ([template.input_names[0]] if k == 0
                                                 else [str(k - 1)])
               for k, c in enumerate(template.children)) \
        and len(template.input_names) == 1 and template.output == str(len(template.children) - 1)


def _module_code(item: Item) -> str | None:
    """The constructor call making `item`'s module; None for tensor operations."""
    keywords = ", ".join(f"{k}={_source(v)}" for k, v in item.args.items())
    if item.is_template:
        call = f"{_class_name(item.type)}({keywords})"
    elif issubclass(lookup(item.type), TensorOp):
        return None
    else:
        call = f"nn.{lookup(item.type).__name__}({keywords})"
    if item.copies:
        return f"nn.Sequential(*({call} for _ in range({item.copies})))"
    return call


def _class_code(name: str, template: Template) -> str:
    class_name = _class_name(name)
    signature = "".join(f", {p}={_source(v)}" for p, v in template.params.items())
    modules = [_module_code(c) for c in template.children]
    if _sequential_shaped(template) and all(modules):
        listed = ",\n            ".join(modules)
        return (f"class {class_name}(nn.Sequential):\n"
                    f"    def __init__(self{signature}):\n"
                    f"        super().__init__(\n            {listed},\n        )")
    init = [f"class {class_name}(nn.Module):", f"    def __init__(self{signature}):",
            "        super().__init__()"]
    for child, module in zip(template.children, modules):
        if module is None:
            continue
        init.append(f"        {_attribute(child.name)} = {module}")
    forward = _forward_code(template)
    return "\n".join(init) + "\n\n" + forward


def _forward_code(template: Template) -> str:
    variables = {name: _identifier(name) if len(template.input_names) > 1 else "x"
                 for name in template.input_names}
    uses: dict[str, int] = {}
    for child in template.children:
        for ref in child.inputs:
            uses[ref] = uses.get(ref, 0) + 1
    outputs = template.output.split(",")
    for ref in outputs:
        uses[ref] = uses.get(ref, 0) + 1
    lines = [f"    def forward(self, {', '.join(variables.values())}):"]
    previous = template.input_names[0] if len(template.input_names) == 1 else None
    for child in template.children:
        xs = [variables[ref] for ref in child.inputs]
        chained = child.inputs == [previous] and uses.get(previous) == 1 \
            and variables.get(previous) == "x"
        target = "x" if chained else _identifier(child.name)
        cls = None if child.is_template else lookup(child.type)
        if cls is not None and issubclass(cls, TensorOp):
            args = {k: repr(v) for k, v in cls.defaults().items()}
            args.update({k: _source(v) for k, v in child.args.items()})
            value = cls.torch_code(xs, args)
        else:
            value = f"{_attribute(child.name)}({', '.join(xs)})"
        lines.append(f"        {target} = {value}")
        variables[child.name] = target
        previous = child.name
    returned = ", ".join(variables[ref] for ref in outputs)
    lines.append(f"        return {returned}")
    return "\n".join(lines)
