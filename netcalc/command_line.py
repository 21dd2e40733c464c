"""Commands declared with decorators, parsed by argparse.

cli.py declares each command as a function with its arguments and options
above it (click's style); this module turns those into one argparse parser.
argparse rather than click: importing click took about a fifth of a whole
`netcalc summary` run, and a static summary should start fast.
"""

from __future__ import annotations

import argparse
import os


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


def output_path(text: str) -> str | None:
    """An argparse type: a file to write, or None for '-' (standard output)."""
    return None if file_path(text) == "-" else text


def directory_path(text: str) -> str:
    """An argparse type: a directory's path, which may not exist yet."""
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"'{text}' is a file, not a directory")
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
    name = flags[-1].lstrip("-").replace("-", "_")
    if dest or multiple:          # `_parse` finds a multiple option's values by its dest
        settings["dest"] = dest or name
    if multiple:
        settings["action"] = "append"
    if flag:
        settings["action"] = "store_true"
    if not flag and "metavar" not in settings and "choices" not in settings:
        settings["metavar"] = name.upper()
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
        """The whole program's parser: for its help, its version and a mistyped command."""
        parser = _parser(self.prog, self.description)
        parser.add_argument("--version", action="version",
                            version=f"{self.prog}, version {self.version}")
        parser.add_argument("--debug", action="store_true",
                            help="Show Python tracebacks for internal errors.")
        commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        for name, function in self.functions.items():
            description = _description(function)
            paragraph = " ".join(description.split("\n\n")[0].split())
            _declare_on(commands.add_parser(name, help=paragraph.split(". ")[0].rstrip("."),
                                            description=description, **_PARSING), function)
        return parser

    def run(self, args: list[str]) -> int | None:
        """Parse ARGS and call the command: its exit code (None for 0). Help, the
        version and a usage error print, as argparse does, and give 0 or 2."""
        try:
            function, parsed = self._parse(args)
        except SystemExit as done:
            code = done.code
            return code if isinstance(code, int) else (0 if code is None else 2)
        return function(**parsed)

    def _parse(self, args: list[str]):
        function = self.functions.get(args[0]) if args else None
        if function is None:          # no command, or not one: the whole program's parser
            parser = self.parser()
            if not args:
                parser.print_help()
                raise SystemExit(2)
            parsed = vars(parser.parse_args(args))
            function = self.functions[parsed.pop("command")]
            parsed.pop("debug")
        else:
            # only the command's own parser: declaring all of them took ~5 ms a run;
            # intermixed, as click allowed: `docs a.yaml -o out b.yaml`
            parser = _parser(f"{self.prog} {args[0]}", _description(function))
            parsed = vars(_declare_on(parser, function).parse_intermixed_args(args[1:]))
        for _, _, settings in function.__dict__.get("declared", []):
            if settings.get("action") == "append":
                parsed[settings["dest"]] = tuple(parsed[settings["dest"]] or ())
        return function, parsed


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description, **_PARSING)


def _description(function) -> str:
    """The command's docstring, its indentation removed."""
    first, _, rest = (function.__doc__ or "").strip().partition("\n")
    return "\n".join([first, *(line.removeprefix("    ") for line in rest.split("\n"))])


def _declare_on(parser: argparse.ArgumentParser, function) -> argparse.ArgumentParser:
    for kind, names, settings in function.__dict__.get("declared", []):
        if kind == "argument":
            if "choices" not in settings:
                settings = {"metavar": names[0].upper(), **settings}
            parser.add_argument(names[0], **settings)
        else:
            parser.add_argument(*names, **settings)
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; the terminal's width found without `shutil` (argparse
    imports it, and with it zlib, bz2 and lzma, for every argument it declares)."""

    def __init__(self, prog: str):
        columns = os.environ.get("COLUMNS", "")
        try:
            width = int(columns) if columns.isdigit() else os.get_terminal_size(1).columns
        except OSError:          # not a terminal
            width = 80
        super().__init__(prog, width=width - 2)


# every parser alike; allow_abbrev=False: an option is its whole name (`--output`
# must not become convtranspose's `--output-padding`)
_PARSING = {"allow_abbrev": False, "formatter_class": _Formatter}
