"""For students: `explain` works each layer out, `check` grades answers, and the
calculators (conv, convtranspose, pool, linear, solve) need no spec.
"""

from __future__ import annotations

import sys

import click

from ..command_line import (DIRECTORY_PATH, SPEC_PATH, emit, lang_option, load_and_analyze,
                            named_input_option, output_option)
from ..dtypes import MODEL_DTYPES
from ..errors import NetcalcError, SpecError, UsageError
from ..i18n import LANGUAGES


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--layer", "names", multiple=True, metavar="NAME",
              help="Only this layer, or the layers of this block (repeatable).")
@lang_option
@click.option("--format", "fmt", type=click.Choice(("text", "markdown", "json")), default="text",
              show_default=True, help="Output format.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N.")
@named_input_option
@click.option("--kv-cache", "kv_context", type=click.IntRange(min=1), default=None,
              metavar="CONTEXT",
              help="Also work out the KV cache a decoder keeps per sequence at CONTEXT tokens.")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type of the KV cache.")
@output_option
def explain(spec: str, names: tuple[str, ...], lang: str | None, fmt: str, batch: int,
            input_shapes: tuple[str, ...], kv_context: int | None, dtype: str,
            output: str | None) -> None:
    """Work out each layer's numbers with the spec's own values: the output size's
    formula (where it rounds, and what that leaves uncovered), parameters, MACs."""
    from ..i18n import language
    from ..render import explain as render_explain
    from ..working import explain_layers

    expanded, result = load_and_analyze(spec, input_shapes, batch, dtype,
                                        kv_context=kv_context)
    workings = explain_layers(expanded, result, names)
    lang = language(lang)
    render = {"text": render_explain.plain_text, "markdown": render_explain.markdown,
              "json": render_explain.render_json}[fmt]
    emit(render(workings, lang), output)


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.argument("answers", type=SPEC_PATH, nargs=-1, required=True)
@click.option("--key", type=SPEC_PATH, default=None, metavar="KEY.yaml",
              help="The questions set: an answer key (the .key.yaml netcalc exercise "
                   "writes). Each student is scored out of its items; one not answered "
                   "counts 0, an answer to another is warned about and not scored.")
@lang_option
@click.option("--format", "fmt", type=click.Choice(("text", "json", "markdown")),
              default="text", show_default=True,
              help="Output format: json for autograders, markdown for feedback to hand back.")
@click.option("--gradebook", type=click.Path(dir_okay=False), default=None, metavar="FILE.csv",
              help="Grade a class: write a CSV of every student's score and marks "
                   "(atomically, UTF-8 with a byte order mark for Excel).")
@click.option("--feedback", type=DIRECTORY_PATH, default=None, metavar="DIR",
              help="Grade a class: write each student's feedback to DIR/STUDENT.md (and "
                   "remove the pages an earlier run wrote for students not in this one).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N the answers are for.")
@named_input_option
@click.option("--kv-cache", "kv_context", type=click.IntRange(min=1), default=None,
              metavar="CONTEXT", help="The context length a `total_kv_cache` answer is for.")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type a `total_kv_cache` answer is for.")
