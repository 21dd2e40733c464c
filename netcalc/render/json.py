"""`--format json`: the machine contract (see README, "JSON output").

Shapes are arrays with the batch dim first; every number is an exact integer.
One layer per line keeps large outputs fast to write and easy to grep.
"""

from __future__ import annotations

import json
from dataclasses import fields
from json.encoder import encode_basestring
from itertools import islice
from operator import attrgetter

from ..results import (KVCache, Memory, MACS_CONVENTION, LayerOwn, LayerResult,
                       ReceptiveField, Row, Summary, Totals)
from .units import number

_LAYER_FIELDS = [f.name for f in fields(LayerResult)]
_ROW_FIELDS = [f.name for f in fields(Row)]
_TOTAL_FIELDS = [f.name for f in fields(Totals)]
_MEMORY_FIELDS = [f.name for f in fields(Memory)]
_KV_CACHE_FIELDS = [f.name for f in fields(KVCache)]


def _fields(obj, names) -> dict:
    """Every field of a record (`names`, in order), a receptive field as a mapping."""
    # a record's fields are its attributes, in order: copied whole, in C
    values = dict(vars(obj)) if len(vars(obj)) == len(names) else \
        {name: getattr(obj, name) for name in names}
    if values.get("receptive_field") is not None:      # the one field that is a record
        values["receptive_field"] = _plain(values["receptive_field"])
    return values


def _plain(value):
    """A receptive field as JSON: its fields, starts as whole or half pixels."""
    if not isinstance(value, ReceptiveField):
        return value
    return {"kind": value.kind, "dims": list(value.dims), "size": list(value.size),
            "jump": list(value.jump), "start": [number(s) for s in value.start],
            "note": value.note, "origin": value.origin}


def as_dict(summary: Summary) -> dict:
    return {key: value if not callable(value) else list(value())
            for key, value in _sections(summary)}


def _sections(summary: Summary):
    """The document's keys in order, each with its value, or for the long lists a
    function giving their items one by one."""
    yield from {
        "name": summary.name,
        "file": summary.file,
        "batch": summary.batch,
        "dtype": summary.dtype,
        "dtype_bytes": summary.dtype_bytes,
        "macs_convention": MACS_CONVENTION,
        "inputs": summary.inputs,
        "input_dtypes": summary.input_dtypes,
        "layers": lambda: (_fields(layer, _LAYER_FIELDS) for layer in summary.each_layer()),
        "blocks": lambda: (_fields(row, _ROW_FIELDS) for row in summary.blocks),
        "totals": _fields(summary.totals, _TOTAL_FIELDS),
        "outputs": summary.outputs,
        "warnings": warning_dicts(summary.warnings),
        "memory": _fields(summary.memory, _MEMORY_FIELDS) if summary.memory else None,
        **({"kv_cache": _fields(summary.kv_cache, _KV_CACHE_FIELDS)} if summary.kv_cache
           else {}),
        # sizes written as letters: shapes hold formulas as text, valid under these
        **({"conditions": list(summary.conditions)} if summary.conditions else {}),
        # and MACs of L² and L: each degree's terms, with the types holding the highest
        **({"macs_by_degree": {letter: {"terms": {str(degree): str(term)
                                                  for degree, term in terms},
                                        "highest_degree_from": list(types)}
                               for letter, terms, types in summary.macs_by_degree}}
           if summary.macs_by_degree else {}),
    }.items()


def warning_dicts(warnings) -> list[dict]:
    return [{"location": str(w.loc), "layer": w.layer, "type": w.type, "message": w.message}
            for w in warnings]


def render(summary: Summary) -> str:
    return "".join(chunks(summary))


def chunks(summary: Summary):
    """The document in pieces, a layer a line, each made as it is written: 100,000
    layers never sit in memory as dicts or as one string."""
    yield "{"
    sections = list(_sections(summary))
    field_text = _field_texts()         # the layers' and the blocks' rows' alike
    for index, (key, value) in enumerate(sections):
        comma = "," if index < len(sections) - 1 else ""
        lines = _layer_lines(summary, field_text) if key == "layers" else \
            _row_lines(summary.blocks, field_text, all(
                type(size) is int for shape in summary.inputs.values() for size in shape)) \
            if key == "blocks" else \
            map(_dumps, value()) if callable(value) else \
            map(_dumps, value) if isinstance(value, list) else None
        first = next(lines, None) if lines is not None else None
        if first is None:
            yield f'\n  "{key}": {"[]" if lines is not None else _dumps(value)}{comma}'
            continue
        yield f'\n  "{key}": [\n    {first}'
        while batch := list(islice(lines, 256)):        # fewer, longer writes
            yield "".join([",\n    " + line for line in batch])
        yield f"\n  ]{comma}"
    yield "\n}\n"


