"""`netcalc explain`: each layer's worked computation, as text, markdown or JSON,
in the reader's language. Renders working.LayerWorking; computes nothing."""

from __future__ import annotations

import json

from ..i18n import message
from ..working import LayerWorking, Step, shape_text
from .units import width


def remark_text(lang: str, remark) -> str:
    return message(lang, remark.key, **remark.args)


def quantity(lang: str, step: Step) -> str:
    """`params` in the reader's words; H_out and such stay symbols."""
    if step.quantity.startswith("dim "):
        return message(lang, "dim", dim=step.quantity[4:])
    return message(lang, step.quantity) if step.quantity in ("params", "MACs", "buffers",
                                                             "features", "output",
                                                             "KV cache") \
        else step.quantity


def _arrow(working: LayerWorking) -> str:
    """What the layer takes and gives; empty for a figure of the whole model (KV cache)."""
    if not working.input_shapes and not working.output_shape:
        return ""
    ins = ", ".join(shape_text(s) for s in working.input_shapes) or "∅"
    return f"{ins} → {shape_text(working.output_shape)}"


def no_steps(working: LayerWorking) -> str:
    """Why a layer shows no steps: nothing to work out (its input's shape, nothing
    counted), or a type whose working netcalc does not write yet (the arrow and the
    summary still give its numbers)."""
    unchanged = working.input_shapes[:1] == (working.output_shape,)
    if unchanged and not working.params and not working.macs:
        return "no_working"
    return "no_working_written"


def step_lines(lang: str, step: Step, indent: str = "  ") -> list[str]:
    """`H_out = formula` then `      = working`, then the remarks."""
    label = quantity(lang, step)
    pad = " " * width(label)
    lines = [f"{indent}{label} = {step.formula}", f"{indent}{pad} = {step.working}"]
    lines += [f"{indent}{pad}   {remark_text(lang, r)}" for r in step.remarks]
    return lines


def plain_text(workings: list[LayerWorking], lang: str) -> str:
    blocks = []
    for w in workings:
        lines = [f"{w.name} · {w.type} · {w.notation}", *([f"  {_arrow(w)}"] if _arrow(w) else [])]
        for step in w.steps:
            lines += step_lines(lang, step)
        if not w.steps:
            lines.append(f"  {message(lang, no_steps(w))}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def markdown(workings: list[LayerWorking], lang: str) -> str:
    parts = []
    for w in workings:
        lines = [f"### {w.name} ({w.type}: {w.notation})", "",
                 *([f"`{_arrow(w)}`", ""] if _arrow(w) else [])]
        for step in w.steps:
            label = quantity(lang, step)
            lines.append(f"- `{label} = {step.formula} = {step.working}`")
            lines += [f"  - {remark_text(lang, r)}" for r in step.remarks]
        if not w.steps:
            lines.append(message(lang, no_steps(w)))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def render_json(workings: list[LayerWorking], lang: str) -> str:
    data = {"language": lang, "layers": [{
        "name": w.name, "type": w.type, "notation": w.notation,
        "input_shapes": [list(s) for s in w.input_shapes],
        "output_shape": list(w.output_shape), "params": w.params, "macs": w.macs,
        "steps": [{"quantity": s.quantity, "formula": s.formula, "working": s.working,
                   "value": list(s.value) if isinstance(s.value, tuple) else s.value,
                   "remarks": [{"key": r.key, "args": r.args, "text": remark_text(lang, r)}
                               for r in s.remarks]} for s in w.steps]}
        for w in workings]}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def calculation_text(calculation, lang: str, show_working: bool) -> str:
    """A calculator's answer: the layer, its output, params, MACs; the working if asked."""
    result, working = calculation.result, calculation.working
    batched = result.output_shape[0] != 1

    def shown(shape):
        return shape_text(shape if batched else shape[1:])

    lines = [f"{working.notation} ({result.type}) on {shown(result.input_shapes[0])}",
             f"{message(lang, 'output')}: {shown(result.output_shape)}",
             f"{message(lang, 'params')}: {result.params:,}",
             f"{message(lang, 'MACs')}: {result.macs:,} (FLOPs {result.flops:,})"]
    if show_working:
        lines.append("")
        for step in working.steps:
            lines += step_lines(lang, step)
    return "\n".join(lines) + "\n"


def calculation_json(calculation, lang: str, show_working: bool) -> str:
    result = calculation.result
    data = {"type": result.type, "notation": result.notation,
            "arguments": result.arguments, "input_shape": list(result.input_shapes[0]),
            "output_shape": list(result.output_shape), "params": result.params,
            "macs": result.macs, "flops": result.flops}
    if show_working:
        data["steps"] = json.loads(render_json([calculation.working], lang))["layers"][0]["steps"]
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
