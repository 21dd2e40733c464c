"""`netcalc check`: each answer ✓ or ✗ (✓ following through from the student's own
earlier answer), the right value, the usual mistake and the working, then the score;
for a class, the gradebook, the class summary and each student's feedback. Renders
grading.Graded, StudentResult and ClassResult; computes nothing."""

from __future__ import annotations

import json

from ..i18n import message
from .explain import remark_text, step_lines
from .units import pad, width as display_width


def _value(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return repr(value)          # as a malformed answer wrote it: 'big', [1, 2]


def _given(item, lang: str) -> str:
    """The answer as given, or that it was left blank."""
    return _value(item.given) if item.answered else f"({message(lang, 'not_answered')})"


def points_text(points: float) -> str:
    """6.0 -> '6', 6.5 -> '6.5'."""
    return f"{points:g}"


def _what(item, lang: str) -> str:
    """'conv1 params', 'total macs': a question as the output names it (a key that names
    no quantity, as written)."""
    if item.quantity not in _QUANTITY_WORDS:
        return item.quantity if item.layer is None else f"{item.layer} {item.quantity}".rstrip()
    label = message(lang, "total") if item.layer is None else item.layer
    return f"{label} {message(lang, item.quantity + '_q')}"


_QUANTITY_WORDS = ("output", "params", "macs", "flops", "kv_cache")


def _score_line(name: str, score, lang: str) -> str:
    return message(lang, "score_line", correct=points_text(score.points), total=score.total,
                   name=name)


def _mark(item) -> str:
    """✓ (following through too), ✗, or ? for an answer to no question (not scored)."""
    if not item.scored:
        return "?"
    return "✓" if item.correct or item.follow_through else "✗"


def _after(item, lang: str) -> str:
    """What follows the answer on its line: where it follows from, the expected value,
    or that it is not scored."""
    if not item.scored:
        return f"({message(lang, 'not_scored')})"
    if item.follow_through:
        return message(lang, "follows_from", item=item.follow_through)
    if not item.correct and item.expected is not None:
        return message(lang, "expected_value", value=_value(item.expected))
    return ""


def warnings(path: str, items, lang: str) -> list[str]:
    """A line for each answer to no question, and each value that could not be read:
    what a teacher should look at (`path:line:col: warning: ...`)."""
    lines = []
    for item in items:
        if item.scored and item.hint is not None and item.hint.key == "answer_malformed":
            lines.append(f"{item.hint.args['where']}: warning: {_what(item, lang)}: "
                         f"{item.hint.args['reason']}")
        elif not item.scored:
            where = str(item.loc) if item.loc is not None else path
            lines.append(message(lang, "answer_warning", where=where, what=_what(item, lang),
                                 why=remark_text(lang, item.hint)))
    return lines


def key_warnings(spec_path: str, items, lang: str) -> list[str]:
    """A line for each value of the answer key that is not the spec's number: the key
    may be another spec's (another variant's), and the students graded against the
    wrong network."""
    return [f"{item.loc}: warning: the answer key gives {_what(item, lang)} "
            f"{_value(item.given)}, {spec_path} gives {_value(item.expected)}: is the key "
            "this spec's?" for item in items]


def _notes(item, lang: str) -> list[str]:
    """What follows a wrong answer's line: the follow-through's credit, or the usual
    mistake (the working after them: _working)."""
    if item.correct:
        return []
    lines = []
    if item.follow_through and item.scored:
        lines.append(message(lang, "follow_through_note", item=item.follow_through,
                             credit=points_text(item.credit), value=_value(item.expected)))
    elif item.hint:
        lines.append(remark_text(lang, item.hint))
    return lines


def _working(item, lang: str, indent: str) -> list[str]:
    """A wrong answer's working, line by line (none for an answer to no question)."""
    if item.correct or not item.scored:
        return []
    return [text for step in item.working for text in step_lines(lang, step, indent=indent)]


def plain_text(name: str, items: list, score, lang: str) -> str:
    width = max((display_width(_what(i, lang)) for i in items), default=0)
    lines = []
    for item in items:
        what = _what(item, lang)
        line = f"{_mark(item)} {what}{' ' * (width - display_width(what))}  {_given(item, lang)}"
        after = _after(item, lang)
        lines.append(f"{line}  {after}" if after else line)
        lines += [f"    {note}" for note in _notes(item, lang)]
        lines += _working(item, lang, indent="    ")
    lines.append(_score_line(name, score, lang))
    return "\n".join(lines) + "\n"


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _items_data(items, lang: str) -> list[dict]:
    return [{"layer": i.layer, "quantity": i.quantity, "given": _plain(i.given),
             "expected": _plain(i.expected), "correct": i.correct,
             "answered": i.answered, "scored": i.scored,
             "follow_through": i.follow_through, "credit": i.credit,
             "hint": remark_text(lang, i.hint) if i.hint else None,
             "hint_key": i.hint.key if i.hint else None,
             "working": [f"{s.formula} = {s.working}" for s in i.working]}
            for i in items]


def _score_data(score) -> dict:
    return {"correct": score.correct, "follow_through": score.follow_through,
            "total": score.total, "points": score.points}


def render_json(items: list, score, lang: str) -> str:
    data = {"items": _items_data(items, lang), "score": _score_data(score)}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


# -- markdown: a student's feedback -------------------------------------------

# the last line of a feedback page `check --feedback` writes: a later run removes the
# pages that end with it of students no longer in the class, and no other file
FEEDBACK_MARK = "\n<!-- written by netcalc check --feedback -->\n"

def student_markdown(spec: str, student, lang: str, level: int = 1) -> str:
    """One student's feedback: each answer with its mark, and for the wrong ones the
    right value, the mistake and the working (a page to hand back)."""
    heading = "#" * level
    lines = [f"{heading} {message(lang, 'feedback_title', student=student.student, spec=spec)}",
             ""]
    if student.error is not None:
        return "\n".join([*lines, message(lang, "not_graded_because", error=student.error), ""])
    lines += [f"**{_score_line(spec, student.score, lang)}**", ""]
    for item in student.items:
        line = f"- {_mark(item)} **{_what(item, lang)}**: {_given(item, lang)}"
        after = _after(item, lang)
        lines.append(f"{line} {after}" if after else line)
        lines += [f"  - {note}" for note in _notes(item, lang)]
        working = _working(item, lang, indent="")
        if working:
            lines += ["", "  ```", *(f"  {text}" for text in working), "  ```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# -- a class ------------------------------------------------------------------

def _table(headings: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Columns aligned in terminal cells (Chinese characters take two)."""
    widths = [max(display_width(h), *(display_width(r[k]) for r in rows))
              for k, h in enumerate(headings)]
    return ["  " + "  ".join(pad(cell, widths[k], k in right)
                             for k, cell in enumerate(row)).rstrip()
            for row in [headings, *rows]]


def _score_cell(student, lang: str) -> str:
    if student.score is None:
        return message(lang, "not_graded")
    return f"{points_text(student.score.points)} / {student.score.total}"


def class_text(result, lang: str) -> str:
    """The class summary: each student's score, the distribution, the named mistakes
    and the questions that lost the most points."""
    s = result.summary
    lines = [_class_title(s, lang, "class_title"), _questions_line(s, lang), "",
             message(lang, "scores_heading")]
    lines += _table([message(lang, "student"), message(lang, "score")],
                    [[st.student, _score_cell(st, lang)] for st in result.students], {1})
    if s.scores:
        lines += ["", message(lang, "distribution_heading")]
        lines += _table([message(lang, "score"), message(lang, "students"), ""],
                        [[f"{points_text(t.points)} / {t.total}", str(t.students),
                          "█" * t.students] for t in s.scores], {0, 1})
        if s.mean_percent is not None:
            lines.append(f"  {message(lang, 'mean_score', percent=s.mean_percent)}")
    lines += ["", message(lang, "mistakes_heading")]
    if not s.mistakes:
        lines.append(f"  {message(lang, 'no_mistakes_named')}")
    for mistake in s.mistakes:
        lines.append(f"  {_mistake_count(mistake, lang)} · {_questions(mistake.items, lang)}")
        lines += [f"    {text}" for text in _mistake_texts(mistake, lang)]
    if s.most_wrong:
        lines += ["", message(lang, "most_wrong_heading")]
        lines += _table(_most_wrong_headings(lang), _most_wrong_rows(s, lang), {1, 2, 3, 4})
    return "\n".join(lines) + "\n"


def _questions_line(summary, lang: str) -> str:
    return message(lang, "questions_from_" + summary.questions_from,
                   count=len(summary.questions))


def _mistake_texts(mistake, lang: str) -> list[str]:
    """The mistake's words: once where every answer gave the same numbers, else each
    remark after the questions it was made on."""
    if len(mistake.remarks) <= 1:
        return [remark_text(lang, mistake.hint)]
    return [f"{_questions(r.items, lang)}: {remark_text(lang, r.hint)}" for r in mistake.remarks]


def _most_wrong_headings(lang: str) -> list[str]:
    return [message(lang, "item"), message(lang, "points_lost"), message(lang, "wrong"),
            message(lang, "follow_through_q"), message(lang, "answered")]


def _most_wrong_rows(summary, lang: str) -> list[list[str]]:
    return [[_question(i.layer, i.quantity, lang), points_text(i.points_lost), str(i.wrong),
             str(i.follow_through), str(i.answered)] for i in summary.most_wrong]


def _class_title(summary, lang: str, key: str) -> str:
    return message(lang, key, spec=summary.spec, students=summary.students,
                   graded=summary.graded, failed=summary.not_graded)


def _mistake_count(mistake, lang: str) -> str:
    return message(lang, "mistake_count", answers=mistake.answers, students=mistake.students)


def _questions(items, lang: str) -> str:
    return ", ".join(_question(layer, quantity, lang) for layer, quantity in items)


def _question(layer: str | None, quantity: str, lang: str) -> str:
    label = message(lang, "total") if layer is None else layer
    return f"{label} {message(lang, quantity + '_q')}"


def class_markdown(result, lang: str) -> str:
    """Every student's feedback, a section each, after the class summary."""
    s = result.summary
    lines = [f"# {_class_title(s, lang, 'class_title_listed')}", "", _questions_line(s, lang),
             "", f"## {message(lang, 'scores_heading')}", "",
             f"| {message(lang, 'student')} | {message(lang, 'score')} |", "|---|---:|"]
    lines += [f"| {st.student} | {_score_cell(st, lang)} |" for st in result.students]
    lines += ["", f"## {message(lang, 'distribution_heading')}", "",
              f"| {message(lang, 'score')} | {message(lang, 'students')} |", "|---:|---:|"]
    lines += [f"| {points_text(t.points)} / {t.total} | {t.students} |" for t in s.scores]
    if s.mean_percent is not None:
        lines += ["", message(lang, "mean_score", percent=s.mean_percent)]
    lines += ["", f"## {message(lang, 'mistakes_heading')}", ""]
    if not s.mistakes:
        lines.append(message(lang, "no_mistakes_named"))
    for mistake in s.mistakes:
        texts = _mistake_texts(mistake, lang)
        head = f"- **{_mistake_count(mistake, lang)}** ({_questions(mistake.items, lang)})"
        lines.append(f"{head}: {texts[0]}" if len(texts) == 1 else head)
        if len(texts) > 1:
            lines += [f"  - {text}" for text in texts]
    if s.most_wrong:
        headings = _most_wrong_headings(lang)
        lines += ["", f"## {message(lang, 'most_wrong_heading')}", "",
                  "| " + " | ".join(headings) + " |", "|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in _most_wrong_rows(s, lang)]
    text = "\n".join(lines) + "\n"
    for student in result.students:
        text += "\n" + student_markdown(s.spec, student, lang, level=2)
    return text


def _remark_data(tally, lang: str) -> dict:
    return {"hint": remark_text(lang, tally.hint), "hint_key": tally.hint.key,
            "answers": tally.answers, "students": tally.students,
            "items": [{"layer": layer, "quantity": quantity} for layer, quantity in tally.items]}


def class_json(result, lang: str) -> str:
    s = result.summary
    data = {
        "spec": s.spec,
        "students": [{"student": st.student, "file": st.path, "error": st.error,
                      "items": _items_data(st.items, lang),
                      "score": _score_data(st.score) if st.score else None}
                     for st in result.students],
        "summary": {
            "students": s.students, "graded": s.graded, "not_graded": s.not_graded,
            "questions": [{"layer": layer, "quantity": quantity}
                          for layer, quantity in s.questions],
            "questions_from": s.questions_from,
            "scores": [{"points": t.points, "total": t.total, "students": t.students}
                       for t in s.scores],
            "mean_percent": s.mean_percent,
            # a named mistake on whichever layers; "remarks": each with its own numbers
            "mistakes": [{**_remark_data(m, lang),
                          "remarks": [_remark_data(r, lang) for r in m.remarks]}
                         for m in s.mistakes],
            "items": [{"layer": i.layer, "quantity": i.quantity, "answered": i.answered,
                       "correct": i.correct, "follow_through": i.follow_through,
                       "wrong": i.wrong, "not_answered": i.not_answered,
                       "points_lost": i.points_lost} for i in s.items]}}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


# -- the gradebook ------------------------------------------------------------

def column_name(layer: str | None, quantity: str) -> str:
    """A question as a gradebook column: 'p2 output', 'fc params', 'total_params' (as
    the answers file writes it; in English whatever --lang, for spreadsheets)."""
    return f"total_{quantity}" if layer is None else f"{layer} {quantity}"


def gradebook_csv(result) -> str:
    """student, score (points), out_of (the questions), a column per question (✓, ✗,
    ✓→p2 following through from p2, empty if not answered), error (a file that could
    not be graded). Answers to no question are no column. Written with a UTF-8 byte
    order mark (`utf-8-sig`) so that Excel reads ✓ and ✗ as such."""
    import csv
    import io

    questions = list(result.summary.questions)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "score", "out_of",
                     *(column_name(layer, quantity) for layer, quantity in questions),
                     "error"])
    for student in result.students:
        if student.score is None:
            writer.writerow([student.student, "", "", *([""] * len(questions)),
                             student.error])
            continue
        cells = []
        for layer, quantity in questions:
            item = next((i for i in student.items if i.scored
                         and (i.layer, i.quantity) == (layer, quantity)), None)
            cells.append("" if item is None or not item.answered else "✓" if item.correct
                         else f"✓→{item.follow_through}" if item.follow_through else "✗")
        writer.writerow([student.student, points_text(student.score.points),
                         student.score.total, *cells, ""])
    return out.getvalue()
