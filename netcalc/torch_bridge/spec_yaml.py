"""A spec as YAML in netcalc's canonical forms: what `import` and `export --to yaml`
write.

Block form: containers built alike become one block (templates.py), with
parameters for what differs; chains of one block become `repeat`; `inputs` is
written only where a layer does not read the previous one; arguments netcalc
infers from the input (in_channels, num_features) are left out.

Flat form: every layer in one list, each with every torch argument that is not
its default (inferred ones included) and its `inputs`; qualified names become
`layer1_0_conv1`.
"""

from __future__ import annotations

import json
import math
import re

from ..errors import NetcalcError
from ..layers import lookup
from ..layers.base import yaml_float
from ..render import units
from ..results import Summary
from ..spec.build import usable_name
from ..spec.model import ExpandedSpec
from .templates import Item, Param, make_templates, spec_tree

# Plain scalars YAML 1.1 would read as something other than the string
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_PLAIN = re.compile(r"^[A-Za-z_][\w.-]*$")


def spec_yaml(spec: ExpandedSpec, summary: Summary, origin: str, flat: bool = False) -> str:
    """The spec as YAML, checked: read back, it must give every layer's numbers again."""
    if flat:
        names = _flat_names(spec)
        text = _write_flat(spec, summary, origin, names)
        _check_round_trip(text, summary, names)
    else:
        text = _write(spec, summary, origin)
        _check_round_trip(text, summary)
    return text


def _check_round_trip(text: str, summary: Summary, names: dict[str, str] | None = None) -> None:
    from ..analyze import analyze
    from ..spec import parse_spec

    def numbers(result: Summary, rename=lambda name: name):
        return [(rename(r.name), r.type, tuple(rename(i) for i in r.inputs), r.output_shape,
                 r.params, r.trainable_params, r.macs, r.arguments) for r in result.layers]

    try:
        again = analyze(parse_spec(text, "<written spec>"), batch=summary.batch)
    except NetcalcError as error:
        raise NetcalcError(f"netcalc wrote a spec it cannot read back ({error}); this is a "
                           "netcalc bug, please report it") from None
    if len(again.layers) != len(summary.layers):
        raise NetcalcError(f"netcalc wrote {len(again.layers)} layers for "
                           f"{len(summary.layers)}; this is a netcalc bug, please report it")
    rename = (lambda name: names.get(name, name)) if names else (lambda name: name)
    for written, traced in zip(numbers(again), numbers(summary, rename)):
        if written != traced:
            raise NetcalcError(f"netcalc wrote layer '{traced[0]}' as {written}, not "
                               f"{traced}; this is a netcalc bug, please report it")


def _head(spec: ExpandedSpec, summary: Summary, origin: str) -> list[str]:
    """The comment, name and inputs every form starts with."""
    t = summary.totals
    lines = [f"# {spec.name}: {origin}",
             f"# {units.count(t.params)} parameters, {units.count(t.macs)} MACs for one input "
             f"of {', '.join(units.shape(s[1:]) for s in summary.inputs.values())}.",
             f"name: {_scalar(spec.name)}"]
    if len(spec.inputs) == 1 and spec.inputs[0].name == "input" and not spec.inputs[0].dtype:
        lines.append(f"input: {_value(list(spec.inputs[0].shape))}")
    else:
        lines.append("inputs:")
        for i in spec.inputs:
            shape = _value(list(i.shape))
            lines.append(f"  {_scalar(i.name)}: "
                         + (f"{{shape: {shape}, dtype: {i.dtype}}}" if i.dtype else shape))
    return lines


def _flat_names(spec: ExpandedSpec) -> dict[str, str]:
    """Each qualified name as one flat name: `layer1.0.conv1` -> `layer1_0_conv1`,
    torchvision's `block1-0` -> `block1_0` (suffixed where two would meet)."""
    taken = {i.name for i in spec.inputs}
    names = {}
    for layer in spec.layers:
        base = name = usable_name(layer.name).replace(".", "_")
        k = 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names[layer.name] = name
    return names


