"""`netcalc exercise`'s texts: the question sheet and the working (markdown), the answer
key (YAML, for `netcalc check`) and the filled spec's first line, in the reader's
language. Renders exercises.Sheet; computes nothing."""

from __future__ import annotations

import json

from ..i18n import message
from ..working import n, shape_text
from .explain import markdown as working_steps

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

    from ..exercises import Question, Sheet

# explain's names for the quantities: "params" -> 参数量
_LABELS = {"output": "output", "params": "params", "macs": "MACs", "flops": "flops_q"}


def spec_header(sheet: Sheet, lang: str) -> str:
    return "# " + message(lang, "exercise_spec_header", name=sheet.name, number=sheet.number,
                          seed=sheet.seed) + "\n"


def question_markdown(sheet: Sheet, lang: str) -> str:
    lines = [f"# {_variant_title(sheet, lang)}", ""]
    for name, shape in sheet.inputs:
        lines.append(message(lang, "exercise_input", shape=f"`{shape_text(shape)}`")
                     if len(sheet.inputs) == 1 else
                     message(lang, "exercise_named_input", name=name,
                             shape=f"`{shape_text(shape)}`"))
        lines.append("")
    lines += [message(lang, "exercise_batch_note"), "",
              f"## {message(lang, 'exercise_network')}", ""]
    columns = [message(lang, "exercise_layer"), message(lang, "exercise_type"),
               *([message(lang, "exercise_reads")] if sheet.shows_inputs else []),
               message(lang, "exercise_arguments")]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in sheet.layers:
        arguments = ", ".join(f"{key}={value!r}" for key, value in row.arguments.items())
        cells = [f"`{row.name}`", row.type,
                 *([", ".join(f"`{name}`" for name in row.inputs)] if sheet.shows_inputs
                   else []),
                 arguments]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", f"## {message(lang, 'exercise_questions')}", ""]
    lines += [f"{q.number}. {_question_text(q, lang)}" for q in sheet.questions]
    lines += ["", message(lang, "exercise_answering"), "", "```yaml",
              *_answer_form(sheet.questions), "```"]
    return "\n".join(lines) + "\n"


def answers_yaml(answers: dict, sheet: Sheet, lang: str) -> str:
    """The answers file `netcalc check` reads: a line per layer, a line per total."""
    lines = ["# " + message(lang, "exercise_key_header", name=sheet.name, number=sheet.number,
                            seed=sheet.seed)]
    for key, value in answers.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{quantity}: {_yaml(v)}" for quantity, v in value.items())
            lines.append(f"{_key(key)}: {{{inner}}}")
        else:
            lines.append(f"{_key(key)}: {_yaml(value)}")
    return "\n".join(lines) + "\n"


def working_markdown(sheet: Sheet, lang: str) -> str:
    lines = [f"# {message(lang, 'exercise_answers_title', title=sheet.title, number=sheet.number)}",
             ""]
    for q in sheet.questions:
        lines.append(f"{q.number}. " + message(lang, "exercise_answer_line",
                                                question=_question_text(q, lang),
                                                answer=f"**{_answer_text(q)}**"))
        if q.parts:
            label = message(lang, _LABELS[q.quantity])
            terms = " + ".join(n(value) for _, value in q.parts) or "0"
            lines.append(f"   `{label} = {terms} = {n(q.answer)}`")
    if sheet.workings:
        lines += ["", f"## {message(lang, 'exercise_working')}", "",
                  working_steps(list(sheet.workings), lang).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _variant_title(sheet: Sheet, lang: str) -> str:
    return message(lang, "exercise_variant", title=sheet.title, number=sheet.number)


def _question_text(question: Question, lang: str) -> str:
    if question.layer is None:
        return message(lang, f"ask_total_{question.quantity}")
    return message(lang, f"ask_{question.quantity}", layer=question.layer)


def _answer_text(question: Question) -> str:
    return shape_text(question.answer) if question.quantity == "output" else n(question.answer)


def _answer_form(questions: tuple[Question, ...]) -> list[str]:
    """The answers file to fill in: the keys, the values left blank."""
    lines: list[str] = []
    layers_written = set()
    for q in questions:
        if q.layer is None:
            lines.append(f"total_{q.quantity}:")
        elif q.layer not in layers_written:
            layers_written.add(q.layer)
            lines.append(f"{_key(q.layer)}:")
            lines += [f"  {other.quantity}:" for other in questions if other.layer == q.layer]
    return lines


def _yaml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _key(name: str) -> str:
    """A layer's name as a YAML key: plain where YAML reads it back as that string."""
    import yaml

    try:
        plain = yaml.safe_load(f"{name}: 0")
    except yaml.YAMLError:
        plain = None
    return name if plain == {name: 0} else json.dumps(name, ensure_ascii=False)
