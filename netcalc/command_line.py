"""Commands declared with decorators, parsed by argparse.

cli.py declares each command as a function with its arguments and options
above it (click's style); this module turns those into one argparse parser.
argparse rather than click: importing click took about a fifth of a whole
`netcalc summary` run, and a static summary should start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from textwrap import dedent


def at_least(minimum: int):
    """An argparse type: an integer no smaller than `minimum`."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not at least {minimum}")
        return value

    integer.__name__ = f"integer ≥ {minimum}"
    return integer


def file_path(text: str) -> str:
    """An argparse type: a file's path ('-' for a standard stream), not a directory's."""
    if text != "-" and os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"'{text}' is a directory")
    return text


def _declare(function, kind: str, names: tuple[str, ...], settings: dict):
    # decorators apply bottom-up: insert first so that the declarations keep their order
    function.__dict__.setdefault("declared", []).insert(0, (kind, names, settings))
    return function


def argument(name: str, **settings):
    """A positional argument: `nargs="+"` for one or more."""
    return lambda function: _declare(function, "argument", (name,), settings)


def option(*flags: str, dest: str | None = None, multiple: bool = False,
           flag: bool = False, show_default: bool = False, **settings):
    """An option. `multiple`: may be given again, gathered in a tuple; `flag`: takes no
    value; `show_default`: the help ends with the default."""
    if dest:
        settings["dest"] = dest
    if multiple:
        settings["action"] = "append"
    if flag:
        settings["action"] = "store_true"
    if not flag and "metavar" not in settings and "choices" not in settings:
        settings["metavar"] = flags[-1].lstrip("-").upper().replace("-", "_")
    if show_default:
        settings["help"] = f"{settings.get('help', '')} (default: {settings.get('default')})"
    return lambda function: _declare(function, "option", flags, settings)


class Commands:
    """A program's commands, in the order they are declared."""

    def __init__(self, prog: str, description: str, version: str):
        self.prog, self.description, self.version = prog, description, version
        self.functions: dict[str, object] = {}

    def command(self, name: str | None = None):
        def register(function):
            self.functions[name or function.__name__] = function
            return function
        return register

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--version", action="version",
                            version=f"{self.prog}, version {self.version}")
        parser.add_argument("--debug", action="store_true",
                            help="Show Python tracebacks for internal errors.")
        commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        for name, function in self.functions.items():
            first, _, rest = (function.__doc__ or "").strip().partition("\n")
            description = f"{first}\n{dedent(rest)}"
            paragraph = " ".join(description.split("\n\n")[0].split())
            sub = commands.add_parser(name, help=paragraph.split(". ")[0].rstrip("."),
                                      description=description,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
            for kind, names, settings in function.__dict__.get("declared", []):
                if kind == "argument":
                    if "choices" not in settings:
                        settings = {"metavar": names[0].upper(), **settings}
                    sub.add_argument(names[0], **settings)
                else:
                    sub.add_argument(*names, **settings)
        return parser

    def run(self, args: list[str]):
        """Parse ARGS and call the command: its exit code (None for 0). Help, the
        version and a usage error print and raise SystemExit, as argparse does."""
        parsed = vars(self.parser().parse_args(args))
        function = self.functions[parsed.pop("command")]
        parsed.pop("debug")
        for _, names, settings in function.__dict__.get("declared", []):
            if settings.get("action") == "append":
                key = settings.get("dest") or names[-1].lstrip("-").replace("-", "_")
                parsed[key] = tuple(parsed[key] or ())
        return function(**parsed)


def usage_exit_code(error: SystemExit) -> int:
    """argparse's exit code as netcalc's: 0 after help or the version, 2 for usage."""
    code = error.code
    return code if isinstance(code, int) else (0 if code is None else 2)


def echo_error(text: str) -> None:
    print(text, file=sys.stderr)
