"""`netcalc exercise`: a template's draws filled in, variant after variant, each with
its question sheet, its answer key and its working.

A template is a spec whose values may draw: `${choice(3, 5, 7)}` (one of the values),
`${randint(16, 64)}` (an integer, both ends included). Each draw written in the
template is drawn once per variant, in the order of the text; a draw in the top-level
`params` is one value that every `${name}` reads. A draw may stand inside an
expression (`${2 * choice(8, 16)}`): it is replaced there by its value and the spec
evaluates the rest. An optional top-level `x-exercise` mapping (the spec format
ignores `x-` keys) says what each sheet asks and its title.

The filled template is read and analysed as any spec is; a variant whose network
fails (a kernel larger than its input, shapes that do not add) is drawn again.
Draws repeat with the seed: the same seed gives the same variants, and asking for
more variants keeps the first ones.
"""

from __future__ import annotations

import ast
import json
import math
import os
import random
import re
from dataclasses import dataclass

from .errors import Location, NetcalcError, SpecError, UsageError, did_you_mean
from .grading import QUANTITIES, TOTALS, without_batch
from .spec import read_bytes
from .spec.expr import _FUNCTIONS as SPEC_FUNCTIONS, DRAW_FUNCTIONS
from .spec.loader import LocatedDict, LocatedList, load_yaml

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

    from .results import Summary
    from .spec.model import ExpandedSpec
    from .working import LayerWorking

EXERCISE_KEY = "x-exercise"
EXERCISE_KEYS = ("title", "ask")
# the totals an exercise may ask, as an answers file names them (grading.TOTALS, less
# the KV cache, which needs a context length)
TOTAL_QUANTITIES = {key: quantity for key, quantity in TOTALS.items() if quantity != "kv_cache"}
# Draws before giving up on a template that never gives a valid network, and draws in
# all per variant asked for (a repeated draw costs nothing: it is not analysed again).
MAX_DRAWS_WITHOUT_A_NETWORK = 100
MAX_DRAWS_PER_VARIANT = 50
MAX_COUNT = 1000
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)*")      # a YAML node's anchor and tag


@dataclass(frozen=True)
class Draw:
    """One draw of a variant: where the template makes it, as written, and its value."""

    loc: Location
    written: str                # choice(3, 5, 7)
    value: Any                  # an int, a string or a bool


@dataclass(frozen=True)
class Asked:
    """One thing the template asks: a layer's (or block's) quantity, or a total."""

    layer: str | None           # None: a total of the network
    quantity: str               # output, params, macs, flops
    loc: Location | None        # where `x-exercise: ask:` names it (None: the default)


@dataclass(frozen=True)
class Question:
    """A numbered question of a variant, with its answer."""

    number: int
    layer: str | None           # None: a total of the network
    quantity: str               # output, params, macs, flops
    answer: Any                 # a shape without the batch dim (a tuple), or a count
    # a total's working: the layers that hold some of it, and their share
    parts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class NetworkRow:
    """A layer as the question sheet gives it: its type and the arguments it is given."""

    name: str
    type: str
    arguments: dict             # those that differ from the type's defaults
    inputs: tuple[str, ...]     # what it reads: earlier layers, or the spec's inputs


@dataclass(frozen=True)
class Sheet:
    """What a variant's sheets show: the network, the questions and their working."""

    title: str                  # `x-exercise: title`, else the spec's name
    name: str                   # the spec's name
    number: int                 # 1-based
    seed: int
    inputs: tuple[tuple[str, tuple[int, ...]], ...]     # each input's name, shape
    layers: tuple[NetworkRow, ...]
    shows_inputs: bool          # some layer reads other than the one before it
    questions: tuple[Question, ...]
    workings: tuple[LayerWorking, ...]


@dataclass(frozen=True)
class Variant:
    """One filled template: `netcalc exercise` writes each text to a file."""

    number: int                 # 1-based, in the order drawn
    draws: tuple[Draw, ...]
    spec_text: str              # the filled spec (YAML): netcalc summary, check read it
    question_markdown: str      # the question sheet
    answers: dict               # as an answers file gives them: {"conv1": {"params": ...}}
    answers_yaml: str           # that answers file: `netcalc check SPEC KEY` passes
    working_markdown: str       # the answers, each with explain's working
    sheet: Sheet                # the data the three texts show


