"""The whole spec as one torch module, with netcalc's qualified names.

Each layer becomes the module `build_layer` makes, placed at its qualified
name (`layer1.0.conv1`) under containers for the blocks and repeats, so that
`named_modules()` lists exactly the spec's names. `forward` runs the layers
in the spec's order and frees each tensor after its last consumer.
"""

from __future__ import annotations

from ..errors import SpecError, in_layer
from ..results import Summary
from ..spec.model import ExpandedSpec
from . import import_torch
from .build import build_layer

_SPEC_MODULE = None


def build_model(spec: ExpandedSpec, summary: Summary):
    """A `torch.nn.Module` equivalent to `spec` (for the input shapes `summary` used)."""
    check_module_names(spec)
    torch = import_torch()
    modules = [build_layer(spec_layer.layer.for_batch(summary.batch), result.input_shapes)
               for spec_layer, result in zip(spec.layers, summary.layers)]
    by_name = {spec_layer.name: module for spec_layer, module in zip(spec.layers, modules)}
    for spec_layer, module in zip(spec.layers, modules):
        for tensor, source in spec_layer.tied.items():     # lm_head.weight = wte.weight
            setattr(module, tensor, getattr(by_name[source], tensor))
    for index, spec_layer in enumerate(spec.layers):
        # a later piece of one call (rnn, lstm, gru) reads what its entry's first piece's
        # module, `piece` layers back, returned: the module runs once
        if getattr(spec_layer.layer, "same_call", False):
            modules[index].follow(modules[index - spec_layer.layer.piece])
    return _spec_module(torch)(spec, modules, list(summary.outputs))


def check_module_names(spec: ExpandedSpec) -> None:
    """torch cannot hold a child module named `training` (every module's own flag)."""
    for spec_layer in spec.layers:
        if "training" in spec_layer.name.split("."):
            raise in_layer(SpecError("torch cannot name a submodule 'training' (nn.Module "
                                     "keeps its train/eval flag under that name): rename it"),
                           spec_layer.name, spec_layer.layer.type_name, spec_layer.loc,
                           spec_layer.trace)


def _spec_module(torch):
    global _SPEC_MODULE
    if _SPEC_MODULE is None:
        class SpecModule(torch.nn.Module):
            """Runs a netcalc spec's layers in order; inputs are passed positionally."""

            def __init__(self, spec: ExpandedSpec, modules: list, outputs: list[str]):
                super().__init__()
                self.spec_name = spec.name
                self.input_names = [i.name for i in spec.inputs]
                self.output_names = outputs
                self.steps = []       # (name, module, input names, names to free after)
                last_use = {}
                for index, spec_layer in enumerate(spec.layers):
                    for name in spec_layer.inputs:
                        last_use[name] = index
                kept = set(outputs)
                for index, (spec_layer, module) in enumerate(zip(spec.layers, modules)):
                    _place(self, spec_layer.name.split("."), module)
                    done = tuple(n for n in dict.fromkeys(spec_layer.inputs)
                                 if last_use[n] == index and n not in kept)
                    self.steps.append((spec_layer.name, module, spec_layer.inputs, done))

            def forward(self, *inputs):
                values = dict(zip(self.input_names, inputs))
                for name, module, input_names, done in self.steps:
                    values[name] = module(*(values[n] for n in input_names))
                    for finished in done:
                        del values[finished]
                outputs = tuple(values[name] for name in self.output_names)
                return outputs[0] if len(outputs) == 1 else outputs

            def layer_modules(self) -> dict:
                """Each spec layer's module, by qualified name (`get_submodule` would
                stop at a layer named like a method, `forward`)."""
                return {name: module for name, module, _, _ in self.steps}

            def extra_repr(self) -> str:
                return f"spec={self.spec_name!r}"

        _SPEC_MODULE = SpecModule
    return _SPEC_MODULE


def _place(root, path: list[str], module) -> None:
    """Put `module` at `path` under `root`, making plain containers on the way.

    `_modules` is written directly: a spec may name a layer `forward` or
    `training`, which `add_module` refuses as clashing with an attribute.
    """
    import torch

    parent = root
    for part in path[:-1]:
        child = parent._modules.get(part)
        if child is None:
            child = parent._modules[part] = torch.nn.Module()
        parent = child
    parent._modules[path[-1]] = module
