"""The default `summary` output: one row per layer, and the totals under it.

The cells are formatted once; a terminal gets them as a rich table (colour,
fitted to its width), files and pipes as the same box-drawn table written
directly, which stays fast at a hundred thousand rows.
"""

from __future__ import annotations

from ..results import Summary
from . import units

FAMILY_STYLE = {
    "conv": "cyan", "linear": "magenta", "norm": "green", "activation": "yellow",
    "pool": "blue", "merge": "red", "block": "bold", "dropout": "dim", "reshape": "dim",
    "embedding": "magenta", "resize": "blue", "pad": "blue", "reduce": "blue",
    "attention": "bright_cyan", "recurrent": "bright_magenta",
}
HEADERS = ("Layer", "Type", "Output shape", "Params", "MACs")
RIGHT_ALIGNED = (False, False, False, True, True)
_NONE = "-"


def title(summary: Summary) -> str:
    return f"{summary.name} ({summary.file}) · batch {summary.batch} · {summary.dtype}"


def headers(show: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The columns and which are right-aligned; `--show rf` adds the receptive field's."""
    if "rf" not in show:
        return HEADERS, RIGHT_ALIGNED
    return HEADERS + units.RF_HEADERS, RIGHT_ALIGNED + (True,) * len(units.RF_HEADERS)


def rows(summary: Summary, show: tuple[str, ...] = ()
         ) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each row's cell texts and rich styles: the inputs, then layers and blocks."""
    rf = "rf" in show
    table = []
    for name, shape in summary.inputs.items():
        blank = ("",) * len(units.RF_HEADERS) if rf else ()
        table.append(((name, "input", units.shape(shape), "", "", *blank),
                      ("italic", "dim", "", "", "", *blank)))
    for row in summary.rows:
        bold = "bold" if row.kind != "layer" else ""
        label = "  " * row.depth + row.name + (" …" if row.collapsed else "")
        kind = row.type + (f" ×{row.copies}" if row.kind == "repeat" else "")
        extra = units.rf_cells(row.receptive_field) if rf else ()
        table.append(((label, kind, units.shape(row.output_shape),
                       units.count(row.params) if row.params else _NONE,
                       units.count(row.macs) if row.macs else _NONE, *extra),
                      (bold, FAMILY_STYLE.get(row.family, ""), "", bold, bold,
                       *("",) * len(extra))))
    return table


def footer(summary: Summary, show: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    t = summary.totals
    outputs = ", ".join(f"{name} {units.shape(shape)}" for name, shape in summary.outputs.items())
    return [
        ("Params", f"{units.count_and_si(t.params)}: "
                   f"{units.count(t.trainable_params)} trainable, "
                   f"{units.count(t.non_trainable_params)} non-trainable; "
                   f"weights {units.count(t.weight_params)}, biases {units.count(t.bias_params)}"),
        *params_footer(summary),
        ("Buffers", f"{units.count(t.buffers)} (running statistics; not parameters)"),
        ("MACs", f"{units.count_and_si(t.macs)}"),
        *degree_footer(summary),
        *causal_footer(summary),
        ("FLOPs", f"{units.count_and_si(t.flops)} = 2 × MACs, "
                  "as torch's FlopCounterMode counts"),
        *memory_footer(summary),
        *kv_cache_footer(summary),
        ("Output", outputs),
        *([("Valid", "for " + ", ".join(summary.conditions))] if summary.conditions else []),
        *(rf_footer(summary) if "rf" in show else []),
    ]


def params_footer(summary: Summary) -> list[tuple[str, str]]:
    """A mixture of experts' active params; weights one layer shares with another."""
    t = summary.totals
    lines = []
    if t.active_params != t.params:
        lines.append(("", f"active {units.count_and_si(t.active_params)} per token: the "
                          "routers and the top_k experts each token runs"))
    lines += [("", f"{layer.name}.{tensor} is {source} (tied: counted once, there)")
              for layer in summary.layers for tensor, source in layer.tied_params.items()]
    return lines


_DEGREES = {0: "constant", 1: "linear", 2: "quadratic", 3: "cubic"}


def degree_footer(summary: Summary) -> list[tuple[str, str]]:
    """MACs as letters, by degree: attention's L² term apart from the linear ones."""
    lines = []
    for letter, terms, types in summary.macs_by_degree:
        parts = [f"{_DEGREES.get(degree, f'degree {degree}')} {units.count(term)}"
                 for degree, term in terms]
        parts[0] += f" (from {', '.join(types)})"
        lines.append(("", f"by degree in {letter}: " + ", ".join(parts)))
    return lines


def causal_footer(summary: Summary) -> list[tuple[str, str]]:
    """The causal-effective MACs, where causal attention computes a useless half."""
    t = summary.totals
    if not t.causal_attention_macs:
        return []
    return [("", f"causal-effective {units.count_and_si(t.causal_effective_macs)}: the "
                 f"causal attention term ({units.count(t.causal_attention_macs)}, the full "
                 "Q·Kᵀ and A·V the math path computes) halved, as FlashAttention's MFU "
                 "counts it (PaLM's and Megatron's keep it whole)")]


def kv_cache_footer(summary: Summary) -> list[tuple[str, str]]:
    """--kv-cache: the cache per sequence, worked, and generation's hold."""
    kv = summary.kv_cache
    if kv is None:
        return []
    if kv.layer_token_elements:
        layers = f"{kv.layers} layer{'s' if kv.layers != 1 else ''}"
        kept = f"{units.count(kv.positions)} tokens" if kv.positions == kv.context else \
            f"{units.count(kv.positions)} positions (the sliding window)"
        worked = (f"2 (K, V) · {layers} · {units.count(kv.layer_token_elements)} "
                  f"(kv_heads·head_dim) · {kept} · {kv.dtype_bytes} bytes")
    else:
        worked = (f"{units.count(kv.elements)} K and V elements over {kv.layers} layers · "
                  f"{kv.dtype_bytes} bytes")
    batch = f"; × batch {summary.batch} = {units.size(kv.batch_bytes)}" \
        if summary.batch != 1 else ""
    return [("KV cache", f"{units.size(kv.sequence_bytes)} per sequence at "
                         f"{units.count(kv.context)} tokens = {worked}{batch}"),
            ("", f"generation {units.size(kv.generation_bytes)}: params + buffers + the KV "
                 "cache (one new token's activations not counted)")]


def memory_footer(summary: Summary) -> list[tuple[str, str]]:
    """Inference's peak and training's hold; the sum of all outputs where sizes are
    letters (no peak is known there)."""
    t, m = summary.totals, summary.memory
    kind = f"{m.optimizer}{', amp' if m.amp else ''}" \
        f"{', checkpointing ' + ', '.join(m.checkpointed) if m.checkpointed else ''}" \
        if m else ""
    if m is None or m.peak_activation_bytes is None:
        sum_of_all = ("Memory", f"input {units.size(t.input_bytes)} + activations "
                                f"{units.size(t.activation_bytes)} + params "
                                f"{units.size(t.param_bytes)} + buffers "
                                f"{units.size(t.buffer_bytes)} = {units.size(t.total_bytes)}")
        if m is None:
            return [sum_of_all]
        return [sum_of_all,
                ("", f"training ({kind}): weights {units.size(m.weight_bytes)} + gradients "
                     f"{units.size(m.gradient_bytes)} + optimizer state "
                     f"{units.size(m.optimizer_bytes)} + buffers {units.size(t.buffer_bytes)} + "
                     "what backward keeps (its peak depends on the sizes)")]
    return [
        ("Memory", f"inference {units.size(m.inference_bytes)}: params "
                   f"{units.size(t.param_bytes)} + buffers {units.size(t.buffer_bytes)} + "
                   f"activations {units.size(m.peak_activation_bytes)} at the peak (input "
                   f"included; each freed after its last use)"),
        *([("", f"+ up to {units.size(m.attention_score_bytes)} for one layer's attention "
                 "scores and softmax (2·N·heads·L·S) on torch's math path; fused kernels "
                 "(flash attention) hold none")] if m.attention_score_bytes else []),
        ("", f"training ({kind}) {units.size(m.training_bytes)}: weights "
             f"{units.size(m.weight_bytes)} + gradients {units.size(m.gradient_bytes)} + "
             f"optimizer state {units.size(m.optimizer_bytes)} + buffers "
             f"{units.size(t.buffer_bytes)} + kept for backward "
             f"{units.size(m.saved_activation_bytes)}"),
    ]


def rf_footer(summary: Summary) -> list[tuple[str, str]]:
    """What the RF columns mean, and why some rows have no grid."""
    notes = units.rf_notes([row.receptive_field for row in summary.rows])
    return [("RF", units.RF_LEGEND), *(("", note) for note in notes)]


# the widest shape the terminal table keeps on one line ([1, 1024, 14, 14] and longer)
SHAPE_ON_ONE_LINE = 24
# the least a folding column (a name, a type) is given in a narrow terminal
FOLDED_LEAST = 8


def narrowest(summary: Summary, show: tuple[str, ...] = ()) -> int:
    """The fewest terminal columns the table fits without cutting a count."""
    names, right_aligned = headers(show)
    widths = column_widths([texts for texts, _ in rows(summary, show)], names)
    fixed, folding = _fixed(widths, right_aligned)
    return fixed + FOLDED_LEAST * len(folding)


def _fixed(widths: list[int], right_aligned: tuple[bool, ...]) -> tuple[int, list[int]]:
    """The columns the counts, a shape and the borders take; the columns that fold."""
    fixed = 3 * len(widths) + 1                     # "│ " before each, " │" at the end
    folding = []
    for index, (w, right) in enumerate(zip(widths, right_aligned)):
        if right and index >= 3:
            fixed += w
        elif index == 2:
            fixed += min(w, SHAPE_ON_ONE_LINE)
        else:
            folding.append(index)
    return fixed, folding


def _folded_widths(widths: list[int], right_aligned: tuple[bool, ...],
                   width: int | None) -> dict[int, int]:
    """Each folding column's most, where the table is wider than `width`: of the room the
    other columns leave, the names take what they need first (the type gives way)."""
    if width is None or sum(widths) + 3 * len(widths) + 1 <= width:
        return {}
    fixed, folding = _fixed(widths, right_aligned)
    room = max(width - fixed, FOLDED_LEAST * len(folding))
    given = {}
    for k, index in enumerate(folding):
        later = FOLDED_LEAST * (len(folding) - k - 1)     # what the columns after need
        given[index] = max(FOLDED_LEAST, min(widths[index], room - later))
        room -= given[index]
    return given


def column_widths(cells: list[tuple[str, ...]], headers: tuple[str, ...] = HEADERS) -> list[int]:
    """Terminal columns each column's widest cell (or its header) takes."""
    return [max([len(h), *(units.width(texts[i]) for texts in cells)])
            for i, h in enumerate(headers)]


def renderable(summary: Summary, show: tuple[str, ...] = (), width: int | None = None):
    """A rich renderable for a terminal of `width` columns (None: as wide as it needs).
    The counts keep their width and are never cut, nor is a shape up to
    SHAPE_ON_ONE_LINE; where the terminal is narrower than the table, the names and the
    types fold onto further lines, and the footer wraps."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    cells = rows(summary, show)
    names, right_aligned = headers(show)
    widths = column_widths([texts for texts, _ in cells], names)
    folded = _folded_widths(widths, right_aligned, width)
    table = Table(title=title(summary), title_justify="left", title_style="bold",
                  header_style="bold")
    for index, (header, right) in enumerate(zip(names, right_aligned)):
        count = right and index >= 3        # params, MACs: whole numbers, on one line
        least = widths[index] if count else \
            min(widths[index], SHAPE_ON_ONE_LINE) if index == 2 else None
        table.add_column(header, justify="right" if right else "left", no_wrap=count,
                         min_width=least, max_width=folded.get(index), overflow="fold")
    for texts, styles in cells:
        table.add_row(*(Text(text, style=style) for text, style in zip(texts, styles)))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in footer(summary, show):
        grid.add_row(label, value)
    return Group(table, grid)


def plain_text(summary: Summary, show: tuple[str, ...] = ()) -> str:
    """The table drawn with rich's default box characters, without rich (fast)."""
    return box_table(title(summary), *headers(show),
                     [texts for texts, _ in rows(summary, show)], footer(summary, show))


def box_table(caption: str, headers: tuple[str, ...], right_aligned: tuple[bool, ...],
              cells: list[tuple[str, ...]], notes: list[tuple[str, str]]) -> str:
    """A box-drawn table (rich's default box) with labelled lines under it."""
    widths = column_widths(cells, headers)

    def line(left: str, fill: str, joint: str, right: str) -> str:
        return left + joint.join(fill * (w + 2) for w in widths) + right

    def row(texts, bar: str) -> str:
        padded = (units.pad(t, w, r) for t, w, r in zip(texts, widths, right_aligned))
        return bar + bar.join(f" {p} " for p in padded) + bar

    out = [caption, line("┏", "━", "┳", "┓"), row(headers, "┃"), line("┡", "━", "╇", "┩")]
    out += [row(texts, "│") for texts in cells]
    out.append(line("└", "─", "┴", "┘"))
    label_width = max((len(label) for label, _ in notes), default=0)
    out += [f"{label.ljust(label_width)}  {value}" for label, value in notes]
    return "\n".join(text.rstrip() for text in out) + "\n"