def exercise(template: Any, *, seed: int, count: int = 30, lang: str = "en") -> list[Variant]:
    """`count` variants of an exercise template (its path, or its YAML text), drawn
    with `seed`: the same seed gives the same variants. Fewer come back where the
    template gives fewer distinct valid networks."""
    from .i18n import LANGUAGES
    from .render import exercise as render

    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise UsageError(f"count must be a whole number from 1 to {MAX_COUNT}, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"seed must be a whole number, got {seed!r}")
    if lang not in LANGUAGES:
        raise UsageError(f"lang must be one of {', '.join(sorted(LANGUAGES))}, got {lang!r}")
    parsed = read_template(template)
    networks = draw_networks(parsed, seed, count)
    asked = _check_asked(parsed, [summary for _, _, _, summary in networks])
    variants = []
    for number, (draws, spec_text, expanded, summary) in enumerate(networks, 1):
        sheet = _sheet(parsed, number, asked, seed, lang, expanded, summary)
        answers = _answers(sheet.questions)
        variants.append(Variant(
            number, draws, render.spec_header(sheet, lang) + spec_text,
            render.question_markdown(sheet, lang), answers,
            render.answers_yaml(answers, sheet, lang), render.working_markdown(sheet, lang),
            sheet))
    return variants


# -- the template ---------------------------------------------------------------------

@dataclass(frozen=True)
class _DrawSite:
    """A draw written in the template."""

    function: str               # choice or randint
    options: tuple              # choice's values; randint's (low, high)
    written: str
    span: tuple[int, int]       # its characters in the scalar's value


@dataclass(frozen=True)
class _Slot:
    """A YAML scalar with draws: its characters in the template's text, and its draws."""

    start: int
    end: int
    value: str
    sites: tuple[_DrawSite, ...]
    whole: bool                 # the value is one draw alone: filled with the value itself
    loc: Location


@dataclass(frozen=True)
class Template:
    """An exercise template, read: its text, where it draws and what it asks."""

    file: str
    name: str
    text: str
    slots: tuple[_Slot, ...]
    title: str | dict | None    # the sheets' heading, or one per language
    ask: tuple[Asked, ...] | None    # None: the default questions
    exercise_span: tuple[int, int] | None   # the `x-exercise` entry's characters
    combinations: int           # how many different fillings the draws allow


def read_template(source: Any) -> Template:
    """A template from its path or its YAML text, its draws and `x-exercise` checked."""
    text, file = _template_text(source)
    doc = load_yaml(text, file)
    if not isinstance(doc, LocatedDict):
        raise SpecError("an exercise template is a spec: a mapping with `input` and `layers`",
                        Location(file, 1, 1))
    name = doc.get("name", os.path.splitext(os.path.basename(file))[0])
    title, ask = _exercise_section(doc)
    import yaml
    # the nodes again, for their characters in the text (the spec loader keeps only
    # where each starts); the loader has already held the text to its limits
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    slots: list[_Slot] = []
    exercise_span = None
    seen: set[int] = set()
    for key_node, value_node in root.value:
        if _slot(key_node, text, file) is not None:
            raise SpecError("a key cannot be drawn: draw values only", _node_loc(key_node, file))
        at_exercise = key_node.value == EXERCISE_KEY
        if at_exercise:
            exercise_span = _entry_span(text, key_node, value_node)
        _collect_slots(value_node, text, file, slots, seen, key_node.value, at_exercise)
    _check_expressions(root, file)
    slots.sort(key=lambda slot: slot.start)
    combinations = math.prod(len(site.options) if site.function == "choice"
                             else site.options[1] - site.options[0] + 1
                             for slot in slots for site in slot.sites)
    return Template(file, str(name), text, tuple(slots), title, ask, exercise_span,
                    combinations)


def _template_text(source: Any) -> tuple[str, str]:
    if isinstance(source, os.PathLike) or isinstance(source, str) and "\n" not in source:
        path = os.fspath(source)
        data = read_bytes(path, "template")
        try:
            return data.decode("utf-8"), path
        except UnicodeDecodeError as error:
            line = data[:error.start].count(b"\n") + 1
            raise SpecError("the template is not UTF-8 text", Location(path, line, 1)) from None
    if isinstance(source, str):
        return source, "<template>"
    raise UsageError(f"an exercise template is a file's path or YAML text, not "
                     f"{type(source).__name__}")


def _exercise_section(doc: LocatedDict
                      ) -> tuple[str | dict | None, tuple[Asked, ...] | None]:
    """`x-exercise: {title: ..., ask: {conv1: [output, params], total_params: true}}`."""
    section = doc.get(EXERCISE_KEY)
    if section is None:
        return None, None
    if not isinstance(section, LocatedDict):
        raise SpecError(f"`{EXERCISE_KEY}` is a mapping: {{title: ..., ask: {{conv1: [output, "
                        "params], total_params: true}}}}", doc.where(EXERCISE_KEY))
    for key in section:
        if key not in EXERCISE_KEYS:
            raise SpecError(f"unknown key '{key}' in `{EXERCISE_KEY}`"
                            f"{did_you_mean(str(key), EXERCISE_KEYS)} (expected: "
                            f"{', '.join(EXERCISE_KEYS)})", section.key_loc[key])
    title = section.get("title")
    if isinstance(title, LocatedDict):          # {en: ..., zh: ...}
        from .i18n import LANGUAGES
        for lang, words in title.items():
            if lang not in LANGUAGES or not isinstance(words, str):
                raise SpecError(f"`title` gives the heading in each language: "
                                f"{{{', '.join(f'{code}: ...' for code in LANGUAGES)}}}",
                                title.key_loc[lang])
        title = dict(title)
    elif title is not None and not isinstance(title, str):
        raise SpecError("`title` is the sheets' heading: a string, or one per language "
                        "({en: ..., zh: ...})", section.where("title"))
    if "ask" not in section:
        return title, None
    ask = section["ask"]
    if not isinstance(ask, LocatedDict) or not ask:
        raise SpecError("`ask` maps a layer's name to what to find, and a total to true: "
                        "{conv1: [output, params], total_params: true}", section.where("ask"))
    asked = []
    for key, value in ask.items():
        where = ask.where(key)
        if key in TOTAL_QUANTITIES:
            if not isinstance(value, bool):
                raise SpecError(f"{key} is asked with true (or left out with false)", where)
            if value:
                asked.append(Asked(None, TOTAL_QUANTITIES[key], ask.key_loc[key]))
            continue
        quantities = [value] if isinstance(value, str) else value
        if isinstance(value, bool) or str(key).startswith("total"):
            raise SpecError(f"'{key}' is not a total an exercise asks"
                            f"{did_you_mean(str(key), list(TOTAL_QUANTITIES))} (the totals: "
                            f"{', '.join(TOTAL_QUANTITIES)})", ask.key_loc[key])
        if not isinstance(quantities, list) or not quantities:
            raise SpecError(f"what to find of '{key}': one of {', '.join(QUANTITIES)}, or a "
                            "list of them: [output, params]", where)
        for index, quantity in enumerate(quantities):
            at = quantities.where(index) if isinstance(quantities, LocatedList) else where
            if quantity not in QUANTITIES:
                raise SpecError(f"'{quantity}' is not something an exercise asks"
                                f"{did_you_mean(str(quantity), list(QUANTITIES))} (it asks "
                                f"{', '.join(QUANTITIES)}, and the totals "
                                f"{', '.join(TOTAL_QUANTITIES)})", at)
            if quantities.count(quantity) > 1:
                raise SpecError(f"'{quantity}' of '{key}' is asked twice", at)
            asked.append(Asked(str(key), quantity, ask.key_loc[key]))
    if not asked:
        raise SpecError("`ask` asks nothing (every total it names is false)",
                        section.where("ask"))
    return title, tuple(asked)


def _entry_span(text: str, key_node, value_node) -> tuple[int, int]:
    """A top-level entry's characters: from its line's start through its value's last
    line (a block mapping ends at the next key: the blank lines and top-level comments
    before that key are the next entry's)."""
    start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    end = value_node.end_mark.index
    if end > 0 and text[end - 1] != "\n":
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    lines = text[start:end].splitlines(keepends=True)
    while len(lines) > 1 and (not lines[-1].strip() or lines[-1].startswith("#")):
        lines.pop()
    return start, start + len("".join(lines))


def _collect_slots(node, text: str, file: str, slots: list[_Slot], seen: set[int],
                   parent_key: str | None, in_exercise: bool = False) -> None:
    import yaml

    if id(node) in seen:                 # an alias: its draws are its anchor's
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if _slot(key_node, text, file) is not None:
                raise SpecError("a key cannot be drawn: draw values only",
                                _node_loc(key_node, file))
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            _collect_slots(value_node, text, file, slots, seen, key, in_exercise)
        return
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _collect_slots(item, text, file, slots, seen, None, in_exercise)
        return
    slot = _slot(node, text, file)
    if slot is None:
        return
    if in_exercise:
        raise SpecError(f"`{EXERCISE_KEY}` says what to ask: it draws nothing", slot.loc)
    if parent_key == "type":
        raise SpecError("a layer's type is not drawn: draw its arguments (a template per "
                        "type, or `if: ${choice(true, false)}` to switch a layer off)",
                        slot.loc)
    slots.append(slot)


# the top-level entries a spec reads `${...}` in
_EVALUATED = ("params", "input", "inputs", "layers", "blocks")


def _check_expressions(root, file: str) -> None:
    """Every `${...}` the spec will read, checked before any draw: a mistake in one that
    no drawn value can mend (an unterminated `${`, bad syntax, a function or a name that
    does not exist) fails every draw alike, and is said once, where it is written."""
    import yaml

    names = {"i", "true", "false"}              # a repeat's index; YAML's booleans
    scalars = []

    def walk(node) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == "params" and \
                        isinstance(value_node, yaml.MappingNode):
                    names.update(str(k.value) for k, _ in value_node.value
                                 if isinstance(k, yaml.ScalarNode))
                walk(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" \
                and "${" in node.value:
            scalars.append(node)

    for key_node, value_node in root.value:
        if getattr(key_node, "value", None) in _EVALUATED:
            walk(yaml.MappingNode("tag:yaml.org,2002:map", [(key_node, value_node)]))
    functions = [*DRAW_FUNCTIONS, *SPEC_FUNCTIONS]
    listed = f"{', '.join(functions[:-1])} and {functions[-1]}"
    for node in scalars:
        loc = _node_loc(node, file)
        if "${" in _PLACEHOLDER.sub("", node.value):
            raise SpecError(f"unterminated '${{' in {node.value!r}: close it with '}}'", loc)
        for match in _PLACEHOLDER.finditer(node.value):
            written = match.group(0)
            try:
                tree = ast.parse(match.group(1).strip(), mode="eval")
            except SyntaxError as error:
                raise SpecError(f"in '{written}': bad expression: {error.msg}", loc) from None
            called = set()
            for call in ast.walk(tree):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                    called.add(id(call.func))
                    if call.func.id not in functions:
                        raise SpecError(
                            f"in '{written}': there is no function '{call.func.id}'"
                            f"{did_you_mean(call.func.id, functions)} (a template may call "
                            f"{listed})", loc)
            for name in ast.walk(tree):
                if isinstance(name, ast.Name) and id(name) not in called and \
                        name.id not in names:
                    known = sorted(names - {"i", "true", "false"})
                    raise SpecError(
                        f"in '{written}': '{name.id}' is not a parameter (parameters: "
                        f"{', '.join(known) if known else 'none'})"
                        f"{did_you_mean(name.id, known)}", loc)


def _node_loc(node, file: str) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _slot(node, text: str, file: str) -> _Slot | None:
    """The scalar's draws, checked; None where it draws nothing."""
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" \
            or "${" not in node.value:
        return None
    loc = _node_loc(node, file)
    sites = []
    for match in _PLACEHOLDER.finditer(node.value):
        inner = match.group(1)
        expression = inner.strip()
        offset = match.start(1) + len(inner) - len(inner.lstrip())
        try:
            tree = ast.parse(expression, mode="eval").body
        except SyntaxError:
            continue              # not a draw: the spec reports its syntax where it reads it
        encoded = expression.encode("utf-8")
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) \
                    and call.func.id in DRAW_FUNCTIONS:
                start = offset + len(encoded[:call.col_offset].decode("utf-8"))
                end = offset + len(encoded[:call.end_col_offset].decode("utf-8"))
                written = node.value[start:end]
                sites.append(_DrawSite(call.func.id, _options(call, written, loc), written,
                                       (start, end)))
    if not sites:
        return None
    if node.style not in (None, "'", '"') or node.start_mark.line != node.end_mark.line:
        raise SpecError("a value that draws is written on one line (quoted or not)", loc)
    whole = len(sites) == 1 and node.value.strip() == "${" + sites[0].written + "}"
    # the node starts at its anchor or tag (`&width "${choice(...)}"`), which stay
    properties = _PROPERTIES.match(text, node.start_mark.index)
    return _Slot(properties.end(), node.end_mark.index, node.value, tuple(sites), whole, loc)


def _options(call: ast.Call, written: str, loc: Location) -> tuple:
    """choice's values or randint's bounds: literal numbers, strings, true and false."""
    name = call.func.id
    if call.keywords:
        raise SpecError(f"{written}: {name}(...) takes its values alone, without names", loc)
    values = tuple(_literal(arg, written, loc) for arg in call.args)
    if name == "choice":
        if not values:
            raise SpecError(f"{written}: choice(...) takes the values to draw from, like "
                            "choice(3, 5, 7)", loc)
        return values
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in values):
        raise SpecError(f"{written}: randint(low, high) takes two whole numbers, and draws "
                        "one from low to high, both included", loc)
    if values[0] > values[1]:
        raise SpecError(f"{written}: randint(low, high) needs low ≤ high", loc)
    return values


def _literal(node: ast.AST, written: str, loc: Location) -> Any:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, ast.Constant) and type(node.value) in (int, str, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in ("true", "false"):
        return node.id == "true"
    raise SpecError(f"{written}: a draw's values are written out (whole numbers, strings, "
                    f"true, false), not computed: {ast.unparse(node)}", loc)


# -- drawing ----------------------------------------------------------------------------

def draw_networks(template: Template, seed: int, count: int
                  ) -> list[tuple[tuple[Draw, ...], str, ExpandedSpec, Summary]]:
    """Up to `count` distinct fillings whose networks are valid: each one's draws, its
    filled spec, its expanded spec and its summary. A template that gives none raises the last
    filling's error."""
    rng = random.Random(seed)
    seen: set[tuple] = set()
    networks = []
    last_error: NetcalcError | None = None
    draws_made = 0
    while len(networks) < count and len(seen) < template.combinations:
        if draws_made >= MAX_DRAWS_PER_VARIANT * count or \
                not networks and draws_made >= MAX_DRAWS_WITHOUT_A_NETWORK:
            break
        draws_made += 1
        draws, text, spec_text = fill(template, rng)
        key = tuple((type(draw.value), draw.value) for draw in draws)   # 1 is not true
        if key in seen:
            continue
        seen.add(key)
        try:
            expanded, summary = _network(text, template.file)
        except NetcalcError as error:
            last_error = error
            continue
        networks.append((draws, spec_text, expanded, summary))
    if not networks:
        assert last_error is not None
        tried = f"{len(seen)} draw{'s' if len(seen) != 1 else ''}"
        raise SpecError(f"no draw of this template gives a valid network ({tried} tried); "
                        f"the last failed here: {last_error.message}", last_error.loc,
                        last_error.notes)
    return networks


def fill(template: Template, rng: random.Random) -> tuple[tuple[Draw, ...], str, str]:
    """The template with every draw replaced by a value drawn from `rng`: the draws, the
    filled text (its lines where the template has them, so that an error in it points
    into the template) and the filled spec (that text without `x-exercise`)."""
    edits, draws = [], []
    for slot in template.slots:
        values = [_draw(site, rng) for site in slot.sites]
        draws += [Draw(slot.loc, site.written, value)
                  for site, value in zip(slot.sites, values)]
        if slot.whole:
            filled = _yaml_value(values[0])
        else:
            value = slot.value
            for site, drawn in reversed(list(zip(slot.sites, values))):
                value = value[:site.span[0]] + repr(drawn) + value[site.span[1]:]
            filled = json.dumps(value, ensure_ascii=False)     # a YAML double-quoted string
        edits.append((slot.start, slot.end, filled))
    text = _edited(template.text, edits)
    if template.exercise_span is None:
        return tuple(draws), text, text
    spec_text = _edited(template.text, sorted([*edits, (*template.exercise_span, "")]))
    return tuple(draws), text, spec_text.rstrip("\n") + "\n"   # no blank lines left at the end


def _edited(text: str, edits: list[tuple[int, int, str]]) -> str:
    pieces, position = [], 0
    for start, end, replacement in edits:
        pieces += [text[position:start], replacement]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _draw(site: _DrawSite, rng: random.Random) -> Any:
    if site.function == "choice":
        return site.options[rng.randrange(len(site.options))]
    return rng.randint(*site.options)


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _network(text: str, file: str):
    from .analyze import analyze
    from .spec import parse_spec

    expanded = parse_spec(text, file)
    return expanded, analyze(expanded)


# -- questions and answers ---------------------------------------------------------------

def _check_asked(template: Template, summaries: list[Summary]) -> tuple[Asked, ...] | None:
    """The template's questions, each name a layer or block of some variant (a layer
    that `if` switches off in a variant is not asked in that one)."""
    if template.ask is None:
        return None
    names = set()
    for summary in summaries:
        names |= {row.name for row in (*summary.layers, *summary.blocks)}
    for asked in template.ask:
        if asked.layer is not None and asked.layer not in names:
            first = summaries[0]
            known = [row.name for row in (*first.layers, *first.blocks)]
            raise SpecError(f"'{asked.layer}' is no layer or block of this network"
                            f"{did_you_mean(asked.layer, known)} (`ask` names a layer as the "
                            "summary does: conv1, layer1.0.conv1; or total_params, "
                            "total_macs, total_flops)", asked.loc)
    return template.ask


def default_questions(summary: Summary) -> tuple[Asked, ...]:
    """Without `ask`: the output shape and parameters of each layer that changes the
    shape or holds parameters (not an activation, a dropout, a residual add), and the
    network's total parameters."""
    asked = []
    for row in summary.layers:
        if row.params or row.input_shapes[:1] != (row.output_shape,):
            asked += [Asked(row.name, "output", None), Asked(row.name, "params", None)]
    return (*asked, Asked(None, "params", None))


def _sheet(template: Template, number: int, asked: tuple[Asked, ...] | None, seed: int,
           lang: str, expanded: ExpandedSpec, summary: Summary) -> Sheet:
    from .working import explain_layers

    rows = {row.name: row for row in (*summary.layers, *summary.blocks)}
    here = [a for a in (asked or default_questions(summary))
            if a.layer is None or a.layer in rows]
    questions = tuple(_question(i, a, summary, rows) for i, a in enumerate(here, 1))
    worked = []                         # the layers the answers need, in network order
    for question in questions:
        for name in (question.layer,) if question.layer else (n for n, _ in question.parts):
            if name not in worked:
                worked.append(name)
    workings = tuple(_working_without_batch(w, expanded, summary)
                     for w in explain_layers(expanded, summary, tuple(worked))) if worked else ()
    layers = tuple(NetworkRow(result.name, result.type, spec_layer.layer.given_arguments(),
                              spec_layer.inputs)
                   for spec_layer, result in zip(expanded.layers, summary.layers))
    previous = [expanded.inputs[0].name, *(row.name for row in layers)]
    shows_inputs = len(expanded.inputs) > 1 or any(
        row.inputs != (before,) for row, before in zip(layers, previous))
    title = template.title.get(lang) if isinstance(template.title, dict) else template.title
    return Sheet(title or template.name, template.name, number, seed,
                 tuple((i.name, i.shape) for i in expanded.inputs), layers, shows_inputs,
                 questions, workings)


def _working_without_batch(working: LayerWorking, expanded: ExpandedSpec, summary: Summary
                   ) -> LayerWorking:
    """A layer's working with its shapes as the sheet writes them: without the batch."""
    from dataclasses import replace

    results = {row.name: row for row in summary.layers}
    row = results.get(working.name)
    if row is None:                       # a figure of the whole model: as it is
        return working
    spec_layer = next((s for s in expanded.layers if s.name == working.name), None)
    sources = spec_layer.inputs if spec_layer is not None else ()
    ins = tuple(without_batch(shape, getattr(results[source], "batch_dim", 0)
                            if source in results else 0)
                for shape, source in zip(working.input_shapes,
                                         (*sources, *[None] * len(working.input_shapes))))
    return replace(working, input_shapes=ins,
                   output_shape=without_batch(working.output_shape, row.batch_dim))


def _question(number: int, asked: Asked, summary: Summary, rows: dict) -> Question:
    if asked.layer is None:
        parts = tuple((row.name, getattr(row, asked.quantity)) for row in summary.layers
                      if getattr(row, asked.quantity))
        return Question(number, None, asked.quantity, getattr(summary.totals, asked.quantity),
                        parts)
    row = rows[asked.layer]
    if asked.quantity != "output":
        return Question(number, asked.layer, asked.quantity, getattr(row, asked.quantity))
    # without the batch dim, as the tutorials write shapes
    return Question(number, asked.layer, "output",
                    without_batch(row.output_shape, getattr(row, "batch_dim", 0)))


def _answers(questions: tuple[Question, ...]) -> dict:
    """The questions' answers as an answers file gives them (grading.parse_answers)."""
    answers: dict = {}
    for question in questions:
        value = list(question.answer) if question.quantity == "output" else question.answer
        if question.layer is None:
            answers[f"total_{question.quantity}"] = value
        else:
            answers.setdefault(question.layer, {})[question.quantity] = value
    return answers
