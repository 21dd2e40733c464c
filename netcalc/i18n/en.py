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
    # recurrent layers (rnn, lstm, gru)
    "recurrent_params": lambda gates: (
        f"per layer and direction: {gates} gate{'s' if gates != 1 else ''}, each with W_ih "
        "(H × I), W_hh (H × H_out) and two biases (b_ih, b_hh); layers above the first read "
        "the D·H_out features below"),
    "recurrent_macs": "per time step, layer and direction: the gate matmuls W_ih·x_t and "
                      "W_hh·h_(t−1); adding the biases is not counted",
    "lstm_fused_kernel": "torch's FlopCounterMode counts 0 for LSTM's fused kernel (oneDNN on "
                         "the CPU); netcalc counts its gate matmuls as it counts GRU's",
    "proj_size_out": "proj_size sets H_out: h_t is projected from H to proj_size features",
    "state_stack": "one state per layer and direction, whatever batch_first",
    "one_call": "one call gives every piece: its parameters and MACs are counted on piece 0 "
                "of this entry",
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
    # the parts of an LLM (attention, gatedmlp, moe, rmsnorm)
    "attention_head_dim": "head_dim = embed_dim / num_heads = {embed_dim} / {heads} = "
                          "{head_dim}",
    "kv_heads_shared": "{kv_heads} key/value heads, each shared by {group} query heads "
                       "(grouped-query attention): k_proj and v_proj are {group}× smaller "
                       "than q_proj",
    "attention_math_path": "of which Q·Kᵀ and A·V: {attention:,} (torch's math path; softmax "
                           "and the scaling are not counted)",
    "causal_full_scores": "causal: the math path computes all {length}×{length} scores of "
                          "each head and masks those after each query, so about half of "
                          "the attention term does useful work",
    "rotary_not_counted": "rotary position embedding: q·cos + rotate_half(q)·sin, and the "
                          "same for k, {multiplies:,} elementwise multiplies that "
                          "FlopCounterMode counts as 0 MACs; no parameters",
    "gated_product": "act(gate)·up: {multiplies:,} elementwise multiplies, counted as 0 "
                     "MACs",
    "moe_active_params": "every expert's parameters exist, but one token uses the router "
                         "and {top_k} of the {experts} experts: {active:,} of the "
                         "{total:,} parameters are active",
    "moe_active_macs": "each token runs its top {top_k} experts only: the other {idle} "
                       "experts do no work for it, whatever the routing (the router's "
                       "softmax, top-k and weighting are not counted)",
    "rmsnorm_scale_only": "a scale γ per normalized element and no shift β; no running "
                          "statistics",
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
    "recurrent_one_bias": "that counts one bias per gate; torch's {type} keeps two, b_ih and "
                          "b_hh: {bias:,} more parameters",
    "recurrent_one_direction": "that is one direction: bidirectional adds a reverse copy of "
                               "every layer, and the layers above the first read both "
                               "directions' features (2·H_out)",
    "recurrent_first_layer_only": "that is the first layer alone: num_layers={layers} stacks "
                                  "{layers} layers, each with its own weights",
    "recurrent_one_gate": "that counts one gate: {type} has {gates}, each with its own W_ih, "
                          "W_hh and biases",
    "recurrent_wrong_gates": "that counts {counted} gates; {type} has {gates}",
    "kv_cache_size": "bytes per sequence: {mib:,.2f} MiB (one layer's keys and values are "
                     "[kv_heads, context, head_dim] each)",
    "kv_dtype_bytes": "that is at {bytes} bytes per element; in {dtype} each is "
                      "{dtype_bytes}",
    "recurrent_one_step": "that is one time step: the gate matmuls run at each of the "
                          "{length} steps",
    "heads_counted_twice": "that multiplies by the {heads} heads again: the heads share the "
                           "projections, each reading its own slice of their outputs "
                           "(head_dim = embed_dim / num_heads)",
    "forgot_out_proj": "that leaves out the output projection ({out:,} parameters)",
    "kv_heads_as_query_heads": "that gives the keys and values all {heads} heads: this layer "
                               "has {kv_heads} key/value heads (grouped-query attention), so "
                               "k_proj and v_proj are {group}× smaller than q_proj",
    # headings and words
    "params": "params", "MACs": "MACs", "buffers": "buffers", "features": "features",
    "output": "output", "no_working": "(its numbers need no working: the shape is its "
                                     "input's)",
    "no_working_written": "(netcalc writes no working for this type yet: its shape, "
                          "parameters and MACs are in `netcalc summary`)",
    # check: more usual mistakes (issue 19)
    "counted_running_stats": "that counts the {stats:,} running means and variances as "
                             "parameters: they are buffers; batch norm learns 2·C "
                             "parameters, a scale γ and a shift β per channel",
    "counted_batch_count": "that counts num_batches_tracked, the count of batches seen: a "
                           "buffer, not a parameter",
    "padded_one_side": "that pads one side only: P goes on both sides, so the input grows "
                       "by 2P",
    "groups_not_divided": "that gives each filter every input channel: with groups={groups} "
                          "each filter reads C_in/{groups} of them",
    "depthwise_as_full": "that counts a full convolution: a depthwise one (groups={groups}) "
                         "gives each filter one input channel, C_in/g = 1",
    "transposed_as_conv": "that is the ordinary convolution's formula; a transposed "
                          "convolution gives (I − 1)·S − 2P + D·(K − 1) + output_padding + 1",
    "flatten_before_pool": "that flattens the input of {pool} ({features:,} features): the "
                           "flatten reads the output of the last pool",
    "bias_false_counted": "this layer has bias: false, so there are no {bias:,} biases to "
                          "count",
    # check: error carried forward, and a class at once
    "follows_from": "(follows from your answer for {item})",
    "follow_through_note": "right for your own {item}: {credit} of the item; the expected "
                           "value is {value}",
    "class_title": lambda spec, students, graded, failed: (
        f"{spec}: {students} answers file{'s' if students != 1 else ''}, {graded} graded"
        + (f", {failed} not (see the errors above)" if failed else "")),
    "student": "student", "score": "score", "students": "students", "item": "question",
    "wrong": "wrong", "answered": "answered", "follow_through_q": "follows through",
    "not_graded": "not graded",
    "scores_heading": "Scores", "distribution_heading": "Score distribution",
    "mistakes_heading": "Most common mistakes", "most_wrong_heading": "Most often wrong",
    "mean_score": "mean {percent:.1f}%",
    "mistake_count": lambda answers, students: (
        f"{answers} answer{'s' if answers != 1 else ''}, {students} "
        f"student{'s' if students != 1 else ''}"),
    "no_mistakes_named": "(no named mistake)",
    "feedback_title": "{student}: {spec}",
    # exercise: the question sheet, the answer key, the working
    "exercise_variant": "{title}: variant {number}",
    "exercise_answers_title": "{title}: variant {number}, answers",
    "exercise_spec_header": "{name}: variant {number}, drawn by netcalc exercise with seed "
                            "{seed}",
    "exercise_key_header": "the answers to variant {number} of {name} (seed {seed}), as "
                           "`netcalc check` reads them",
    "exercise_input": "Input: {shape}",
    "exercise_named_input": "Input `{name}`: {shape}",
    "exercise_batch_note": "Shapes leave out the batch dimension, here and in the answers.",
    "exercise_network": "The network", "exercise_layer": "Layer", "exercise_type": "Type",
    "exercise_reads": "Reads", "exercise_arguments": "Arguments",
    "exercise_questions": "Questions", "exercise_working": "Working",
    "exercise_answering": "Write the answers in a YAML file, shapes as lists and counts as "
                          "whole numbers (`netcalc check` grades it):",
    "exercise_answer_line": "{question}: {answer}",
    "ask_output": "The output shape of `{layer}`",
    "ask_params": "The number of parameters of `{layer}`",
    "ask_macs": "The multiply-accumulates (MACs) of `{layer}`",
    "ask_flops": "The FLOPs of `{layer}`",
    "ask_total_params": "The total number of parameters of the network",
    "ask_total_macs": "The total multiply-accumulates (MACs) of the network",
    "ask_total_flops": "The total FLOPs of the network",
    # check: blank and malformed answers, answers to no question, the questions set
    "answer_malformed": "{where}: {reason}",
    "answer_unknown_key": lambda name, closest, known: (
        f"'{name}' is not something netcalc checks"
        + (f"; did you mean '{closest}'?" if closest else "") + f" (it checks {known})"),
    "answer_not_a_mapping": lambda name: (
        f"this answer for '{name}' does not say which quantity it is: write it under one "
        "of output, params, macs or flops, as `output: [64, 55, 55]`"),
    "answer_not_asked": lambda question, closest: (
        f"{question} is not one of the questions"
        + (f"; did you mean {closest}?" if closest else "")),
    "not_answered": "not answered", "not_scored": "not scored",
    "not_graded_because": "not graded, the file could not be read: `{error}`",
    "class_title_listed": lambda spec, students, graded, failed: (
        f"{spec}: {students} answers file{'s' if students != 1 else ''}, {graded} graded"
        + (f", {failed} not (the files not graded are listed below)" if failed else "")),
    "questions_from_key": lambda count: (
        f"scored out of the answer key's {count} question{'s' if count != 1 else ''}"),
    "questions_from_class": lambda count: (
        f"scored out of the {count} question{'s' if count != 1 else ''} the class answered "
        "(--key KEY.yaml scores out of the questions set)"),
    "points_lost": "points lost",
    "answer_warning": "{where}: warning: {what}: {why} (not scored)",
}
