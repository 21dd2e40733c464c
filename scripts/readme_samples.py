"""Writes the sample output of README.md and of the documentation's pages
(docs/*.md) from the tool itself, or checks it.

    python scripts/readme_samples.py          rewrite the samples
    python scripts/readme_samples.py --check  exit 1, with a diff, where one is stale

A sample is a fenced block right after a marker naming the command that prints it:

    <!-- sample: netcalc summary specs/alexnet.yaml --depth 1 -->

What the command writes to standard output and standard error, as a terminal
shows it to a person, becomes the block. `| json-excerpt` after the command
keeps the first layer and block of its JSON, with "..." where the rest was.
The spec library's table takes its params and MACs columns from each spec's
summary. tests/test_readme.py runs the check.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def pages() -> list[Path]:
    """The files whose samples are the tool's output: the README and the docs' pages."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]

SAMPLE = re.compile(r"(?P<head><!-- sample: (?P<command>[^\n]*?) -->\n```(?P<lang>\w*)\n)"
                    r"(?P<body>.*?)(?P<tail>^```$)", re.S | re.M)
LIBRARY_ROW = re.compile(r"^\| `(?P<spec>specs/[^`]+)` \| (?P<params>[\d,]+) "
                         r"\| (?P<macs>[\d,]+) \|", re.M)
JSON_WIDTH = 100


def run(command: str) -> str:
    """What `command` prints, run in this process from the checkout's root."""
    from netcalc.cli import main

    command, _, post = command.partition(" | ")
    words = shlex.split(command)
    if words[0] != "netcalc":
        raise ValueError(f"a sample's command starts with 'netcalc': {command!r}")
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)      # the samples name specs by their path in the checkout
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main(words[1:])
    finally:
        os.chdir(cwd)
    text = out.getvalue()
    if post == "json-excerpt":
        return compact_json(json_excerpt(json.loads(text))) + "\n"
    if post:
        raise ValueError(f"unknown step after '|' in a sample: {post!r}")
    return text


def json_excerpt(summary: dict) -> dict:
    """The summary with one layer and one block, and "...": "..." for what was left out."""
    elided = {"...": "..."}
    excerpt = dict(summary)
    for key in ("layers", "blocks"):
        first = dict(summary[key][0])
        if "arguments" in first and len(first["arguments"]) > 4:
            first["arguments"] = {**dict(list(first["arguments"].items())[:4]), **elided}
        excerpt[key] = [first, elided] if len(summary[key]) > 1 else [first]
    return excerpt


def compact_json(value, indent: int = 0) -> str:
    """JSON that fills lines up to JSON_WIDTH, a value that does not fit a line broken
    into its items (the way the README's hand-written sample was laid out)."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent + len(flat) <= JSON_WIDTH or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = indent + 1
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            key_text = json.dumps(key, ensure_ascii=False) + ": "
            items.append(key_text + compact_json(item, inner + len(key_text)))
        opening, closing = "{", "}"
    else:
        items = [compact_json(item, inner) for item in value]
        opening, closing = "[", "]"
    lines = [items[0]]
    for item in items[1:]:
        if "\n" in item or "\n" in lines[-1] or \
                inner + len(lines[-1]) + 2 + len(item) > JSON_WIDTH:
            lines.append(item)
        else:
            lines[-1] += ", " + item
    return opening + (",\n" + " " * inner).join(lines) + closing


def library_numbers(spec: str) -> tuple[int, int]:
    """The params and MACs `netcalc summary SPEC` gives, batch 1."""
    totals = json.loads(run(f"netcalc summary {spec} --format json"))["totals"]
    return totals["params"], totals["macs"]


def regenerate(readme: str) -> str:
    def sample(match: re.Match) -> str:
        return match["head"] + run(match["command"]) + match["tail"]

    def library_row(match: re.Match) -> str:
        params, macs = library_numbers(match["spec"])
        return f"| `{match['spec']}` | {params:,} | {macs:,} |"

    # (what the samples print does not depend on the terminal: to a file or a pipe the
    # table is the same box-drawn table at its natural width)
    return LIBRARY_ROW.sub(library_row, SAMPLE.sub(sample, readme))


def stale_diff(text: str, name: str = "README.md") -> str:
    """A unified diff from the page to what the tool prints now ('' when none)."""
    fresh = regenerate(text)
    return "".join(difflib.unified_diff(text.splitlines(True), fresh.splitlines(True),
                                        name, f"{name} (regenerated)"))


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(__doc__, file=sys.stderr)
        return 2
    stale = 0
    for path in pages():
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if argv == ["--check"]:
            diff = stale_diff(text, name)
            sys.stdout.write(diff)
            stale += bool(diff)
            continue
        fresh = regenerate(text)
        if fresh != text:
            path.write_text(fresh, encoding="utf-8")
            print(f"{name}: samples rewritten")
    if argv == ["--check"] and not stale:
        print("every sample in README.md and docs/*.md matches the tool")
    elif not argv:
        print("every sample in README.md and docs/*.md now matches the tool")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
