"""`netcalc check`: each answer ✓ or ✗, the right value, the usual mistake and the
working, then the score. Renders grading.Graded; computes nothing."""

from __future__ import annotations

import json

from ..i18n import message
from .explain import remark_text, step_lines
from .units import width as display_width


def _value(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return f"{value:,}"


def _what(item, lang: str) -> str:
    label = message(lang, "total") if item.layer is None else item.layer
    return f"{label} {message(lang, item.quantity + '_q')}"


def plain_text(name: str, items: list, lang: str) -> str:
    width = max((display_width(_what(i, lang)) for i in items), default=0)
    lines = []
    for item in items:
        mark = "✓" if item.correct else "✗"
        what = _what(item, lang)
        line = f"{mark} {what}{' ' * (width - display_width(what))}  {_value(item.given)}"
        if not item.correct and item.expected is not None:
            line += f"  {message(lang, 'expected_value', value=_value(item.expected))}"
        lines.append(line)
        if item.correct:
            continue
        if item.hint:
            lines.append(f"    {remark_text(lang, item.hint)}")
        for step in item.working:
            lines += step_lines(lang, step, indent="    ")
    lines.append(message(lang, "score_line", correct=sum(i.correct for i in items),
                         total=len(items), name=name))
    return "\n".join(lines) + "\n"


def render_json(items: list, lang: str) -> str:
    def plain(value):
        return list(value) if isinstance(value, tuple) else value

    data = {"items": [{"layer": i.layer, "quantity": i.quantity, "given": plain(i.given),
                       "expected": plain(i.expected), "correct": i.correct,
                       "hint": remark_text(lang, i.hint) if i.hint else None,
                       "hint_key": i.hint.key if i.hint else None,
                       "working": [f"{s.formula} = {s.working}" for s in i.working]}
                      for i in items],
            "score": {"correct": sum(i.correct for i in items), "total": len(items)}}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
