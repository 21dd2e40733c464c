"""A summary as HTML, for Jupyter (`Summary._repr_html_`): the table's cells and the
footer's lines, as the terminal shows them. Renders results.Summary; computes nothing."""

from __future__ import annotations

from html import escape

from ..results import Summary
from . import table


def render(summary: Summary, show: tuple[str, ...] = ()) -> str:
    names, right_aligned = table.headers(show)
    align = ["right" if right else "left" for right in right_aligned]
    head = "".join(f'<th style="text-align:{a}">{escape(n)}</th>'
                   for n, a in zip(names, align))
    body = []
    for texts, styles in table.rows(summary, show):
        depth = (len(texts[0]) - len(texts[0].lstrip(" "))) // 2
        cells = []
        for index, (text, style, a) in enumerate(zip(texts, styles, align)):
            shown = escape(text.strip() if index == 0 else text)
            if "bold" in style:
                shown = f"<b>{shown}</b>"
            if "italic" in style:
                shown = f"<i>{shown}</i>"
            indent = f"padding-left:{0.5 + 1.2 * depth:.1f}em;" if index == 0 else ""
            cells.append(f'<td style="text-align:{a};{indent}">{shown}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    footer = "".join(f'<tr><th style="text-align:left">{escape(label)}</th>'
                     f'<td style="text-align:left">{escape(value)}</td></tr>'
                     for label, value in table.footer(summary, show))
    return (f'<div class="netcalc-summary"><p><b>{escape(table.title(summary))}</b></p>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<table class="netcalc-totals">{footer}</table></div>')
