"""Rich renderables as plain text, as wide as they need to be (files and pipes)."""

from __future__ import annotations

import io


def natural_width(renderable) -> int:
    """Columns `renderable` takes when nothing constrains it."""
    from rich.console import Console

    return Console(width=10_000, file=io.StringIO()).measure(renderable).maximum


def to_text(renderable, max_width: int | None = None) -> str:
    """Plain text (no colour codes); `max_width` lets wrappable columns wrap."""
    from rich.console import Console

    width = max(80, natural_width(renderable))
    if max_width:
        width = min(width, max_width)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
