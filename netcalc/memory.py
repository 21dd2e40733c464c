"""Memory as torch spends it: the peak of a forward pass at inference, and what
training holds when the backward pass begins.

Tensors share storage: a view, an in-place op or dropout at inference returns
its input's. A storage lives from the layer that makes it to its last reader;
the spec's inputs (held by the caller) and outputs live throughout.

Training keeps, per layer, what its derivative needs (the layer type's
`saved_for_backward` rule: an input, the output, statistics, indices, masks),
each storage once; with the weights, their gradients and the optimizer's state.
"""

from __future__ import annotations

from math import prod

from .dtypes import INT64_BYTES
from .errors import UsageError
from .results import KVCache, Memory, Totals

TYPE_CHECKING = False    # annotations only: each layer as analyze keeps it
if TYPE_CHECKING:
    from .analyze import Computed

# The optimizer's state per trainable parameter, in its own float32 copies.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
AMP_BYTES = 2             # --amp: activations in float16 / bfloat16
FLOAT32_BYTES = 4


def memory(spec, layers: list[Computed], totals: Totals, input_bytes: dict,
           outputs: set[str], dtype_bytes: int, optimizer: str, amp: bool,
           checkpoint: tuple[str, ...] = (), segments: list[range] = (),
           sized: bool = True) -> Memory:
    """`input_bytes`: each spec input's bytes; `outputs`: the graph's output names;
    `checkpoint`: blocks (or repeats, each copy) run under activation checkpointing, and
    `segments` the layers each holds (checkpoint_segments').
    Not `sized` (sizes written as letters), what depends on the activations (the peak,
    what backward keeps, the totals with them) is None: no one peak holds for every
    size; the weights, gradients and optimizer state are numbers still."""
    params, trainable = totals.params, totals.trainable_params
    weight_bytes = totals.param_bytes
    if amp:                 # float32 master weights, and autocast's half copies of them
        weight_bytes = params * (FLOAT32_BYTES + AMP_BYTES)
    grad_bytes = trainable * (FLOAT32_BYTES if amp else dtype_bytes)
    state_bytes = trainable * OPTIMIZER_STATES[optimizer] * FLOAT32_BYTES
    if not sized:
        return Memory(peak_activation_bytes=None, inference_bytes=None, optimizer=optimizer,
                      amp=amp, weight_bytes=weight_bytes, gradient_bytes=grad_bytes,
                      optimizer_bytes=state_bytes, saved_activation_bytes=None,
                      training_bytes=None, checkpointed=checkpoint)
    storages = _storages(spec, layers, input_bytes, dtype_bytes, training=False)
    dropping = any(_writes_in_training(s.layer) for s in spec.layers)
    inference = _peak(spec, storages, input_bytes, outputs)
    saved = _saved_bytes(spec, layers, _storages(spec, layers, input_bytes, dtype_bytes,
                                                 training=True) if dropping else storages,
                         input_bytes, dtype_bytes, amp, segments)
    buffer_bytes = totals.buffer_bytes
    return Memory(
        peak_activation_bytes=inference,
        inference_bytes=totals.param_bytes + buffer_bytes + inference,
        optimizer=optimizer, amp=amp, weight_bytes=weight_bytes, gradient_bytes=grad_bytes,
        optimizer_bytes=state_bytes, saved_activation_bytes=saved,
        training_bytes=weight_bytes + grad_bytes + state_bytes + buffer_bytes + saved,
        checkpointed=checkpoint,
        attention_score_bytes=dtype_bytes * max((result.score_elements for result in layers),
                                                default=0))


def checkpoint_segments(spec, patterns: tuple[str, ...]) -> list[range]:
    """The layers of each checkpointed segment: every block matching a pattern
    (`encoder.layers.*`: each transformer layer, as torch.utils.checkpoint wraps them),
    the outermost where matches nest; a repeat named as such gives one per copy."""
    if not patterns:
        return []
    from fnmatch import fnmatchcase

    segments: list[range] = []
    for pattern in patterns:
        matched = [g for g in spec.groups if fnmatchcase(g.name, pattern)]
        if not matched:
            from .errors import did_you_mean
            raise UsageError(f"--checkpoint {pattern}: no block or repeat of that name"
                             f"{did_you_mean(pattern, [g.name for g in spec.groups])}")
        for group in matched:
            if group.kind == "repeat" and group.name == pattern:
                copies = [g for g in spec.groups if g.depth == group.depth + 1
                          and g.name.startswith(f"{group.name}.")]
                segments += [range(g.first, g.end) for g in copies] if copies else \
                    [range(k, k + 1) for k in range(group.first, group.end)]
            else:
                segments.append(range(group.first, group.end))
    outermost = []
    for segment in sorted(segments, key=lambda r: (r.start, -len(r))):
        if not outermost or segment.start >= outermost[-1].stop:
            outermost.append(segment)
    return outermost


def _storages(spec, layers: list[Computed], input_bytes: dict, dtype_bytes: int,
              training: bool):
    """Each tensor's storage (the name that made it) and each storage's bytes."""
    owner = {name: name for name in input_bytes}
    size = dict(input_bytes)
    for spec_layer, result in zip(spec.layers, layers):
        name, made = spec_layer.name, result.activation_bytes
        if made or training and _writes_in_training(spec_layer.layer):
            owner[name] = name
            size[name] = made or prod(result.numbers.output_shape) * dtype_bytes
        elif not spec_layer.inputs:        # a learned tensor: the parameter itself
            owner[name] = name
            size[name] = 0
        else:
            owner[name] = owner[spec_layer.inputs[0]]
    return owner, size


