"""What the command line needs beside click's own: its path types, and its group."""

from __future__ import annotations

import click

from . import __version__


class OutputPath(click.Path):
    """A file to write: None for '-' (standard output)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        return None if value == "-" else value


SPEC_PATH = click.Path(dir_okay=False, allow_dash=True)     # '-': standard input
OUTPUT_PATH = OutputPath(dir_okay=False, allow_dash=True)
DIRECTORY_PATH = click.Path(file_okay=False)                 # may not exist yet


@click.group(context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]})
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
    except click.ClickException as error:
        error.show()
        return error.exit_code
