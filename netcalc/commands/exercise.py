"""`netcalc exercise`: variants of an exercise template, each written as its filled
spec, question sheet, answer key and working (exercises.py draws them; render/exercise.py
writes their texts; this writes the files)."""

from __future__ import annotations

import os
import re
import sys

import click

from ..command_line import DIRECTORY_PATH, SPEC_PATH, lang_option
from ..errors import UsageError

# the files of variant NN; a directory holding only these may be replaced (--force)
FILE_SUFFIXES = (".yaml", ".question.md", ".key.yaml", ".working.md")
_WRITTEN = re.compile(r"variant_\d+(" + "|".join(re.escape(s) for s in FILE_SUFFIXES) + ")")


@click.command()
@click.argument("template", type=SPEC_PATH)
@click.option("--seed", type=int, required=True,
              help="The draws' seed: the same seed gives the same files.")
@click.option("--count", type=click.IntRange(min=1, max=1000), default=30, show_default=True,
              help="Variants to write (fewer where the template gives fewer networks).")
@click.option("-o", "--output", "directory", type=DIRECTORY_PATH, required=True,
              help="The directory to write (a new or empty one).")
@click.option("--force", is_flag=True,
              help="Replace a directory of earlier exercises (one holding only their files).")
@lang_option
def exercise(template: str, seed: int, count: int, directory: str, force: bool,
             lang: str | None) -> None:
    """Fill TEMPLATE's draws (`${choice(3, 5, 7)}`, `${randint(16, 64)}`) COUNT times,
    keeping valid, distinct networks, and write each variant to DIR: variant_NN.yaml
    (the filled spec), .question.md (the question sheet), .key.yaml (the answers, for
    `netcalc check`) and .working.md (the answers worked out)."""
    from ..exercises import exercise as make_exercise
    from ..i18n import language

    if template == "-":
        raise UsageError("give the template's file: its name goes into the variants")
    variants = make_exercise(template, seed=seed, count=count, lang=language(lang))
    width = max(2, len(str(len(variants))))
    files = {}
    for variant in variants:
        stem = f"variant_{variant.number:0{width}d}"
        files.update({stem + ".yaml": variant.spec_text,
                      stem + ".question.md": variant.question_markdown,
                      stem + ".key.yaml": variant.answers_yaml,
                      stem + ".working.md": variant.working_markdown})
    write_directory(directory, files, force)
    if len(variants) < count:
        print(f"warning: the template gave {len(variants)} distinct valid network"
              f"{'s' if len(variants) != 1 else ''}, not {count}: wrote those",
              file=sys.stderr)
    last = f"variant_{len(variants):0{width}d}"
    first = f"variant_{1:0{width}d}"
    shown = first if len(variants) == 1 else f"{first} … {last}"
    print(f"wrote {len(variants)} variant{'s' if len(variants) != 1 else ''} of {template} "
          f"(seed {seed}) to {directory}: {shown}" + ", each .yaml (the spec), .question.md, "
          ".key.yaml (for netcalc check), .working.md")


def write_directory(directory: str, files: dict[str, str], force: bool) -> None:
    """Write `files` into a new directory beside `directory`, then rename it into place:
    a failed run leaves no half-written exercise. An existing `directory` is replaced only
    if it is empty, or with `force` if it holds nothing but an earlier exercise's files."""
    import pathlib
    import shutil
    import tempfile

    from ..io import directory_beside, write_atomic

    target = os.path.abspath(directory)
    existing = None
    if os.path.lexists(target):
        if not os.path.isdir(target) or os.path.islink(target):
            raise UsageError(f"-o {directory}: not a directory")
        existing = os.listdir(target)
        others = sorted(name for name in existing if not _WRITTEN.fullmatch(name))
        if others:
            raise UsageError(f"-o {directory} holds other files ({', '.join(others[:3])}"
                             f"{', …' if len(others) > 3 else ''}): give a new or empty "
                             "directory")
        if existing and not force:
            raise UsageError(f"-o {directory} holds an earlier exercise: --force replaces it")
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise UsageError(f"-o {directory}: no such directory {parent}")
    with directory_beside(pathlib.Path(target), directory) as temporary:
        for name, text in files.items():
            write_atomic(temporary / name, text)
        if existing:                  # an earlier exercise: swapped out, then removed
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old.", dir=parent)
            os.replace(target, os.path.join(old, "exercise"))
            try:
                os.replace(temporary, target)
            except OSError:
                os.replace(os.path.join(old, "exercise"), target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:                         # missing, or empty: renaming onto it replaces it
            os.replace(temporary, target)