def _write_flat(spec: ExpandedSpec, summary: Summary, origin: str,
                names: dict[str, str]) -> str:
    lines = [*_head(spec, summary, origin), "", "layers:"]
    start = 0
    for span in _one_call([s.layer.given_arguments() for s in spec.layers]):
        spec_layer, result = spec.layers[start], summary.layers[start]
        start += span
        layer = spec_layer.layer
        implied = layer.inferred(result.input_shapes[0]) if result.input_shapes else {}
        fields = {"type": layer.type_name, "name": names[spec_layer.name],
                  **implied, **layer.given_arguments()}
        if not spec_layer.trainable and result.params:
            fields["trainable"] = False
        if spec_layer.inputs:
            fields["inputs"] = [names.get(i, i) for i in spec_layer.inputs]
        if spec_layer.tied:                  # only a weight is ever tied
            fields["tie_weight"] = names[spec_layer.tied["weight"]]
        if span > 1:
            fields = _pieces_as_one(fields, [names[s.name]
                                             for s in spec.layers[start - span:start]])
        lines.append("  - {" + ", ".join(f"{_scalar(k)}: {_value(v)}"
                                         for k, v in fields.items()) + "}")
    return "\n".join(lines) + "\n"


def _write(spec: ExpandedSpec, summary: Summary, origin: str) -> str:
    root = spec_tree(spec, summary, for_yaml=True)
    templates = make_templates(root, reserved=lambda name: lookup(name) is not None)
    lines = _head(spec, summary, origin)
    if templates:
        lines += ["", "blocks:"]
        for template in templates:
            lines.append(f"  {_scalar(template.name)}:")
            if template.input_names != ["input"]:
                lines.append(f"    inputs: {_value(template.input_names)}")
            if template.params:
                lines.append(f"    params: {_value(template.params)}")
            lines.append("    layers:")
            lines += [f"      - {entry}" for entry in
                      _entries(template.children, template.input_names)]
    lines += ["", "layers:"]
    lines += [f"  - {entry}" for entry in _entries(root.children, root.input_names)]
    return "\n".join(lines) + "\n"


def _one_call(args: list[dict]) -> list[int]:
    """How many entries each written entry takes: the pieces of one recurrent call
    (piece 0, then `same_call` pieces) become one, `name: [out, h_n, c_n]`."""
    spans, k = [], 0
    while k < len(args):
        n = 1
        if args[k].get("piece") == 0:
            while k + n < len(args) and args[k + n].get("same_call"):
                n += 1
        spans.append(n)
        k += n
    return spans


def _pieces_as_one(fields: dict, names: list[str]) -> dict:
    """An entry of every piece: its names listed, neither `piece` nor `same_call`."""
    fields = {k: v for k, v in fields.items() if k not in ("piece", "same_call")}
    fields["name"] = names
    return fields


def _entries(children: list[Item], input_names: list[str]) -> list[str]:
    entries = []
    previous = input_names[0] if len(input_names) == 1 else None
    start = 0
    for span in _one_call([child.args for child in children]):
        child, start = children[start], start + span
        fields = {"type": child.type, "name": child.name}
        fields.update(child.args)
        if span > 1:
            fields = _pieces_as_one(fields, [c.name for c in children[start - span:start]])
        if child.copies:
            fields["repeat"] = child.copies
        if not child.trainable:
            fields["trainable"] = False
        if child.inputs != [previous] and child.inputs:    # none: a learned tensor
            fields["inputs"] = child.inputs
        entries.append("{" + ", ".join(f"{_scalar(k)}: {_value(v)}"
                                       for k, v in fields.items()) + "}")
        previous = child.name if span == 1 else None     # pieces: the next names one
    return entries


def _value(value) -> str:
    if isinstance(value, Param):
        return f'"${{{value.name}}}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_value(v)}" for k, v in value.items()) + "}"
    return _scalar(str(value))


def _scalar(text: str) -> str:
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _float(value: float) -> str:
    """YAML 1.1 floats: 1e-05 would read as a string; 1.0e-05 is a number."""
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if math.isnan(value):
        return ".nan"
    return yaml_float(repr(value))
