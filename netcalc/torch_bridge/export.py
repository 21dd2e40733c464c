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
from ..layers import lookup
from ..layers.tensor import TensorOp
from ..render import units
from ..results import Summary
from ..spec.model import ExpandedSpec
from .build import OWN_MODULES
from .model import check_module_names
from .parameters import ConstructorParams, Expr, Variant, constructor_params
from .templates import (Item, Param, Template, has_expression, make_templates,
                        python_identifier, spec_tree)


def export_torch(spec: ExpandedSpec, summary: Summary, variant: Variant | None = None) -> str:
    """The spec as Python source. `variant(params)`: the spec expanded and analyzed at
    other values of its top-level params, to find the layer arguments that follow them
    (then the model class takes those params; without it every value is written)."""
    check_module_names(spec)

    def literal(layer) -> bool:   # tensor operations are written inline in forward
        return isinstance(layer, TensorOp)

    params = constructor_params(spec, summary, variant, literal) \
        if variant is not None and spec.params else ConstructorParams()
    root = spec_tree(spec, summary, literal=literal, arguments=params.arguments)
    templates = make_templates(root)
    class_names = _class_names([t.name for t in templates])
    model_class = _unique_class_name(spec.name or "Model", set(class_names.values()))
    batch_readers = _batch_readers(templates)
    classes = [_class_code(class_names[t.name], t, class_names, batch_readers)
               for t in templates]
    top = Template(model_class, root.input_names, root.output, root.children, params.defaults)
    shapes = ", ".join(f"{name!r}: {tuple(summary.inputs[name][1:])}" for name in summary.inputs)
    dtypes = ", ".join(f"{name!r}: torch.{dtype}" for name, dtype in summary.input_dtypes.items())
    t = summary.totals
    own = [source for name, source in OWN_MODULES.items()
           if any(lookup(layer.layer.type_name).torch_class == name for layer in spec.layers)]
    header = (f"# {_one_line(spec.name)}: exported by netcalc {__version__} from "
              f"{_one_line(spec.file)}\n"
              f"# {units.count(t.params)} parameters, {units.count(t.macs)} MACs for one input "
              f"of {', '.join(units.shape(s[1:]) for s in summary.inputs.values())}.\n"
              f"# Check it with: netcalc verify {_one_line(spec.file)}\n"
              f"{_params_comment(params, model_class)}\n"
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
    top_class = _class_code(model_class, top, class_names, batch_readers, top=True)
    # tied weights, once every module exists: `self.lm_head.weight = self.wte.weight`
    ties = [f"        {_attribute(layer.name)}.{tensor} = {_attribute(source)}.{tensor}"
            for layer in spec.layers for tensor, source in layer.tied.items()]
    if ties:
        init, forward = top_class.split("\n\n    def forward", 1)
        top_class = "\n".join([init, *ties]) + "\n\n    def forward" + forward
    return header + "\n\n\n".join([*own, *classes, top_class]) \
        + footer


def _params_comment(params: ConstructorParams, model_class: str) -> str:
    """What the class takes of the spec's params, and why the others stay fixed."""
    lines = []
    if params.defaults:
        taken = ", ".join(f"{name}={value}" for name, value in params.defaults.items())
        lines.append(f"# {model_class}({taken}) takes the spec's params.")
    lines += [f"# {name} stays {value} here: {params.fixed[name]}."
              for name, value in params.defaults_of_fixed().items()]
    return "".join(f"{line}\n" for line in lines)


def _one_line(text: str) -> str:
    """Text for a comment line."""
    return " ".join(str(text).split())


def _class_names(labels: list[str]) -> dict[str, str]:
    """Each template a distinct CamelCase class name."""
    names: dict[str, str] = {}
    for label in labels:
        names[label] = _unique_class_name(label, set(names.values()))
    return names


def _unique_class_name(label: str, taken: set[str]) -> str:
    base = _class_name(label)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    return name


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


def _attribute(path: str) -> str:
    """How a module's code reaches its child `path` (`conv1`, or `probe.conv` in a
    block whose layers joined its parent's)."""
    code = "self"
    for name in path.split("."):
        if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") \
                and name not in _MODULE_ATTRIBUTES:
            code += f".{name}"
        else:
            code += f"._modules[{name!r}]"
    return code


def _class_name(label: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", label)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Block"
    return f"Net{name}" if name[0].isdigit() else name


def _source(value) -> str:
    """A value as code: a parameter by name, an expression of the model's parameters as
    written (`2 * width`), a tuple of them item by item."""
    if isinstance(value, Param):
        return value.name
    if isinstance(value, Expr):
        return value.code
    if isinstance(value, (tuple, list)) and has_expression(value):
        items = ", ".join(map(_source, value))
        return f"({items},)" if isinstance(value, tuple) and len(value) == 1 else \
            f"({items})" if isinstance(value, tuple) else f"[{items}]"
    return repr(value)


def _default(value) -> str:
    """A block class's default for a parameter: expressions at the spec's values."""
    if isinstance(value, Expr):
        return repr(value.value)
    if isinstance(value, (tuple, list)):
        return repr(type(value)(v.value if isinstance(v, Expr) else v for v in value))
    return _source(value)


def _sequential_shaped(template: Template) -> bool:
    return all(c.name == str(k) and c.inputs == ([template.input_names[0]] if k == 0
                                                 else [str(k - 1)])
               for k, c in enumerate(template.children)) \
        and len(template.input_names) == 1 and template.output == str(len(template.children) - 1)


def _module_code(item: Item, class_names: dict[str, str]) -> str | None:
    """The constructor call making `item`'s module; None for tensor operations."""
    keywords = ", ".join(f"{k}={_source(v)}" for k, v in item.args.items())
    if item.is_template:
        call = f"{class_names[item.type]}({keywords})"
    else:
        cls = lookup(item.type)
        if issubclass(cls, TensorOp) or item.args.get("same_call"):
            return None          # written inline; a later piece of one call: no module
        if getattr(cls, "one_call", False):       # rnn, lstm, gru: forward picks the pieces
            keywords = ", ".join(f"{k}={_source(v)}" for k, v in item.args.items()
                                 if k != "piece")
        torch_class = cls.torch_class or cls.__name__
        call = f"{'' if torch_class in OWN_MODULES else 'nn.'}{torch_class}({keywords})"
    if not item.trainable:
        call += ".requires_grad_(False)"      # trainable: false
    if item.copies:
        return f"nn.Sequential(*({call} for _ in range({item.copies})))"
    return call


def _reads_batch(item: Item) -> bool:
    """A layer whose code reads the run's batch (expand(batch, ...))."""
    cls = None if item.is_template else lookup(item.type)
    return cls is not None and issubclass(cls, TensorOp) and cls.reads_batch(item.args)


def _batch_readers(templates: list[Template]) -> set[str]:
    """The templates whose forward needs the batch, directly or through a child's."""
    readers: set[str] = set()
    changed = True
    while changed:
        changed = False
        for t in templates:
            if t.name not in readers and any(
                    _reads_batch(c) or c.is_template and c.type in readers for c in t.children):
                readers.add(t.name)
                changed = True
    return readers


def _class_code(class_name: str, template: Template, class_names: dict[str, str],
                batch_readers: set[str], top: bool = False) -> str:
    signature = "".join(f", {p}={_default(v)}" for p, v in template.params.items())
    modules = [_module_code(c, class_names) for c in template.children]
    if _sequential_shaped(template) and all(modules) and template.name not in batch_readers:
        listed = ",\n            ".join(modules)
        return (f"class {class_name}(nn.Sequential):\n"
                    f"    def __init__(self{signature}):\n"
                    f"        super().__init__(\n            {listed},\n        )")
    init = [f"class {class_name}(nn.Module):", f"    def __init__(self{signature}):",
            "        super().__init__()"]
    holders = set()
    for child, module in zip(template.children, modules):
        if module is None:
            continue
        parts = child.name.split(".")
        for k in range(1, len(parts)):          # plain modules holding an inlined block
            holder = ".".join(parts[:k])
            if holder not in holders:
                holders.add(holder)
                init.append(f"        {_attribute(holder)} = nn.Module()")
        init.append(f"        {_attribute(child.name)} = {module}")
    forward = _forward_code(template, batch_readers, top)
    return "\n".join(init) + "\n\n" + forward


# names forward's code uses for itself
_RESERVED = {"self", "torch", "nn", "x", "batch"}


def _forward_code(template: Template, batch_readers: set[str], top: bool) -> str:
    """forward's source. The batch, where a layer reads it, comes from the model's first
    input (`batch = x.shape[0]`) and is passed down to the blocks that need it."""
    taken = set(_RESERVED)
    variables = {}
    for name in template.input_names:
        variables[name] = "x" if len(template.input_names) == 1 else \
            python_identifier(name, taken)
        taken.add(variables[name])
    uses: dict[str, int] = {}
    for child in template.children:
        for ref in child.inputs:
            uses[ref] = uses.get(ref, 0) + 1
    outputs = template.output.split(",")
    for ref in outputs:
        uses[ref] = uses.get(ref, 0) + 1
    takes_batch = not top and template.name in batch_readers
    lines = [f"    def forward(self, {', '.join(variables.values())}"
             f"{', batch' if takes_batch else ''}):"]
    first_input = variables[template.input_names[0]]
    uses_batch = False
    previous = template.input_names[0] if len(template.input_names) == 1 else None
    for index, child in enumerate(template.children):
        if child.args.get("same_call"):     # assigned where its entry's first piece is
            previous = child.name
            continue
        xs = [variables[ref] for ref in child.inputs]
        chained = child.inputs == [previous] and uses.get(previous) == 1 \
            and variables.get(previous) == "x"
        target = "x" if chained else python_identifier(child.name, taken)
        taken.add(target)
        cls = None if child.is_template else lookup(child.type)
        if cls is not None and getattr(cls, "one_call", False):
            # rnn, lstm, gru: one call, its pieces unpacked: `out, (h_n, c_n) = self.lstm(x)`
            targets = {child.args.get("piece") or 0: target}
            for later in template.children[index + 1:]:
                if not later.args.get("same_call"):
                    break
                targets[later.args["piece"]] = variables[later.name] = \
                    python_identifier(later.name, taken)
                taken.add(variables[later.name])
            lines.append(f"        {cls.unpacked(targets)} = "
                         f"{cls.torch_call(_attribute(child.name), xs)}")
            variables[child.name] = target
            previous = child.name
            continue
        if cls is not None and issubclass(cls, TensorOp):
            args = {k: repr(v) for k, v in cls.defaults().items()}
            args.update({k: _source(v) for k, v in child.args.items()})
            value = cls.torch_code(xs, args)
            uses_batch = uses_batch or cls.reads_batch(child.args)
        elif cls is not None:
            value = cls.torch_call(_attribute(child.name), xs)
        elif child.type in batch_readers:
            uses_batch = True
            if child.copies:       # nn.Sequential passes one argument: loop instead
                if target != xs[0]:
                    lines.append(f"        {target} = {xs[0]}")
                lines += [f"        for block in {_attribute(child.name)}:",
                          f"            {target} = block({target}, batch)"]
                variables[child.name], previous = target, child.name
                continue
            value = f"{_attribute(child.name)}({', '.join(xs)}, batch)"
        else:
            value = f"{_attribute(child.name)}({', '.join(xs)})"
        lines.append(f"        {target} = {value}")
        variables[child.name] = target
        previous = child.name
    returned = ", ".join(variables[ref] for ref in outputs)
    lines.append(f"        return {returned}")
    if uses_batch and not takes_batch:
        lines.insert(1, f"        batch = {first_input}.shape[0]")
    return "\n".join(lines)
