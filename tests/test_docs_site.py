"""The documentation sites, as a person sees them: `netcalc docs` projects and this
repository's own site (mkdocs.yml) build with `mkdocs build --strict`; the pages
hold the table and the diagram; the MkDocs plugin replaces its fenced blocks; the
layer reference lists every registered type; headless Chromium screenshots of a
model page and of the layer reference are not blank.

Set NETCALC_SCREENSHOTS=DIR to keep the screenshots (to look at them).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from helpers import ROOT, SPECS, run_cli

pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONWARNINGS": "ignore"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium or chromium-browser on PATH (scripts/test.sh "
                             "installs Debian's `chromium` with apt-get)")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot draws the diagrams")

pytestmark = needs_dot


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, env=ENV, timeout=120)


# -- `netcalc docs`: a ready-to-build project ----------------------------------------

MODELS = (str(SPECS / "alexnet.yaml"), str(SPECS / "resnet18.yaml"))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """`netcalc docs alexnet resnet18 -o DIR --depth 2`, built once: DIR/site."""
    from netcalc.cli import main

    directory = tmp_path_factory.mktemp("models") / "project"
    assert main(["docs", *MODELS, "-o", str(directory), "--depth", "2"]) == 0
    built = mkdocs_build(directory / "mkdocs.yml", directory / "site")
    assert built.returncode == 0, built.stderr
    return directory


def test_netcalc_docs_builds_strict_with_a_page_per_model(project):
    for name in ("alexnet", "resnet18"):
        html = (project / "site" / name / "index.html").read_text(encoding="utf-8")
        assert_table_and_diagram(html, project / "site" / name, "conv1")
    index = (project / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="resnet18/"' in index and "11,689,512 (11.69 M)" in index


def assert_table_and_diagram(html: str, page_dir: Path, layer: str) -> None:
    """The page holds the summary table (with `layer` in it) and a non-empty diagram:
    an inline <svg> with drawn nodes, or an <img> whose SVG file has them."""
    table = re.search(r"<table>(.*?)</table>", html, re.S)
    assert table and "<th>Layer</th>" in table[1] and f"<td>{layer}" in table[1] \
        or f"<strong>{layer}</strong>" in table[1], "no summary table"
    svg = re.search(r'<div class="netcalc-diagram"[^>]*>\s*(<svg\b.*?</svg>)', html, re.S)
    if svg is None:
        img = re.search(r'<img[^>]*src="([^"]+\.svg)"', html)
        assert img, "neither an inline <svg> nor an <img> of the diagram"
        svg_text = (page_dir / img[1]).resolve().read_text(encoding="utf-8")
    else:
        svg_text = svg[1]
    assert svg_text.count('class="node"') >= 5, "the diagram draws no nodes"


def test_check_is_quiet_and_0_when_the_project_is_fresh(project, capsys):
    code, out, err = run_cli(capsys, "docs", "--check", *MODELS, "-o", str(project),
                             "--depth", "2")
    assert code == 0, out + err
    assert out == "" and "up to date" in err


def test_check_lists_stale_and_missing_files_and_writes_nothing(project, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("site"))
    page = copy / "docs" / "alexnet.md"
    page.write_text(page.read_text() + "edited by hand\n")
    (copy / "docs" / "resnet18.svg").unlink()
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    code, out, err = run_cli(capsys, "docs", "--check", *MODELS, "-o", str(copy),
                             "--depth", "2")
    assert code == 1
    assert out.splitlines() == [f"{page}: stale", f"{copy / 'docs' / 'resnet18.svg'}: missing"]
    assert "2 of 6 files" in err
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    # other options give other files: --depth is part of what is checked
    code, out, _ = run_cli(capsys, "docs", "--check", *MODELS, "-o", str(project))
    assert code == 1 and f"{project / 'docs' / 'resnet18.md'}: stale" in out


def test_check_of_a_missing_directory_lists_every_file_and_makes_nothing(tmp_path, capsys):
    target = tmp_path / "nothing-yet"
    code, out, _ = run_cli(capsys, "docs", "--check", MODELS[0], "-o", str(target))
    assert code == 1 and len(out.splitlines()) == 4 and out.count(": missing") == 4
    assert not target.exists()


def test_the_same_specs_give_the_same_bytes(project, tmp_path, capsys):
    again = tmp_path / "again"
    assert run_cli(capsys, "docs", *MODELS, "-o", str(again), "--depth", "2")[0] == 0
    for path in again.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (project / path.relative_to(again)).read_bytes()


def test_rewriting_an_existing_project_keeps_other_files(project, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("site"))
    (copy / "docs" / "alexnet.md").write_text("stale")
    (copy / "docs" / "mine.md").write_text("my own page")
    assert run_cli(capsys, "docs", *MODELS, "-o", str(copy), "--depth", "2")[0] == 0
    assert (copy / "docs" / "mine.md").read_text() == "my own page"
    assert (copy / "docs" / "alexnet.md").read_bytes() == \
        (project / "docs" / "alexnet.md").read_bytes()
    assert not list(copy.rglob("*.tmp"))


@pytest.mark.parametrize("args, code, message", [
    (["docs", str(SPECS / "alexnet.yaml")], 2, "Missing option '-o'"),
    (["docs", "-o", "x"], 2, "Missing argument"),
    (["docs", str(SPECS / "no_such.yaml"), "-o", "x"], 2, "error: no such spec file"),
])
def test_docs_usage_and_errors_are_one_line_without_traceback(args, code, message, capsys,
                                                              tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got, out, err = run_cli(capsys, *args)
    assert got == code and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_a_file_in_the_way_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "docs", MODELS[0], "-o", str(blocker))
    assert code == 2 and "Traceback" not in err


# -- the MkDocs plugin ------------------------------------------------------------

TINY_SPEC = """name: tiny
input: [3, 16, 16]
layers:
  - {type: conv2d, name: stem, out_channels: 8, kernel_size: 3}
  - {type: relu, name: act}
  - {type: flatten, name: flat}
  - {type: linear, name: head, out_features: 10}
