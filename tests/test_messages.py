"""The en and zh catalogues stay in step: the same keys, the same placeholders, every
key the code asks for present, and a missing message an error, never English (or
the key) in a Chinese explanation."""

from __future__ import annotations

import ast
import inspect
import string
from pathlib import Path

import pytest

from helpers import SPECS, run_cli
from netcalc import grading
from netcalc.i18n import LANGUAGES, en, message, zh

NETCALC = Path(grading.__file__).resolve().parent


def placeholders(entry) -> set[str]:
    """{name} fields of a format string, or the parameters of a function entry."""
    if callable(entry):
        return set(inspect.signature(entry).parameters)
    return {field.split(".")[0].split("[")[0]
            for _, field, _, _ in string.Formatter().parse(entry) if field is not None}


def test_both_catalogues_have_the_same_keys():
    assert sorted(set(en.MESSAGES) - set(zh.MESSAGES)) == []
    assert sorted(set(zh.MESSAGES) - set(en.MESSAGES)) == []
    assert set(LANGUAGES) == {"en", "zh"}


@pytest.mark.parametrize("key", sorted(en.MESSAGES))
def test_each_message_takes_the_same_placeholders(key):
    assert placeholders(zh.MESSAGES[key]) == placeholders(en.MESSAGES[key])


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
@pytest.mark.parametrize("key", sorted(en.MESSAGES))
def test_each_message_renders_with_its_arguments(lang, key):
    # numbers where a message formats them ({bias:,}), a list where it joins them
    args = {name: [2, 3] if name == "sizes" else "H" if name == "dim" else 12_345
            for name in placeholders(en.MESSAGES[key])}
    text = message(lang, key, **args)
    assert text.strip() and "{" not in text          # every field filled


def _literals(expression) -> set[str]:
    """The keys an expression may be: "a", or both of `"a" if ceil else "b"`."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return {expression.value}
    if isinstance(expression, ast.IfExp):
        return _literals(expression.body) | _literals(expression.orelse)
    return set()          # built at run time: listed by hand below


def _keys_in_code() -> set[str]:
    """Every literal key given to Remark(...) or message(lang, ...) in netcalc."""
    keys = set()
    for path in NETCALC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            position = {"Remark": 0, "message": 1}.get(name)
            if position is not None and len(node.args) > position:
                keys |= _literals(node.args[position])
    return keys


def test_every_key_the_code_asks_for_is_in_both():
    keys = _keys_in_code()
    # and those built at run time: check's questions, explain's headings, the slips
    keys |= {f"{quantity}_q" for quantity in grading.QUANTITIES}
    keys |= {"params", "MACs", "buffers", "features", "output"}
    keys |= {"used_unpadded", "ceil_not_floor", "floor_not_ceil", "forgot_plus_one",
             "forgot_stride"}
    assert len(keys) > 30                       # the scan found the calls
    for catalogue in LANGUAGES.values():
        assert sorted(keys - set(catalogue)) == []


def test_a_missing_message_is_an_error_not_english(monkeypatch):
    assert message("zh", "no_bias") == zh.MESSAGES["no_bias"]
    monkeypatch.delitem(zh.MESSAGES, "no_bias")
    with pytest.raises(LookupError, match="the zh catalogue has no message 'no_bias'"):
        message("zh", "no_bias")
    assert message("en", "no_bias") == en.MESSAGES["no_bias"]


def test_an_empty_message_is_used_as_written(monkeypatch):
    # once `.get(key) or English`: an empty zh message turned into English
    monkeypatch.setitem(zh.MESSAGES, "total", "")
    assert message("zh", "total") == ""


def test_a_missing_message_stops_the_command_in_one_line(monkeypatch, capsys):
    monkeypatch.delitem(zh.MESSAGES, "params")
    code, out, err = run_cli(capsys, "explain", str(SPECS / "lenet5.yaml"), "--lang", "zh")
    assert (code, out) == (3, "")
    assert err.startswith("netcalc: internal error: LookupError: the zh catalogue has no "
                          "message 'params'")
    assert "Traceback" not in err and err.count("\n") == 1


def test_chinese_explanations_use_no_english_words(capsys):
    code, out, _ = run_cli(capsys, "explain", str(SPECS / "lenet5.yaml"), "--lang", "zh")
    assert code == 0
    assert "参数量" in out
    for english in ("params:", "output:", "no bias", "buffers"):
        assert english not in out
