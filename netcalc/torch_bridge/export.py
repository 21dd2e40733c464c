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
from .model import check_module_names
from .templates import Item, Param, Template, make_templates, spec_tree


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