def _writes_in_training(layer) -> bool:
    """Dropout and stochastic depth: in training, a new output (at inference, the input)."""
    return layer.family == "dropout" and layer.p > 0


def _peak(spec, storages: tuple[dict, dict], input_bytes: dict, outputs: set[str]) -> int:
    """The most bytes alive at once in a forward pass (`storages`: _storages')."""
    owner, size = storages
    last: dict[str, int] = {}                       # each storage's last reader
    for index, spec_layer in enumerate(spec.layers):
        for name in spec_layer.inputs:
            last[owner[name]] = index
    kept = set(input_bytes) | {owner[name] for name in outputs}
    # per layer, the bytes its output newly takes, and those freed once it has run
    made = [size[name] if owner[name] == name else 0
            for name in (spec_layer.name for spec_layer in spec.layers)]
    freed = [0] * len(made)
    for storage, at in last.items():
        if storage not in kept:
            freed[at] += size[storage]
    live = peak = sum(input_bytes.values())
    for new, gone in zip(made, freed):
        live += new
        if live > peak:
            peak = live
        live -= gone
    return peak


def _saved_bytes(spec, layers: list[Computed], storages: tuple[dict, dict], input_bytes: dict,
                 dtype_bytes: int, amp: bool, segments: list[range] = ()) -> int:
    """What autograd holds when backward begins. A checkpointed segment keeps only its
    inputs; what its layers save exists for one segment at a time, while backward
    recomputes it: the largest segment's counts on top."""
    owner, size = storages                  # (in training)
    element = AMP_BYTES if amp else dtype_bytes
    segment_of = {index: k for k, segment in enumerate(segments) for index in segment}
    # a storage made outside a segment (or a spec input) is one of its inputs
    made_in = [{spec.layers[i].name for i in segment} for segment in segments]

    def scaled(n_bytes: int) -> int:
        return n_bytes * AMP_BYTES // dtype_bytes if amp else n_bytes

    def weight(held: set[str], new: int) -> int:
        return new + sum(size[s] if s in input_bytes else scaled(size[s]) for s in held)

    kept: set[str] = set()                  # held through to backward
    new = 0
    # a segment's own saved tensors, which backward recomputes as new ones, and its inputs
    inside: dict[int, tuple[set[str], list[int], set[str]]] = {}
    bytes_of = {"model": element, "float32": FLOAT32_BYTES, "int64": INT64_BYTES}
    for index, (spec_layer, result) in enumerate(zip(spec.layers, layers)):
        k = segment_of.get(index) if segment_of else None
        if k is None and not result.saved:
            continue
        held, fresh, inputs = (kept, None, None) if k is None else \
            inside.setdefault(k, (set(), [0], set()))
        if k is not None:                   # the segment's inputs stay for its recompute
            outside = {owner[name] for name in spec_layer.inputs
                       if size.get(owner[name]) and owner[name] not in made_in[k]}
            kept.update(outside)
            inputs.update(outside)
        for saved in result.saved:
            if saved.what == "new":
                n_bytes = saved.elements * bytes_of[saved.dtype]
                if fresh is None:
                    new += n_bytes
                else:
                    fresh[0] += n_bytes
                continue
            name = spec_layer.inputs[saved.index] if saved.what == "input" else spec_layer.name
            storage = owner[name]
            if storage in size and size[storage]:       # a parameter's is no activation
                held.add(storage)
    total = weight(kept, new)
    return total + max((weight(held - inputs, fresh[0])
                        for held, fresh, inputs in inside.values()), default=0)



def kv_cache(spec, layers: list[Computed], totals: Totals, context: int, batch: int,
             dtype_bytes: int) -> KVCache:
    """The keys and values a decoder keeps to generate `context` tokens: per causal
    attention layer 2·kv_heads·head_dim per token (the layer type's rule), in the
    model's dtype, per sequence and for the batch; beside the weights, what generation
    holds (activations of one new token are small beside them, and not counted)."""
    if context < 1:
        raise UsageError(f"--kv-cache takes the context length in tokens (1 or more), "
                         f"got {context}")
    for spec_layer in spec.layers:
        held = spec_layer.layer.positions_held()
        if held is not None and context > held:
            raise UsageError(f"--kv-cache {context}: '{spec_layer.name}' holds {held:,} "
                             "positions, and a decoder cannot generate past them")
    # each caching layer's elements per position, and at the context (fewer positions
    # where a sliding window keeps only the last W)
    per_layer = []
    for spec_layer, result in zip(spec.layers, layers):
        layer = spec_layer.layer.for_batch(batch)
        one = layer.kv_cache_elements(result.input_shapes, 1)
        if one:
            per_layer.append((one, layer.kv_cache_elements(result.input_shapes, context)))
    if not per_layer:
        raise UsageError("--kv-cache: no layer of this spec caches keys and values (causal "
                         "self-attention does: `attention` with is_causal: true)")
    elements = sum(at_context for _, at_context in per_layer)
    alike = len(set(per_layer)) == 1
    sequence = elements * dtype_bytes
    return KVCache(context=context, layers=len(per_layer), elements=elements,
                   layer_token_elements=per_layer[0][0] // 2 if alike else 0,
                   positions=per_layer[0][1] // per_layer[0][0] if alike else 0,
                   dtype_bytes=dtype_bytes, sequence_bytes=sequence,
                   batch_bytes=sequence * batch,
                   generation_bytes=totals.param_bytes + totals.buffer_bytes + sequence * batch)
