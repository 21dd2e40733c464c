"""The words netcalc's explanations use, one catalogue per language.

A catalogue (en.py, zh.py) maps a key to a format string or to a function of
the message's arguments (for plurals). A third language is one more file
here, added to LANGUAGES.
"""

from __future__ import annotations

import os

from . import en, zh

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

LANGUAGES = {"en": en.MESSAGES, "zh": zh.MESSAGES}


def language(chosen: str | None = None) -> str:
    """`--lang`, else the environment's (LC_ALL, LC_MESSAGES, LANG, LANGUAGE), else en."""
    if chosen:
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(variable, "")
        if value:
            code = value.split("_")[0].split(".")[0].split(":")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def message(lang: str, key: str, **args: Any) -> str:
    """The catalogue's words for `key`. A key missing from a catalogue is a bug that
    fails here, never English (or nothing) in a Chinese explanation."""
    try:
        entry = LANGUAGES[lang][key]
    except KeyError:
        raise LookupError(f"the {lang} catalogue has no message {key!r}") from None
    return entry(**args) if callable(entry) else entry.format(**args)