"""

TINY_PAGE = """# Tiny

```netcalc
spec: models/tiny.yaml
```

How to write one:

````markdown
```netcalc
spec: not/replaced.yaml
```
````
"""


def tiny_site(root: Path, page: str = TINY_PAGE, spec: str = TINY_SPEC) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "models" / "tiny.yaml").write_text(spec)
    (root / "docs" / "index.md").write_text(page)
    (root / "mkdocs.yml").write_text("site_name: tiny\nplugins:\n  - netcalc\n"
                                     "markdown_extensions:\n  - tables\n")
    return root / "mkdocs.yml"


def test_the_plugin_replaces_a_block_by_the_table_and_an_svg(tmp_path):
    config = tiny_site(tmp_path / "tiny")
    built = mkdocs_build(config, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert_table_and_diagram(html, tmp_path / "site", "stem")
    assert "<td>head</td>" in html and "15,690" in html           # 8·14·14·10 + 10
    assert "spec: not/replaced.yaml" in html                      # shown, not run
    assert html.count('<div class="netcalc-diagram"') == 1


def test_a_bad_spec_fails_the_build_with_netcalcs_located_error(tmp_path):
    bad = TINY_SPEC.replace("kernel_size: 3", "kernel_size: 30")
    config = tiny_site(tmp_path / "tiny", spec=bad)
    built = mkdocs_build(config, tmp_path / "site")
    assert built.returncode != 0
    assert re.search(r"index\.md:3: .*models/tiny\.yaml:4:\d+: error: layer 'stem' "
                     r"\(conv2d\): kernel 30 is larger", built.stderr), built.stderr
    assert "Traceback" not in built.stderr


@pytest.mark.parametrize("body, message", [
    ("show: [table]\n", "names its spec"),
    ("spec: models/tiny.yaml\nshow: [graph]\n", "show: [\"graph\"]"),
    ("spec: models/tiny.yaml\ndepth: 0\n", "depth: 0"),
    ("spec: models/tiny.yaml\ncolour: red\n", "unknown key 'colour'"),
])
def test_a_wrong_block_is_a_located_build_error(body, message):
    from mkdocs.exceptions import PluginError

    from netcalc.mkdocs_plugin import _options, replace_blocks

    page = f"# Page\n\ntext\n\n```netcalc\n{body}```\n"
    with pytest.raises(PluginError, match=re.escape(message)) as error:
        replace_blocks(page, lambda kind, text, line: str(_options(text)), "page.md")
    assert "page.md:5:" in str(error.value)


def test_blocks_inside_other_fences_and_tildes_stay():
    from netcalc.mkdocs_plugin import replace_blocks

    page = ("```netcalc\nspec: a\n```\n\n````md\n```netcalc\nspec: b\n```\n````\n\n"
            "~~~netcalc\nspec: c\n~~~\n\n```netcalc-layers\n```\n")
    seen = []
    out = replace_blocks(page, lambda kind, body, line: seen.append((kind, body, line))
                         or f"<{kind}>")
    assert seen == [("netcalc", "spec: a", 1), ("netcalc-layers", "", 15)]
    assert out.startswith("<netcalc>\n") and "spec: b" in out and "spec: c" in out
    assert out.rstrip().endswith("<netcalc-layers>")


def test_the_plugin_is_registered_and_netcalc_never_imports_mkdocs():
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group="mkdocs.plugins") if e.name == "netcalc"]
    assert [e.value for e in found] == ["netcalc.mkdocs_plugin:NetcalcPlugin"]
    code = ("import sys, netcalc\nfrom netcalc.cli import main\n"
            "assert main(['summary', 'specs/alexnet.yaml']) == 0\n"
            "assert main(['docs', '--help']) == 0\n"
            "sys.exit(sorted(m for m in sys.modules if m.split('.')[0] == 'mkdocs') != [])")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr


# -- this repository's own site ------------------------------------------------------

@pytest.fixture(scope="module")
def our_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site") / "site"
    built = mkdocs_build(ROOT / "mkdocs.yml", site)
    assert built.returncode == 0, built.stderr
    return site


def test_our_site_builds_strict_with_every_page_in_the_nav(our_site):
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav):
        for item in nav:
            for value in item.values():
                yield from pages(value) if isinstance(value, list) else [value]

    assert sorted(pages(config["nav"])) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    for page in pages(config["nav"]):
        out = our_site / ("index.html" if page == "index.md"
                          else f"{page.removesuffix('.md')}/index.html")
        assert out.exists(), page


def test_the_readme_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]*)", readme)
    assert len(links) >= 12
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_layer_reference_lists_every_registered_type(our_site):
    from netcalc.layers.registry import catalog

    html = (our_site / "layers" / "index.html").read_text(encoding="utf-8")
    entries = catalog()
    missing = [e["type"] for e in entries if f'<h3 id="{e["type"]}">' not in html]
    assert missing == []
    assert f"{len(entries)} layer types" in html
    # the worked formulas, in English and Chinese (conv2d's parameters)
    conv2d = html.split('<h3 id="conv2d">', 1)[1].split("<h3 ", 1)[0]
    assert "(K_h·K_w·C_in + 1)·C_out" in conv2d and "参数量" in conv2d
    assert "<code>out_channels</code>" in conv2d


def test_our_model_page_shows_the_tables_and_diagrams(our_site):
    html = (our_site / "models" / "index.html").read_text(encoding="utf-8")
    assert_table_and_diagram(html, our_site / "models", "conv1")
    assert html.count('<div class="netcalc-diagram"') == 2 and "61,100,840" in html and "11,689,512" in html


# -- screenshots in headless Chromium ------------------------------------------------

def screenshot(page: Path, name: str, tmp_path: Path) -> Path:
    shot = tmp_path / f"{name}.png"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--hide-scrollbars", f"--screenshot={shot}",
                          "--window-size=1280,2000", page.as_uri()],
                         capture_output=True, text=True, timeout=90)
    assert shot.exists(), run.stderr
    keep = os.environ.get("NETCALC_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return shot


def png_colours(path: Path, every: int = 7) -> tuple[int, int, set[bytes]]:
    """Width, height and the colours of a sample of the pixels (every 4th of every
    `every`th row) of an 8-bit RGB(A) PNG: decoded with zlib, no imaging library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data[pos + 8:pos + 8 + length])
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour_type in (2, 6), header
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, colours = bytearray(stride), set()
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:                                   # Sub
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 255
        elif kind == 2:                                 # Up
            row = bytearray(map(lambda a, b: (a + b) & 255, row, prev))
        elif kind == 3:                                 # Average
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:                                 # Paeth
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc
                                    else c)) & 255
        if y % every == 0:
            colours.update(bytes(row[i:i + 3]) for i in range(0, stride, bpp * 4))
        prev = row
    return width, height, colours


def assert_not_blank(shot: Path) -> None:
    assert shot.stat().st_size > 30_000, f"{shot}: {shot.stat().st_size} bytes, blank?"
    width, height, colours = png_colours(shot)
    assert (width, height) == (1280, 2000)
    assert len(colours) >= 50, f"{shot}: {len(colours)} colours, blank?"


@needs_chromium
def test_a_screenshot_of_a_netcalc_docs_model_page(project, tmp_path):
    shot = screenshot(project / "site" / "resnet18" / "index.html", "netcalc-docs-resnet18",
                      tmp_path)
    assert_not_blank(shot)


@needs_chromium
def test_a_screenshot_of_our_model_page(our_site, tmp_path):
    assert_not_blank(screenshot(our_site / "models" / "index.html", "site-models", tmp_path))


@needs_chromium
def test_a_screenshot_of_the_layer_reference(our_site, tmp_path):
    assert_not_blank(screenshot(our_site / "layers" / "index.html", "site-layers", tmp_path))