def check(spec: str, answers: tuple[str, ...], key: str | None, lang: str | None, fmt: str,
          gradebook: str | None, feedback: str | None, batch: int,
          input_shapes: tuple[str, ...], kv_context: int | None, dtype: str) -> None:
    """Grade ANSWERS (YAML files: `conv1: {output: [64, 55, 55], params: 23296}`,
    `total_params: ...`) against SPEC's numbers. An answer that follows from the
    student's own earlier wrong answer is marked ✓ (follows from ...) for half credit.
    A value left blank is not answered (0); a value that is no number or shape is that
    item wrong, with the reason. Exit 0 when all are right.

    The score is out of the questions: with --key, the answer key's items; else, for
    one student, the questions the file answers, and for a class, every question some
    student answered (the same for all). Answers to an unknown layer (or, with --key,
    to a question not asked) are warned about and not scored.

    A class at once: several answers files (answers/*.yaml; each file's stem is the
    student), or --gradebook or --feedback. It prints the class's scores and most common
    mistakes (--format markdown adds every student's feedback; json holds it all), writes
    the gradebook and the feedback files; a file that cannot be graded is one error line
    and the others are graded. Exit 1 if any file had an error or any answer is wrong.
    """
    from ..grading import grade, key_disagreements, questions_of, read_answers, score
    from ..i18n import language
    from ..render import check as render_check

    expanded, result = load_and_analyze(spec, input_shapes, batch, dtype,
                                        kv_context=kv_context)
    lang = language(lang)
    questions = None
    if key:
        key_answers = read_answers(key)
        questions = questions_of(expanded, result, key_answers)
        for line in render_check.key_warnings(
                spec, key_disagreements(expanded, result, key_answers), lang):
            print(line, file=sys.stderr)
    if len(answers) == 1 and gradebook is None and feedback is None:
        items = grade(expanded, result, read_answers(answers[0]), questions)
        for line in render_check.warnings(answers[0], items, lang):
            print(line, file=sys.stderr)
        points = score(items)
        if fmt == "markdown":
            from ..grading import StudentResult, student_name
            text = render_check.student_markdown(result.name, StudentResult(
                student_name(answers[0]), answers[0], tuple(items), points), lang)
        elif fmt == "json":
            text = render_check.render_json(items, points, lang)
        else:
            text = render_check.plain_text(result.name, items, points, lang)
        emit(text, None)
        return 1 if not all(item.correct for item in items) else None
    return _check_class(expanded, result, answers, questions, lang, fmt, gradebook, feedback)


def _check_class(expanded, result, answers: tuple[str, ...], questions, lang: str, fmt: str,
                 gradebook: str | None, feedback: str | None) -> int | None:
    """Every answers file graded; the gradebook and feedback written, the summary shown."""
    import os

    from ..grading import grade_class, read_answers, student_name
    from ..io import write_atomic
    from ..render import check as render_check

    graded = grade_class(expanded, result, [
        (student_name(path), path, lambda path=path: read_answers(path)) for path in answers],
        questions)
    for student in graded.students:
        if student.error is not None:
            print(student.error, file=sys.stderr)
        for line in render_check.warnings(student.path, student.items, lang):
            print(line, file=sys.stderr)
    if gradebook is not None:
        write_atomic(gradebook, render_check.gradebook_csv(graded).encode("utf-8-sig"))
    if feedback is not None:
        try:
            os.makedirs(feedback, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot make the feedback directory {feedback}: "
                             f"{error.strerror}") from None
        for student in graded.students:
            write_atomic(os.path.join(feedback, f"{student.student}.md"),
                         render_check.student_markdown(result.name, student, lang)
                         + render_check.FEEDBACK_MARK)
        _remove_stale_feedback(feedback, {student.student for student in graded.students})
    render = {"text": render_check.class_text, "json": render_check.class_json,
              "markdown": render_check.class_markdown}[fmt]
    emit(render(graded, lang), None)
    if any(student.error is not None or not all(i.correct for i in student.items)
           for student in graded.students):
        return 1
    return None


def _remove_stale_feedback(directory: str, students: set[str]) -> None:
    """The feedback pages of students not in this run, that netcalc wrote (they end with
    its mark): an earlier run's, for a file since renamed or removed. Other files stay."""
    import os

    from ..render.check import FEEDBACK_MARK

    for entry in os.scandir(directory):
        stem, ext = os.path.splitext(entry.name)
        if ext != ".md" or stem in students or not entry.is_file(follow_symlinks=False):
            continue
        try:
            with open(entry.path, "rb") as page:
                page.seek(max(0, entry.stat().st_size - len(FEEDBACK_MARK.encode()) - 8))
                if page.read().decode("utf-8", "replace").endswith(FEEDBACK_MARK):
                    os.remove(entry.path)
        except OSError:
            continue                  # kept: not ours to fight over


def _calculator_options(command):
    """--explain, --lang, --batch, --format: what every calculator takes."""
    for declare in reversed([
        click.option("--explain", "show_working", is_flag=True,
                     help="Show the working: each formula with these numbers."),
        click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default=None,
                     help="Language of the working's words (default: from LANG, else en)."),
        click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Batch size N."),
        click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
                     show_default=True, help="Output format."),
    ]):
        command = declare(command)
    return command


