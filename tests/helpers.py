"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from netcalc.analyze import analyze
from netcalc.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def summarize(path, **options):
    return analyze(load_spec(path), **options)


def summarize_text(text: str, file: str = "test.yaml", **options):
    return analyze(parse_spec(text, file), **options)