def _layer_lines(summary: Summary, field_text):
    """The layers' records, a line each: a record is encoded once for the layers alike
    (a repeated block's), and each one's name, depth, inputs, receptive field and tied
    params written into its gaps (spelled out: 100,000 layers are a second's work)."""
    templates: dict = {}
    for kind, layer in summary.each_layer_alike():
        if kind is None:            # alike no other (and maybe changed since it was made)
            yield _dumps(_fields(layer, _LAYER_FIELDS))
            continue
        template = templates.get(kind)
        if template is None:        # the first of its kind: a whole LayerResult
            template = templates[kind] = _template(_fields(layer, _LAYER_FIELDS),
                                                   _LAYER_OWN)
        tied = layer.tied_params
        yield "".join((template[0], encode_basestring(layer.name), template[1],
                       str(layer.depth), template[2], _names(layer.inputs), template[3],
                       field_text(layer.receptive_field), template[4],
                       _dumps(tied) if tied else "{}", template[5]))


# what a layer of a kind holds of its own, in LayerResult's order, as _layer_lines
# writes them
_LAYER_OWN = LayerOwn._fields


def _row_lines(rows, field_text, numbers: bool):
    """The blocks' rows, a line each: a row is encoded once for the rows alike (a
    repeated block's instances at equal shapes), and each one's name and field written
    into its gaps. Not where sizes are letters (not `numbers`): formulas equal as
    values may be written apart (⌊(H − 1)/4⌋ + 1 and ⌊(H + 3)/4⌋)."""
    if not numbers:
        yield from (_dumps(_fields(row, _ROW_FIELDS)) for row in rows)
        return
    others = attrgetter(*(name for name in _ROW_FIELDS if name not in _ROW_OWN))
    templates: dict = {}
    for row in rows:
        values = others(row)
        key = values, tuple(map(type, values))       # (1, 1.0 and True are equal keys)
        template = templates.get(key)
        if template is None:
            template = templates[key] = _template(_fields(row, _ROW_FIELDS), _ROW_OWN)
        yield "".join((template[0], encode_basestring(row.name), template[1],
                       field_text(row.receptive_field), template[2]))


_ROW_OWN = ("name", "receptive_field")


def _template(record: dict, own: tuple[str, ...]) -> list[str]:
    """A record's JSON (as _dumps writes it) in pieces around the values of its `own`
    fields, which it holds in that order."""
    # encoded at once with a mark in each gap; a value holding the mark's text (none
    # does) is seen by the count of pieces, and then each value is encoded apart
    pieces = _dumps(record | dict.fromkeys(own, _GAP)).split(_GAP_TEXT)
    if len(pieces) == len(own) + 1:
        return pieces
    pieces, text = [], "{"
    for index, (key, value) in enumerate(record.items()):
        text += f"{', ' if index else ''}{_dumps(key)}: "
        if key in own:
            pieces.append(text)
            text = ""
        else:
            text += _dumps(value)
    pieces.append(text + "}")
    return pieces


_GAP = "\x00netcalc:gap\x00"
_GAP_TEXT = '"\\u0000netcalc:gap\\u0000"'     # as _dumps writes it


def _field_texts():
    """A receptive field's JSON, made once per field object (layers that move no dims
    share their input's, a block's row its output layer's) and from a template per kind
    of field, its size and start written in."""
    texts: dict[int, tuple] = {}
    templates: dict = {}

    def text(field) -> str:
        held = texts.get(id(field))
        if held is None:
            if len(texts) > 200_000:      # (more than a spec's layers: never, in practice)
                texts.clear()
            held = texts[id(field)] = (field, made(field))       # (held: its id stays)
        return held[1]

    def made(field) -> str:
        # sizes and starts of whole pixels (a half pixel's start is written as x.5), in a
        # field as the engine makes it (a renderer's reader may have set another since)
        if type(field) is ReceptiveField and all(type(n) is int
                                                 for n in (*field.size, *field.start)):
            # (with the types: 4 and 4.0 are equal keys but are written apart)
            key = (field.kind, field.dims, field.jump, field.note, field.origin,
                   *map(type, field.dims), *map(type, field.jump))
            try:
                template = templates.get(key)
            except TypeError:             # a value that is no key (a list)
                return _dumps(_plain(field))
            if template is None:
                template = templates[key] = _template(_plain(field), ("size", "start"))
            return "".join((template[0], f"[{', '.join(map(str, field.size))}]", template[1],
                            f"[{', '.join(map(str, field.start))}]", template[2]))
        return _dumps(_plain(field))
    return text


def _names(names: tuple[str, ...]) -> str:
    return f"[{', '.join(map(encode_basestring, names))}]"


# default=str: a size written as a letter is its formula, as text (one encoder for
# every line: json.dumps with options makes a new one each call)
# (records hold no cycles: looking for them took a sixth of the time)
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False)


def _dumps(value) -> str:
    return _ENCODER.encode(value)