def _sizes(text: str | None, name: str):
    """'3' -> 3, '3x5' -> [3, 5], 'same' -> 'same' (per-dim values as the spec writes them)."""
    from ..inputs import parse_shape

    if text is None or text in ("same", "valid"):
        return text
    try:
        sizes = parse_shape(text) if not text.strip().lstrip("-").isdigit() else (int(text),)
    except UsageError:
        raise UsageError(f"{name} {text!r}: write a number, or one per dim like 3x5") from None
    return sizes[0] if len(sizes) == 1 else list(sizes)


def _calculate(kind: str, input_shape: str, args: dict, show_working: bool, lang: str | None,
               batch: int, fmt: str) -> None:
    from ..calc import layer_type, one_layer
    from ..i18n import language
    from ..inputs import parse_shape
    from ..render import explain as render_explain

    shape = parse_shape(input_shape)
    type_name = layer_type(kind, shape)
    try:
        calculation = one_layer(type_name, {k: v for k, v in args.items() if v is not None},
                                shape, batch)
    except SpecError as error:        # no spec, no layer name: the message alone
        raise SpecError(error.message.removeprefix(f"layer '{type_name}' ({type_name}): ")) \
            from None
    for warning in calculation.warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    lang = language(lang)
    emit(render_explain.calculation_json(calculation, lang, show_working) if fmt == "json"
         else render_explain.calculation_text(calculation, lang, show_working), None)


def _convolution_options(command):
    """The options conv and convtranspose share."""
    command = _calculator_options(command)
    for declare in reversed([
        click.option("--input", "input_shape", required=True, metavar="SHAPE",
                     help="The input without the batch: 3x224x224 (C×H×W; C×L and C×D×H×W too)."),
        click.option("--out", "out_channels", type=int, required=True,
                     help="Output channels (kernels)."),
        click.option("-k", "--kernel-size", "kernel_size", required=True,
                     help="Kernel size: 11, or 3x5."),
        click.option("-s", "--stride", default=None, help="Stride (1)."),
        click.option("-p", "--padding", default=None, help="Padding (0); conv: same, valid."),
        click.option("-d", "--dilation", default=None, help="Dilation (1)."),
        click.option("-g", "--groups", type=int, default=None, help="Groups (1)."),
        click.option("--no-bias", is_flag=True, help="No bias."),
    ]):
        command = declare(command)
    return command


def _convolution_args(out_channels, kernel_size, stride, padding, dilation, groups,
                      no_bias) -> dict:
    return {"out_channels": out_channels, "kernel_size": _sizes(kernel_size, "-k"),
            "stride": _sizes(stride, "-s"), "padding": _sizes(padding, "-p"),
            "dilation": _sizes(dilation, "-d"), "groups": groups,
            "bias": False if no_bias else None}


@click.command()
@_convolution_options
def conv(input_shape, out_channels, kernel_size, stride, padding, dilation, groups, no_bias,
         show_working, lang, batch, fmt) -> None:
    """One convolution: output shape, parameters, MACs (no spec file).

    netcalc conv --input 3x224x224 --out 64 -k 11 -s 4 -p 2 --explain
    """
    _calculate("conv", input_shape, _convolution_args(
        out_channels, kernel_size, stride, padding, dilation, groups, no_bias),
        show_working, lang, batch, fmt)


@click.command()
@click.option("--output-padding", default=None, help="Output padding (0).")
@_convolution_options
def convtranspose(output_padding, input_shape, out_channels, kernel_size, stride, padding,
                  dilation, groups, no_bias, show_working, lang, batch, fmt) -> None:
    """One transposed convolution: output shape, parameters, MACs (no spec file)."""
    args = _convolution_args(out_channels, kernel_size, stride, padding, dilation, groups,
                             no_bias)
    args["output_padding"] = _sizes(output_padding, "--output-padding")
    _calculate("convtranspose", input_shape, args, show_working, lang, batch, fmt)


@click.command()
@click.option("--input", "input_shape", required=True, metavar="SHAPE",
              help="The input without the batch: 64x55x55.")
