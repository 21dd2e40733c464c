"""The worked computation: each layer's numbers written out as a teacher writes
them on the board, with the user's own values.

A layer type's `explain` rule returns Steps; `explain_layers` gathers them for
a spec. Formulas and workings are language-neutral mathematics; words (remarks
on an inexact division, the headings) are catalogue keys (netcalc/i18n),
filled in by the renderer in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# Spatial dims by rank: what the formulas call them.
SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


@dataclass
class Remark:
    """A sentence for the reader: a catalogue key and its numbers."""

    key: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """One quantity worked out: `H_out = ⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1 = ...`."""

    quantity: str            # what is computed: "H_out", "params", "MACs", "C_out", ...
    formula: str             # in symbols: "⌊(I + 2P − D·(K − 1) − 1) / S⌋ + 1"
    working: str             # with the numbers, ending in the value: "... = 55"
    value: Any               # the result (an int, or a shape)
    remarks: tuple[Remark, ...] = ()


@dataclass
class LayerWorking:
    """A layer's steps, with what it takes and gives."""

    name: str
    type: str
    notation: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    steps: tuple[Step, ...]


def n(value: int) -> str:
    """23296 -> '23,296'."""
    return f"{value:,}"


def product(factors) -> str:
    """(55, 55, 64) -> '55·55·64'."""
    return "·".join(str(f) for f in factors)


def dim_names(rank: int) -> tuple[str, ...]:
    return SPATIAL_NAMES.get(rank, tuple(f"X{i}" for i in range(rank)))


def kernel_symbols(rank: int) -> str:
    """K_h·K_w for 2-d kernels."""
    return "·".join(f"K_{d.lower()}" for d in dim_names(rank)) if rank > 1 else "K"


def out_symbols(rank: int) -> str:
    """H_out·W_out for 2-d outputs."""
    return "·".join(f"{d}_out" for d in dim_names(rank))


