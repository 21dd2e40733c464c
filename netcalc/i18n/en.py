"""English."""

_UNITS = {"H": ("row", "rows"), "W": ("column", "columns")}


def _last(dim: str, count: int) -> str:
    """'the last row of the padded input is', 'the last 3 rows of the padded input are'."""
    one, many = _UNITS.get(dim, ("position", "positions"))
    return f"the last {one} of the padded input is" if count == 1 else \
        f"the last {count} {many} of the padded input are"


MESSAGES = {
    # remarks on a worked step
    "floor_drops": lambda numerator, stride, quotient, rounded, uncovered, dim: (
        f"{numerator} / {stride} = {quotient} is not whole: rounded down to {rounded}, so "
        f"{_last(dim, uncovered)} never covered by a window"),
    "stride_skips": "the stride {stride} is longer than the window {window}: {skipped} of "
                    "every {stride} positions between windows are never read",
    "ceil_rounds_up": lambda numerator, stride, quotient, rounded, uncovered, dim: (
        f"{numerator} / {stride} = {quotient} is not whole: ceil_mode rounds it up to "
        f"{rounded}, so the last window hangs over the edge"),
    "ceil_last_window": "torch drops the last window: it would start at {start}, beyond the "
                        "input and its left padding ({input} + {padding}), leaving {out}",
    "divides_exactly": "{numerator} / {stride} = {quotient} exactly: the windows cover the "
                       "padded input to its last position",
    "same_padding": "padding='same' adds {dilation}·({kernel} − 1) = {total} in all: {left} "
                    "before and {right} after",
    "no_bias": "no bias (bias: false)",
    "bias_not_counted": "adding the bias is not counted (FlopCounterMode counts the "
                        "multiply-accumulates of the product only)",
    "adaptive_exact": "{output} bins of {input}/{output} = {size} each",
    "adaptive_uneven": lambda input, output, sizes: (
        f"{input} does not divide into {output} bins: torch's bins (from ⌊j·{input}/{output}⌋ "
        f"to ⌈(j + 1)·{input}/{output}⌉) are {' or '.join(str(s) for s in sizes)} wide, and "
        "overlap"),
    "buffers_not_params": "the running mean and variance, and the batch count, are buffers, "
                          "not parameters",
    "concat_others_equal": "the other dims must be equal, and stay as they are",
    "elementwise_same": "elementwise: the shapes are equal, the output too",
    "broadcast": "elementwise with broadcasting: each dim is equal, or 1",
    # check: the usual mistakes
    "forgot_bias": "that is the weights alone: the {bias:,} biases (one per output channel or "
                   "feature) are parameters too",
    "counted_buffers": "that counts the {buffers:,} running statistics, which are buffers, "
                       "not parameters",
    "flops_not_macs": "that is FLOPs, 2 × MACs (a multiply-accumulate is two operations); "
                      "the MACs are {macs:,}",
    "macs_not_flops": "that is MACs; FLOPs are 2 × MACs = {flops:,}",
    "counted_batch": "that is {factor} × the answer: counted for a batch of {factor}? The "
                     "question is for one input",
    "channels_last_order": "torch orders a feature map [C, H, W] (channels first), not "
                           "[H, W, C]",
    "batch_differs": "the batch is {batch} here (--batch): the rest is right",
    "empty_answers": "the answers file is empty",
    "used_unpadded": "that is the size without the padding: the input grows by 2P first",
    "ceil_not_floor": "that rounds up; the division rounds down (⌊…⌋) unless ceil_mode is set",
    "floor_not_ceil": "that rounds down; this layer has ceil_mode: true, which rounds up",
    "forgot_plus_one": "that leaves out the + 1: the first window's position counts too",
    "forgot_stride": "that ignores the stride: the windows move S at a time",
    "expected_value": "(expected {value})", "score_line": "Score: {correct} / {total} ({name})",
    "unknown_layer": lambda name, spec, closest: (
        f"no layer or block '{name}' in {spec}"
        + (f"; did you mean '{closest}'?" if closest else "")),
    "dim": "dim {dim}", "output_q": "output", "params_q": "params", "macs_q": "macs",
    "flops_q": "flops", "total": "total", "kv_cache_q": "KV cache (bytes per sequence)",
    "KV cache": "KV cache",
    "kv_forgot_values": "that is half: the cache keeps the keys and the values, 2 tensors "
                        "per layer",
    "kv_elements_not_bytes": "that is the number of elements; in bytes it is {bytes} bytes "
                             "each ({dtype})",
    # headings and words
    "params": "params", "MACs": "MACs", "buffers": "buffers", "features": "features",
    "output": "output", "no_working": "(its numbers need no working: the shape is its "
                                     "input's)",
}
