"""The README and the documentation's pages (docs/*.md) show what the tool prints
today.

Their samples are written by scripts/readme_samples.py from the tool's own
output; a sample that no longer matches fails here with the diff, and
`python scripts/readme_samples.py` rewrites it. The synopsis of every command
(docs/commands.md) names every option its --help lists.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from helpers import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS_PAGE = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix()
                              for p in (ROOT / "docs").glob("*.md"))]


def _samples_module():
    spec = importlib.util.spec_from_file_location("readme_samples",
                                                  ROOT / "scripts" / "readme_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_samples_are_in_the_readme_and_the_pages():
    samples = _samples_module()
    texts = {page: (ROOT / page).read_text(encoding="utf-8") for page in PAGES}
    assert [p.relative_to(ROOT).as_posix() for p in samples.pages()] == PAGES
    assert len(samples.SAMPLE.findall(README)) >= 2      # the markers are still there
    assert sum(len(samples.SAMPLE.findall(text)) for text in texts.values()) >= 15
    library = texts["docs/library.md"]
    assert len(samples.LIBRARY_ROW.findall(library)) >= 30


@pytest.mark.parametrize("page", PAGES)
def test_every_sample_is_what_the_tool_prints(page):
    samples = _samples_module()
    diff = samples.stale_diff((ROOT / page).read_text(encoding="utf-8"), page)
    assert diff == "", (f"{page} is stale; `python scripts/readme_samples.py` rewrites "
                        "it:\n" + diff)


def test_a_stale_sample_is_found():
    samples = _samples_module()
    stale = README.replace("│     23,296 │", "│     23,297 │", 1)
    assert stale != README
    assert "-│ conv1 … │ conv_relu         │ [1, 64, 55, 55]  │     23,297" in \
        samples.stale_diff(stale)


def _synopsis() -> dict[str, str]:
    """Each command's lines in the synopsis block, the first of docs/commands.md."""
    block = COMMANDS_PAGE.split("# Commands", 1)[1].split("```", 2)[1]
    lines: dict[str, str] = {}
    command = None
    for line in block.splitlines():
        start = re.match(r"netcalc (\w+)", line)
        if start:
            command = start[1]
        if command:
            lines[command] = lines.get(command, "") + " " + line
    return lines


def _options(help_text: str) -> list[tuple[str, ...]]:
    """The flags of each option the help lists, as ('-o', '--output')."""
    options = []
    for line in help_text.splitlines():
        if re.match(r"\s+-", line):
            flags = tuple(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", re.split(r"\s{2,}",
                                                                             line.strip())[0]))
            if flags and "--help" not in flags:
                options.append(flags)
    return options


def _commands(capsys) -> list[str]:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    listing = out.split("\nCommands:\n", 1)[1]          # click's list, a command a line
    return re.findall(r"^ {2}([a-z]+)\b", listing, re.M)


def test_the_synopsis_has_every_command(capsys):
    commands = _commands(capsys)
    assert "summary" in commands and "layers" in commands
    assert sorted(_synopsis()) == sorted(commands)


@pytest.mark.parametrize("command", sorted(_synopsis()))
def test_the_synopsis_names_every_option(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    synopsis = _synopsis()[command]
    missing = [flags[-1] for flags in _options(out)
               if not any(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", synopsis)
                          for flag in flags)]
    assert missing == [], f"docs/commands.md's synopsis of `netcalc {command}` lacks {missing}"
