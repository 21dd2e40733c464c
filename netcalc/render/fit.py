"""`netcalc fit`'s output: the best configuration, the budget, how it was found, and a
table of the best few beside the nearest that did not fit."""

from __future__ import annotations

import json

from ..fitting import FIGURES, Candidate, Fit, describe_values
from .units import count, si, size

_HEADINGS = {"params": "params", "macs": "MACs", "memory": "memory"}


def _limit_text(fit: Fit) -> str:
    parts = []
    for figure, limit in fit.budget.limits().items():
        shown = size(limit) if figure == "memory" else f"{count(limit)} ({si(limit)})"
        kind = (" (a training step)" if fit.budget.training else " (inference)") \
            if figure == "memory" else ""
        parts.append(f"{_HEADINGS[figure]} ≤ {shown}{kind}")
    return ", ".join(parts)


def _figure_text(candidate: Candidate, figure: str) -> str:
    value = candidate.figure(figure)
    return size(value) if figure == "memory" else count(value)


def _verdict(candidate: Candidate, fit: Fit, best: Candidate) -> str:
    if candidate is best:
        return "✓ best"
    if candidate.error:
        return f"✗ {candidate.error}"
    if candidate.over:
        limits = fit.budget.limits()
        excess = {f: candidate.figure(f) - limits[f] for f in candidate.over}
        return "✗ " + ", ".join(f"{_HEADINGS[f]} over by "
                                f"{size(by) if f == 'memory' else count(by)}"
                                for f, by in excess.items())
    return "✓"


def listed(fit: Fit, top: int) -> list[Candidate]:
    """The best `top` that fit, then the nearest computed ones that did not (those just
    past the budget, by the maximized figure)."""
    ranked = fit.ranked()[:top]
    best = ranked[0]
    beyond = sorted((c for c in fit.candidates if not c.fits and not c.error
                     and c.figure(fit.maximize) > best.figure(fit.maximize)),
                    key=lambda c: c.figure(fit.maximize))[:2]
    return ranked + beyond


def plain_text(fit: Fit, top: int = 5) -> str:
    best = fit.best
    ranges = ", ".join(f"{name} in {describe_values(v)}" for name, v in fit.vary.items())
    how = (f"bisection ({len(fit.candidates)} of {fit.configurations:,} configurations "
           f"computed: the figures grow with {next(iter(fit.vary))})"
           if fit.method == "bisection" else
           f"every configuration ({len(fit.candidates):,} computed)")
    best_values = ", ".join(f"{k}={v}" for k, v in best.values.items())
    lines = [f"{fit.name}: {ranges}; budget {_limit_text(fit)}; maximize {fit.maximize}",
             f"best: {best_values}: {count(best.params)} params ({si(best.params)}), "
             f"{count(best.macs)} MACs ({si(best.macs)}), memory {size(best.memory)}",
             f"searched by {how}"]
    invalid = [c for c in fit.candidates if c.error]
    if invalid:
        first = invalid[0]
        example = ", ".join(f"{k}={v}" for k, v in first.values.items())
        lines.append(f"{len(invalid):,} of them {'is' if len(invalid) == 1 else 'are'} no "
                     f"valid network (at {example}: {first.error})")
    largest = max(fit.candidates, key=lambda c: tuple(c.values.values()))
    if best.values == largest.values and len(fit.vary) == 1:
        lines.append(f"the largest value tried fits: widen --vary {next(iter(fit.vary))} "
                     "to search further")
    columns = [*fit.vary, *FIGURES, ""]
    rows = [[*(str(v) for v in c.values.values()), *(_figure_text(c, f) for f in FIGURES),
             _verdict(c, fit, best)] for c in listed(fit, top)]
    headings = [*fit.vary, *(_HEADINGS[f] for f in FIGURES), ""]
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(headings)]
    lines.append("")
    for row in [headings, *rows]:
        cells = [cell.rjust(width) if k < len(columns) - 1 else cell
                 for k, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render_json(fit: Fit) -> str:
    def candidate(c: Candidate) -> dict:
        return {"values": c.values, "params": c.params, "macs": c.macs, "memory": c.memory,
                "fits": c.fits, "over": list(c.over), "error": c.error or None}

    return json.dumps({
        "name": fit.name, "file": fit.file,
        "vary": {name: list(values) for name, values in fit.vary.items()},
        "budget": {**{f"max_{k}": v for k, v in fit.budget.limits().items()},
                   "memory_counts": "training" if fit.budget.training else "inference"},
        "maximize": fit.maximize, "method": fit.method,
        "configurations": fit.configurations,
        "best": candidate(fit.best),
        "ranked": [candidate(c) for c in fit.ranked()],
        "computed": [candidate(c) for c in fit.candidates],
    }, indent=2) + "\n"