@click.option("-k", "--kernel-size", "kernel_size", required=True, help="Window size.")
@click.option("-s", "--stride", default=None, help="Stride (the window size).")
@click.option("-p", "--padding", default=None, help="Padding (0).")
@click.option("-d", "--dilation", default=None, help="Dilation (1; max pooling only).")
@click.option("--ceil", "ceil_mode", is_flag=True, help="ceil_mode: round up.")
@click.option("--avg", is_flag=True, help="Average pooling (default: max).")
@_calculator_options
def pool(input_shape, kernel_size, stride, padding, dilation, ceil_mode, avg, show_working,
         lang, batch, fmt) -> None:
    """One pooling layer: output shape (no spec file)."""
    if avg and dilation is not None:
        raise UsageError("-d: average pooling has no dilation")
    _calculate("avgpool" if avg else "maxpool", input_shape, {
        "kernel_size": _sizes(kernel_size, "-k"), "stride": _sizes(stride, "-s"),
        "padding": _sizes(padding, "-p"), "dilation": _sizes(dilation, "-d"),
        "ceil_mode": True if ceil_mode else None}, show_working, lang, batch, fmt)


@click.command()
@click.option("--input", "input_shape", required=True, metavar="SHAPE",
              help="The features (and any leading dims) without the batch: 9216, or 197x768.")
@click.option("--out", "out_features", type=int, required=True, help="Output features.")
@click.option("--no-bias", is_flag=True, help="No bias.")
@_calculator_options
def linear(input_shape, out_features, no_bias, show_working, lang, batch, fmt) -> None:
    """One fully connected layer: output shape, parameters, MACs (no spec file)."""
    _calculate("linear", input_shape, {"out_features": out_features,
                                       "bias": False if no_bias else None},
               show_working, lang, batch, fmt)


@click.command()
@click.argument("kind", type=click.Choice(("conv", "pool")))
@click.option("--input", "input_size", type=click.IntRange(min=1), required=True,
              help="The input size along one dim: 224.")
@click.option("--output", "output_size", type=click.IntRange(min=1), required=True,
              help="The output size wanted: 112.")
@click.option("-k", "--kernel-size", "kernel_size", type=click.IntRange(min=1), default=None)
@click.option("-s", "--stride", type=click.IntRange(min=1), default=None)
@click.option("-p", "--padding", type=click.IntRange(min=0), default=None)
@click.option("-d", "--dilation", type=click.IntRange(min=1), default=None)
@click.option("--ceil", "ceil_mode", is_flag=True, help="ceil_mode (pool).")
def solve(kind, input_size, output_size, kernel_size, stride, padding, dilation,
          ceil_mode) -> None:
    """Find the hyper-parameter left out: every value that turns INPUT into OUTPUT.

    netcalc solve conv --input 224 --output 112 -k 7 -s 2   ->   padding = 3
    """
    from ..calc import solve as find

    known = {k: v for k, v in (("kernel_size", kernel_size), ("stride", stride),
                               ("padding", padding), ("dilation", dilation)) if v is not None}
    if kind == "conv":
        known["out_channels"] = 1
    elif ceil_mode:
        known["ceil_mode"] = True
    unknown, values, assumed = find("conv1d" if kind == "conv" else "maxpool1d", known,
                                    input_size, output_size)
    given = ", ".join(f"{k}={v}" for k, v in known.items()
                      if k not in ("out_channels", "ceil_mode"))
    unstated = f"{', '.join(f'{k} {v}' for k, v in assumed.items())} assumed" if assumed else ""
    if not values:
        raise NetcalcError(f"no {unknown} turns {input_size} into {output_size} with {given}"
                           + (f" ({unstated}: give -p or -d if they differ)" if unstated else ""))
    print(f"{unknown} = {_alternatives(values, input_size + 2)}"
          + (f"  ({unstated})" if unstated else ""))


def _alternatives(values: list[int], last_tried: int) -> str:
    """3 -> '3'; [2, 3] -> '2 or 3'; a run to the end of the search -> '7 or more'."""
    if values[-1] == last_tried:              # every larger one works too
        start = len(values) - 1
        while start and values[start - 1] == values[start] - 1:
            start -= 1
        return " or ".join([*map(str, values[:start]), f"{values[start]} or more"])
    return " or ".join(map(str, values))
