"""The command line's group and what its commands share: path types, options, and
loading a spec, writing output.

Each command lives in a module of netcalc/commands, imported only when that
command runs (click's lazy loading of subcommands): `netcalc summary` does not
load the torch bridge or the students' calculators.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

import click

from . import __version__
from .errors import UsageError, did_you_mean
from .i18n import LANGUAGES


class OutputPath(click.Path):
    """A file to write: None for '-' (standard output)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        return None if value == "-" else value


SPEC_PATH = click.Path(dir_okay=False, allow_dash=True)     # '-': standard input
OUTPUT_PATH = OutputPath(dir_okay=False, allow_dash=True)
DIRECTORY_PATH = click.Path(file_okay=False)                 # may not exist yet



# command -> "module:function" in netcalc/commands
COMMANDS = {
    "summary": "summary:summary", "verify": "verify:verify", "export": "export:export",
    "import": "export:import_", "diagram": "diagram:diagram", "docs": "docs:docs",
    "explain": "students:explain", "check": "students:check", "conv": "students:conv",
    "convtranspose": "students:convtranspose", "pool": "students:pool",
    "linear": "students:linear", "solve": "students:solve", "layers": "layers:layers",
    "fit": "fit:fit",
    "exercise": "exercise:exercise",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when named (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            raise click.UsageError(f"no command '{name}'{did_you_mean(name, list(COMMANDS))}"
                                   " (`netcalc --help` lists them)", ctx)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, function = COMMANDS[name].split(":")
        return getattr(import_module(f"{__package__}.commands.{module}"), function)


@click.group(cls=LazyGroup,
             context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="netcalc",
                      message="%(prog)s, version %(version)s")
@click.option("--debug", is_flag=True, expose_value=False,
              help="Show Python tracebacks for internal errors (anywhere on the line).")
def cli() -> None:
    """netcalc: shapes, parameters, MACs and memory of a neural network spec, computed
    exactly and without torch.

    Shell completion: eval "$(_NETCALC_COMPLETE=bash_source netcalc)" in ~/.bashrc
    (zsh_source, fish_source for those shells).
    """


def run(args: list[str]) -> int | None:
    """Run the command ARGS names: its exit code (None for 0). Help and the version
    print and give 0; a usage error prints click's message and gives 2."""
    try:
        return cli.main(args, prog_name="netcalc", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.NoArgsIsHelpError as error:    # `netcalc` alone: the help
        print(error.ctx.get_help())
        return error.exit_code
    except click.UsageError as error:
        # one line, as netcalc's own errors are, not click's usage block before it
        command = error.ctx.command_path if error.ctx else "netcalc"
        message = error.format_message()
        hint = "" if "--help" in message else f" (`{command} --help` lists the options)"
        print(f"error: {message}{hint}", file=sys.stderr)
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code


# -- what several commands share ---------------------------------------------

kwargs_option = click.option("--kwargs", default=None, metavar="JSON",
                             help="For a torch module (file.py:ClassName): constructor "
                                  "arguments, as a JSON object.")
# options several commands take alike
output_option = click.option("-o", "--output", type=OUTPUT_PATH, default=None,
                             help="Write to this file (atomically); '-' is standard output.")
lang_option = click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default=None,
                           help="Language of the words (default: from LANG, else en).")
named_input_option = click.option(
    "--input", "input_shapes", multiple=True, metavar="SHAPE",
    help="Override the input shape: 3x224x224 (name=SHAPE for a named input).")


def load_and_analyze(spec: str, input_shapes: tuple[str, ...], batch: int, dtype: str,
                     depth: int | None = None, kwargs: str | None = None,
                     letters: bool = False,
                     training: tuple[str, bool, tuple[str, ...]] = ("adam", False, ()),
                     kv_context: int | None = None):
    """The expanded spec and its Summary; warnings go to stderr.

    SPEC is a spec file (YAML or Python), or a torch module to import
    (`file.py:ClassName`, `package.module:factory`).
    """
    from .analyze import analyze
    from .api import load_values
    from .spec import load_spec

    if is_captured(spec):              # the API captures `file.py:factory`
        source = spec
    else:                               # a file's path, or '-': never YAML text
        if kwargs is not None:
            raise UsageError("--kwargs is for a torch module given as file.py:ClassName")
        source = load_spec(spec)
    expanded, overrides = load_values(source, input_shapes, batch, json_kwargs(kwargs),
                                      letters)
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides, depth=depth,
                     optimizer=training[0], amp=training[1], kv_context=kv_context,
                     checkpoint=training[2])
    print_warnings(result)
    return expanded, result


def print_warnings(result) -> None:
    for warning in result.warnings:
        print(f"{warning.loc}: warning: layer '{warning.layer}' ({warning.type}): "
              f"{warning.message}", file=sys.stderr)


def is_captured(spec: str) -> bool:
    """SPEC names a torch model (`file.py:factory`), not a spec file."""
    from .api import is_torch_target
    return ":" in spec and not os.path.exists(spec) and is_torch_target(spec)


def json_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    import json
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--kwargs is not JSON: {error.msg} (at character {error.pos})") \
            from None
    if not isinstance(kwargs, dict):
        raise UsageError('--kwargs must be a JSON object, like \'{"num_classes": 10}\'')
    return kwargs


def emit(text, output: str | None) -> None:
    """Write `text` (a str, or its pieces in turn: a long JSON document) to `output`, or
    else to standard output."""
    if output:
        from .io import write_atomic
        write_atomic(output, text)
        return
    write = sys.stdout.write
    encoding = getattr(sys.stdout, "encoding", None)      # None: a StringIO, which takes str
    if not isinstance(text, str) and encoding and hasattr(sys.stdout, "buffer") \
            and encoding.lower().replace("-", "") != "utf8":
        # pieces are written as made: a later one might not encode where an earlier did,
        # so all in UTF-8, as -o writes (a document in one encoding)
        sys.stdout.flush()
        write = _utf8_writer(sys.stdout.buffer)
    for piece in (text,) if isinstance(text, str) else text:
        try:
            write(piece)
        except BrokenPipeError:
            # the reader left (`| head`): the rest is not wanted, and no error. What is
            # still buffered goes nowhere, as Python's documentation on SIGPIPE advises
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        except UnicodeEncodeError:
            # a standard output that cannot spell a layer's name (PYTHONIOENCODING=ascii,
            # a Latin-1 locale): UTF-8, as -o writes (a piece fails whole, before any of it)
            sys.stdout.flush()
            write = _utf8_writer(sys.stdout.buffer)
            write(piece)


def _utf8_writer(stream):
    return lambda piece: stream.write(piece.encode("utf-8"))


def emit_rich(target, output: str | None, max_width: int | None = None) -> None:
    """Rich output: straight to a terminal, else as plain text wide enough not to wrap."""
    if output is None and sys.stdout.isatty():
        from rich.console import Console
        Console(highlight=False).print(target)
        return
    from .render.console import to_text
    emit(to_text(target, max_width), output)
