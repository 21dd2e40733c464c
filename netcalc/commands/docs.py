"""`netcalc docs`: a ready-to-build MkDocs project, a page per model; --check tells
whether a committed one is stale."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..command_line import DIRECTORY_PATH, SPEC_PATH, load_and_analyze
from ..errors import UsageError


@click.command()
@click.argument("specs", type=SPEC_PATH, nargs=-1, required=True)
@click.option("-o", "--output", "directory", type=DIRECTORY_PATH, required=True,
              help="The project's directory (made if missing): mkdocs.yml, docs/.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Tables and diagrams show this many levels of blocks.")
@click.option("--repeats", type=click.Choice(("all", "once")), default="all", show_default=True,
              help="Diagrams: draw a repeated block's first copy only.")
@click.option("--site-name", default="Models", show_default=True,
              help="The site's name (mkdocs.yml's site_name).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 listing the files that are stale or missing in "
                   "DIRECTORY (for CI or a pre-commit hook), 0 when all are fresh.")
def docs(specs: tuple[str, ...], directory: str, depth: int | None, repeats: str,
         site_name: str, check: bool) -> int | None:
    """A MkDocs project in DIRECTORY, ready for `mkdocs build`: mkdocs.yml with the
    navigation, docs/index.md listing every model, and per SPEC a page (its summary
    table, totals and SVG diagram). Nothing is written unless every SPEC is drawn."""
    from ..render import dot, site

    pages = []
    for spec in specs:          # everything is drawn before anything is written
        _, result = load_and_analyze(spec, (), 1, "float32", depth=depth)
        svg = dot.to_image(dot.render(result, dot.DiagramOptions(depth=depth, repeats=repeats)),
                           "svg")
        pages.append((result, svg))
    files = site.project(pages, site_name)
    target = Path(directory)
    if check:
        return _check(target, files)
    _write(target, files)
    print(f"wrote {len(files)} files to {directory}: mkdocs.yml, docs/index.md and "
          f"{len(pages)} page{'s' if len(pages) != 1 else ''} "
          f"(`mkdocs build -f {target / 'mkdocs.yml'}` makes the site)", file=sys.stderr)
    return None


def _check(target: Path, files: dict[str, str | bytes]) -> int:
    """1, listing them, when a file differs from what would be written or is missing."""
    stale = []
    for name, content in files.items():
        path = target / name
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        try:
            if path.read_bytes() != data:
                stale.append(f"{path}: stale")
        except FileNotFoundError:
            stale.append(f"{path}: missing")
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror}") from None
    for line in stale:
        print(line)
    if stale:
        print(f"netcalc docs --check: {len(stale)} of {len(files)} files in {target} differ "
              "from the specs; run the same command without --check to rewrite them",
              file=sys.stderr)
        return 1
    print(f"netcalc docs --check: the {len(files)} files in {target} are up to date",
          file=sys.stderr)
    return 0


def _write(target: Path, files: dict[str, str | bytes]) -> None:
    """A new directory appears whole (made beside it, then renamed); in an existing one
    each file is replaced atomically."""
    from ..io import directory_beside, write_atomic

    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {target}: not a directory")
    if target.is_dir():
        for name in files:
            _mkdir((target / name).parent)
        for name, content in files.items():
            write_atomic(target / name, content)
        return
    _mkdir(target.absolute().parent)
    with directory_beside(target.absolute(), str(target)) as temp:
        for name, content in files.items():
            path = temp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
        os.rename(temp, target)


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot make {path}: {error.strerror}") from None
