"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from netcalc.analyze import analyze
from netcalc.cli import main
from netcalc.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def summarize(path, **options):
    return analyze(load_spec(path), **options)


def summarize_text(text: str, file: str = "test.yaml", **options):
    return analyze(parse_spec(text, file), **options)


# Published figures (torchvision's models; the table), batch 1, 224×224.
PUBLISHED = {
    "alexnet": (61_100_840, 714_188_480),
    "vgg16": (138_357_544, 15_470_264_320),
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet50": (25_557_032, 4_089_184_256),
}


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """`netcalc ARGS` in this process: exit code, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