def window_steps(rank: int, inputs, kernels, strides, paddings, dilations,
                 ceil_mode: bool = False) -> list[Step]:
    """O = ⌊(I + 2P − D·(K − 1) − 1) / S⌋ + 1 per spatial dim (⌈…⌉ with ceil_mode),
    with a remark where S does not divide exactly."""
    steps = []
    for name, i, k, s, p, d in zip(dim_names(rank), inputs, kernels, strides, paddings,
                                   dilations):
        numerator = i + 2 * p - d * (k - 1) - 1
        round_open, round_close = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
        formula = f"{round_open}({name}_in + 2P − D·(K − 1) − 1) / S{round_close} + 1"
        rounded = -(-numerator // s) if ceil_mode else numerator // s
        out = rounded + 1
        working = (f"{round_open}({i} + 2·{p} − {d}·({k} − 1) − 1) / {s}{round_close} + 1"
                   f" = {round_open}{numerator} / {s}{round_close} + 1 = {out}")
        remarks = []
        if ceil_mode and (out - 1) * s >= i + p:
            # torch: the last window must start inside the input or its left padding
            remarks.append(Remark("ceil_last_window", {"start": (out - 1) * s, "input": i,
                                                       "padding": p, "out": out - 1}))
            out -= 1
            working += f" − 1 = {out}"
        if s > d * (k - 1) + 1:
            remarks.append(Remark("stride_skips", {"stride": s, "window": d * (k - 1) + 1,
                                                   "skipped": s - d * (k - 1) - 1}))
        if numerator % s:
            remarks.insert(0, Remark("ceil_rounds_up" if ceil_mode else "floor_drops", {
                "numerator": numerator, "stride": s, "quotient": f"{numerator / s:g}",
                "rounded": rounded, "uncovered": numerator % s, "dim": name}))
        elif s > 1:
            remarks.append(Remark("divides_exactly", {"numerator": numerator, "stride": s,
                                                      "quotient": numerator // s}))
        steps.append(Step(f"{name}_out", formula, working, out, tuple(remarks)))
    return steps


def same_steps(rank: int, inputs, kernels, dilations) -> list[Step]:
    """padding='same' keeps each size; torch splits D·(K − 1) with the extra one right."""
    steps = []
    for name, i, k, d in zip(dim_names(rank), inputs, kernels, dilations):
        total_pad = d * (k - 1)
        steps.append(Step(f"{name}_out", f"{name}_in", f"{i}", i, (Remark("same_padding", {
            "total": total_pad, "left": total_pad // 2, "right": total_pad - total_pad // 2,
            "dilation": d, "kernel": k}),)))
    return steps


def transposed_steps(rank: int, inputs, kernels, strides, paddings, dilations,
                     output_paddings) -> list[Step]:
    """O = (I − 1)·S − 2P + D·(K − 1) + output_padding + 1 per spatial dim."""
    return [Step(f"{name}_out", f"({name}_in − 1)·S − 2P + D·(K − 1) + output_padding + 1",
                 f"({i} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = "
                 f"{(i - 1) * s - 2 * p + d * (k - 1) + op + 1}",
                 (i - 1) * s - 2 * p + d * (k - 1) + op + 1)
            for name, i, k, s, p, d, op in zip(dim_names(rank), inputs, kernels, strides,
                                               paddings, dilations, output_paddings)]


def shape_text(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def count_step(quantity: str, formula: str, factors_text: str, value: int,
               remarks: tuple[Remark, ...] = ()) -> Step:
    """`params = (11·11·3 + 1)·64 = 23,296`: the factors, then the value."""
    return Step(quantity, formula, f"{factors_text} = {n(value)}", value, remarks)


def explain_layers(spec, summary, names: tuple[str, ...] = ()) -> list[LayerWorking]:
    """Each layer's working (the layers `names` names, or in the blocks it names); after
    them the KV cache's, where the summary sized one (`--kv-cache`)."""
    from .errors import UsageError, did_you_mean

    chosen = []
    for spec_layer, result in zip(spec.layers, summary.layers):
        if names and not any(result.name == n or result.name.startswith(f"{n}.")
                             for n in names):
            continue
        layer = spec_layer.layer.for_batch(summary.batch)
        chosen.append(LayerWorking(
            result.name, result.type, result.notation, result.input_shapes,
            result.output_shape, result.params, result.macs,
            tuple(layer.explain(result.input_shapes, result.output_shape))))
    known = [r.name for r in summary.layers] + [b.name for b in summary.blocks]
    for name in names:
        if name not in known:
            raise UsageError(f"--layer {name}: no layer or block of that name in "
                             f"{summary.name}{did_you_mean(name, known)}")
    if summary.kv_cache:
        chosen.append(kv_cache_working(summary.kv_cache, summary.dtype))
    return chosen


def kv_cache_step(kv) -> Step:
    """`KV cache = 2·layers·kv_heads·head_dim·context·bytes`, with the numbers."""
    size = (Remark("kv_cache_size", {"mib": kv.sequence_bytes / 2**20}),)
    if kv.layer_token_elements:
        windowed = kv.positions < kv.context     # a sliding window keeps its last W
        return count_step("KV cache", "2·layers·(kv_heads·head_dim)·"
                          f"{'window' if windowed else 'context'}·bytes",
                          f"2·{kv.layers}·{kv.layer_token_elements:,}·{kv.positions:,}·"
                          f"{kv.dtype_bytes}", kv.sequence_bytes, size)
    return count_step("KV cache", "(K and V elements of every layer)·bytes",
                      f"{kv.elements:,}·{kv.dtype_bytes}", kv.sequence_bytes, size)


def kv_cache_working(kv, dtype: str) -> LayerWorking:
    """`explain --kv-cache`: the cache a decoder keeps per sequence, worked out."""
    return LayerWorking("KV cache", "generation",
                        f"{kv.layers} causal attention layer{'s' if kv.layers != 1 else ''}, "
                        f"{kv.context:,} tokens, {dtype}", (), (), 0, 0, (kv_cache_step(kv),))
