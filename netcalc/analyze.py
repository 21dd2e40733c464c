"""Run every layer's rules over the expanded spec and sum the results.

`analyze` is where all arithmetic beyond a single layer happens: batch,
dtype bytes, flops = 2 × macs, totals, group sums, percentages and the
`--depth` collapse. What it returns is plain data (results.py).
"""

from __future__ import annotations

from collections import namedtuple
from contextlib import nullcontext
from collections.abc import Sequence
from dataclasses import replace
from functools import cache, lru_cache
from itertools import accumulate
from math import prod

from .dtypes import INPUT_DTYPES, INT64_BYTES, MODEL_DTYPES
from .errors import Note, ShapeError, SpecError, UsageError, in_layer
from .formulas import contiguous_strides
from .layers.base import too_many_elements
from .layers.field import LOCAL, Field
from .results import (LayerOwn, LayerResult, ReceptiveField, Row, SpecWarning, Summary,
                      Totals)
from .spec.model import ExpandedSpec, Group
from .memory import OPTIMIZER_STATES, checkpoint_segments, kv_cache, memory
from .symbolic import Conditions, by_degree, conditions, is_symbolic, unrecorded


def flops_of(macs: int) -> int:
    """One multiply-accumulate is two floating-point operations."""
    return 2 * macs


def analyze(spec: ExpandedSpec, batch: int = 1, dtype: str = "float32",
            input_shapes: dict[str, tuple[int, ...]] | None = None,
            depth: int | None = None, optimizer: str = "adam", amp: bool = False,
            kv_context: int | None = None, checkpoint: tuple[str, ...] = ()) -> Summary:
    """`kv_context`: the context length whose KV cache to size (`--kv-cache`);
    `checkpoint`: blocks or repeats trained under activation checkpointing."""
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    if dtype not in MODEL_DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(MODEL_DTYPES)}, got {dtype!r}")
    if depth is not None and depth < 1:
        raise UsageError(f"--depth must be at least 1, got {depth}")
    if optimizer not in OPTIMIZER_STATES:
        raise UsageError(f"--optimizer must be one of {', '.join(OPTIMIZER_STATES)}, got "
                         f"{optimizer!r}")
    size = MODEL_DTYPES[dtype]
    overrides = input_shapes or {}
    shapes = {i.name: (batch, *overrides.get(i.name, i.shape)) for i in spec.inputs}
    inputs = dict(shapes)
    for name, shape in inputs.items():
        problem = too_many_elements(shape)
        if problem:
            raise UsageError(f"input '{name}' at batch {batch}: {problem}")
    input_dtypes = {i.name: i.dtype or dtype for i in spec.inputs}
    bytes_of_input = {name: prod(inputs[name]) * INPUT_DTYPES[kind]
                      for name, kind in input_dtypes.items()}
    input_bytes = sum(bytes_of_input.values())
    layouts = {name: contiguous_strides(shape) for name, shape in shapes.items()}
    symbolic = any(is_symbolic(d) for shape in inputs.values() for d in shape)
    # an error downstream of a --input shape says where the shape came from
    notes = tuple(Note(None, f"input '{name}' is {list(inputs[name])}, from --input")
                  for name in overrides)

    _check_indices(spec, input_dtypes)
    # a name that is no block is said at once, at letters too
    segments = checkpoint_segments(spec, tuple(checkpoint))
    warnings: list[SpecWarning] = list(spec.warnings)
    # sizes written as letters: what the formulas assume (numbers assume nothing)
    with conditions() if symbolic else nullcontext(Conditions()) as assumed:
        # a captured model's layers are what its code did at this batch: advice on how
        # to write a spec (a view that fixes the batch) is not for its author
        advice = [] if spec.captured else warnings
        computed = _run_layers(spec, batch, shapes, layouts, size, notes, advice, symbolic)

    if spec.outputs:
        given = {layer.name: layer.output_shape for layer in computed} | inputs
        outputs = {name: given[producer] for name, producer in spec.outputs.items()}
        producers = set(spec.outputs.values())
    else:
        consumed = {name for layer in spec.layers for name in layer.inputs}
        outputs = {layer.name: layer.output_shape for layer in computed
                   if layer.name not in consumed}
        producers = set(outputs)
    totals = _totals(computed, input_bytes, size)
    held = memory(spec, computed, totals, bytes_of_input, producers, size, optimizer, amp,
                  tuple(checkpoint), segments, sized=not symbolic)
    kv = None if kv_context is None else kv_cache(spec, computed, totals, kv_context, batch,
                                                  size)
    # what only renderers read (layer records, rows, receptive fields) is made when one
    # first asks: a search reads the totals and memory alone
    fields = cache(lambda: _receptive_fields(computed, inputs, symbolic))

    def rows():
        return _fold(_tree(spec.groups, computed, shapes, fields(), totals), depth)

    def blocks():
        return _tree(spec.groups, computed, shapes, fields(), totals, with_layers=False)

    return Summary(spec.name, spec.file, batch, dtype, size, depth, inputs, input_dtypes,
                   Results(computed, size, fields), Deferred(rows), Deferred(blocks), totals,
                   outputs, tuple(warnings), tuple(assumed.texts()), held, dict(spec.outputs),
                   kv, _macs_by_degree(totals.macs, computed))


def _run_layers(spec: ExpandedSpec, batch: int, shapes: dict, layouts: dict,
                dtype_bytes: int, notes: tuple[Note, ...], warnings: list,
                symbolic: bool) -> list[Computed]:
    """Every layer's numbers in order, each input's shape and layout in `shapes` and
    `layouts` and each layer's output's added as it is reached."""
    # the layers whose weights others share (`tie_weight`), to compare shapes with, and
    # their numbers once done
    sources = {source for s in spec.layers for source in s.tied.values()}
    holders = {s.name: s.layer for s in spec.layers if s.name in sources} if sources else {}
    done: dict[str, Computed] = {}
    # a layer's numbers depend on its arguments and input shapes alone: equal ones
    # (a ResNet's repeated blocks, a search re-analyzing a spec) are computed once;
    # not where sizes are letters, whose formulas record what they assume
    evaluated = None if symbolic else _EVALUATED
    # a block instance reading what an earlier instance of its pattern read (shapes and
    # layouts) computes what that one did, layer by layer: repeated at once
    instances = {} if symbolic else {g.first: g for g in reversed(spec.groups)
                                     if g.pattern is not None and g.end > g.first}
    analysed: dict[tuple, int] = {}
    computed: list[Computed] = []
    index, count = 0, len(spec.layers)
    while index < count:
        group = instances.get(index)
        if group is not None:
            reads = (group.pattern, tuple(shapes[name] for name in group.inputs),
                     tuple(layouts[name] for name in group.inputs))
            earlier = analysed.setdefault(reads, index)
            if earlier != index:
                for spec_layer, same in zip(spec.layers[index:group.end],
                                            computed[earlier:earlier + group.end - index]):
                    layer = _repeated(spec_layer, same, shapes, layouts, warnings)
                    computed.append(layer)
                    if spec_layer.name in holders:
                        done[spec_layer.name] = layer
                index = group.end
                continue
        spec_layer = spec.layers[index]
        layer = _run_layer(spec_layer, batch, shapes, layouts, dtype_bytes, notes, warnings,
                           done, holders, evaluated)
        computed.append(layer)
        if spec_layer.name in holders:
            done[spec_layer.name] = layer
        index += 1
    return computed


def _macs_by_degree(macs, layers: list[LayerResult]) -> tuple:
    """The MACs' terms by degree in each letter they grow faster than linearly in: a
    sequence's L² (attention's scores) apart from its L (everything else), with the
    layer types whose MACs hold the highest degree."""
    if not is_symbolic(macs):
        return ()
    split = []
    for letter in sorted(macs.letters):
        terms = by_degree(macs, letter)
        top = max(terms)
        if top >= 2 and sum(degree >= 1 for degree in terms) >= 2:     # L² and L, both
            types = sorted({r.type for r in layers if is_symbolic(r.macs)
                            and max(by_degree(r.macs, letter)) == top})
            split.append((letter, tuple(sorted(terms.items(), reverse=True)), tuple(types)))
    return tuple(split)


class Computed(namedtuple("Computed", (
        "spec", "layer", "input_shapes", "numbers", "param_tensors", "params",
        "trainable_params", "bias_params", "buffer_bytes", "activation_bytes",
        "active_params", "causal_attention_macs", "saved", "score_elements"))):
    """One layer as analyze keeps it: a tuple of what its rules gave, from which the
    totals and memory are summed and a renderer's LayerResult is made when asked
    (`spec`: its LayerSpec; `layer`: its type's record at this batch; `param_tensors`:
    those it holds, less any it shares with the layer that counts them; `saved`: what
    autograd keeps of it for backward; `score_elements`: its attention scores')."""

    __slots__ = ()

    name = property(lambda self: self.spec.name)
    inputs = property(lambda self: self.spec.inputs)
    depth = property(lambda self: self.spec.depth)
    type = property(lambda self: self.layer.type_name)
    family = property(lambda self: self.layer.family)
    output_shape = property(lambda self: self.numbers.output_shape)
    macs = property(lambda self: self.numbers.macs)


# (layer, input shapes, input strides, dtype bytes) -> what its rules give: see _run_layer
_EVALUATED: dict[tuple, tuple] = {}
_MOST_EVALUATED = 10_000     # ~1 KB each


def _run_layer(spec_layer, batch: int, shapes: dict, layouts: dict, dtype_bytes: int,
               notes: tuple[Note, ...], warnings: list, done: dict[str, Computed],
               holders: dict, evaluated: dict | None) -> Computed:
    layer = spec_layer.layer.for_batch(batch)
    names = spec_layer.inputs
    if len(names) == 1:                 # most layers: spelled out, a third faster
        xs, strides = (shapes[names[0]],), (layouts[names[0]],)
    else:
        xs = tuple([shapes[name] for name in names])
        strides = tuple([layouts[name] for name in names])
    key = (layer, xs, strides, dtype_bytes)
    known = evaluated.get(key) if evaluated is not None else None
    if known is None:
        known = _evaluate(spec_layer, layer, xs, strides, dtype_bytes, notes)
        if evaluated is not None:
            if len(evaluated) >= _MOST_EVALUATED:
                evaluated.clear()
            evaluated[key] = known
    numbers, own, params, bias, buffer_bytes, active, causal, saved, scores = known
    if numbers.warnings:
        warnings += [SpecWarning(spec_layer.loc, spec_layer.name, layer.type_name, message)
                     for message in numbers.warnings]
    shapes[spec_layer.name] = numbers.output_shape
    layouts[spec_layer.name] = numbers.output_strides
    if spec_layer.tied:
        own, params, bias, active = _untie(spec_layer, layer, xs, numbers, done, holders, notes)
    trainable = params - spec_layer.frozen if spec_layer.trainable else 0
    return Computed(spec_layer, layer, xs, numbers, own, params, trainable, bias,
                    buffer_bytes, numbers.activation_elements * dtype_bytes, active, causal,
                    saved, scores)


def _repeated(spec_layer, same: Computed, shapes: dict, layouts: dict,
              warnings: list) -> Computed:
    """A layer of a block instance that repeats an earlier one of its pattern: `same`,
    the earlier's layer at the same position, under this one's name."""
    numbers = same.numbers
    if numbers.warnings:
        warnings += [SpecWarning(spec_layer.loc, spec_layer.name, same.layer.type_name, message)
                     for message in numbers.warnings]
    shapes[spec_layer.name] = numbers.output_shape
    layouts[spec_layer.name] = numbers.output_strides
    return Computed(spec_layer, *same[1:])


def _receptive_fields(computed: list[Computed], inputs: dict,
                      symbolic: bool) -> dict[str, ReceptiveField]:
    """What one unit of each layer's output (and each input) sees of the network's
    input, traced layer by layer (layers/field.py)."""
    fields = {name: _from(Field.of_input(shape), name) for name, shape in inputs.items()}
    # as results say them: a layer that moves no dims shares its input's record
    records = {name: _receptive_field(field) for name, field in fields.items()}
    with unrecorded:        # what a field asks of the sizes is no condition on the layer
        for c in computed:
            xs, y = c.input_shapes, c.numbers.output_shape
            names = c.spec.inputs
            in_fields = (fields[names[0]],) if len(names) == 1 else \
                tuple([fields[name] for name in names])
            try:
                field = c.layer.evaluate_field(xs, y, in_fields)
            except SpecError:
                if not symbolic:
                    raise
                # a rule that needs the size as a number (adaptive pooling's bins)
                field = in_fields[0].lost("depends on the sizes written as letters")
            if field.kind != LOCAL and not field.origin:
                field = _from(field, c.spec.name)
            fields[c.spec.name] = field
            records[c.spec.name] = records[names[0]] if names and field is in_fields[0] \
                else _receptive_field(field)
    return records


def _evaluate(spec_layer, layer, xs: tuple, strides: tuple, dtype_bytes: int,
              notes: tuple[Note, ...]) -> tuple:
    """The layer's rules for these inputs: its numbers, the parameters it holds, their
    sum, its biases', its buffers' bytes, the params one token uses and its causal
    attention MACs. Errors located at the layer (or the argument they name)."""
    try:
        numbers = layer.evaluate(xs, strides)
    except SpecError as error:
        loc = spec_layer.arg_loc.get(error.arg) or spec_layer.loc
        raise in_layer(error, spec_layer.name, layer.type_name, loc,
                       (*spec_layer.trace, *notes)) from None
    problem = too_many_elements(numbers.output_shape)
    if problem:
        raise in_layer(ShapeError(f"the output {problem}"), spec_layer.name, layer.type_name,
                       spec_layer.loc, (*spec_layer.trace, *notes))
    own = numbers.params
    params = sum(own.values())
    bias = sum(n for tensor, n in own.items() if _is_bias(tensor)) if own else 0
    buffer_bytes = sum(n * (INT64_BYTES if name in layer.int64_buffers else dtype_bytes)
                       for name, n in numbers.buffers.items()) if numbers.buffers else 0
    active = layer.active_params(xs)
    y = numbers.output_shape
    return (numbers, own, params, bias, buffer_bytes, params if active is None else active,
            layer.causal_attention_macs(xs, y), tuple(layer.saved_for_backward(xs, y)),
            layer.score_elements(xs, y))


def _untie(spec_layer, layer, xs: tuple, numbers, done: dict, holders: dict,
           notes: tuple[Note, ...]) -> tuple:
    """A layer sharing tensors with another (`tie_weight`): the tensors it holds itself,
    their sum, its biases' and the params one token uses, the shared ones counted once,
    where first held; each shared tensor checked against the holder's."""
    own = dict(numbers.params)
    for tensor, source in spec_layer.tied.items():
        try:
            source_result = done[source]
            shapes_of = (layer.param_shape(xs[0] if xs else (), tensor),
                         holders[source].param_shape(source_result.input_shapes[0]
                                                     if source_result.input_shapes else (),
                                                     tensor))
            _check_tied(tensor, own, source_result, *shapes_of)
        except ShapeError as error:
            raise in_layer(error, spec_layer.name, layer.type_name,
                           spec_layer.arg_loc.get("tie_weight") or spec_layer.loc,
                           (*spec_layer.trace, *notes)) from None
        del own[tensor]
    params = sum(own.values())
    bias = sum(n for tensor, n in own.items() if _is_bias(tensor))
    return own, params, bias, _active(layer.active_params(xs), params, own, numbers.params)


def _result(computed: Computed, field: ReceptiveField, shared: dict) -> LayerResult:
    """The layer's numbers as renderers read them, from `shared`: the record of the
    layers alike (_shared_record's), with this layer's own name, inputs, depth and field."""
    spec_layer = computed.spec
    result = object.__new__(LayerResult)      # its fields set below, without __init__
    result.__dict__.update(shared)
    result.name, result.depth = spec_layer.name, spec_layer.depth
    result.inputs = spec_layer.inputs
    result.arguments, result.param_tensors = dict(shared["arguments"]), \
        dict(computed.param_tensors)
    result.receptive_field = field
    result.tied_params = _tied(spec_layer)
    return result


def _tied(spec_layer) -> dict:
    """The tensors a layer shares with another (`tie_weight`), as `layer.tensor`."""
    return {tensor: f"{source}.{tensor}" for tensor, source in spec_layer.tied.items()} \
        if spec_layer.tied else {}


def _shared(computed: Computed, dtype_bytes: int, alike: dict) -> dict:
    """The record of the layers alike (a repeated block's, at equal shapes), made once
    for them all and kept in `alike`."""
    # the numbers' object stands for the layer's input shapes too: one is made per
    # layer and shapes (_EVALUATED's key holds them), and kept while the layers are
    key = (computed.spec.layer, computed.layer, id(computed.numbers),
           id(computed.param_tensors), computed.params, computed.trainable_params,
           computed.bias_params, computed.buffer_bytes, computed.activation_bytes,
           computed.active_params, computed.causal_attention_macs)
    shared = alike.get(key)
    if shared is None:
        with unrecorded:      # what a renderer reads adds no condition to the sizes
            shared = alike[key] = _shared_record(computed, dtype_bytes)
    return shared


def _shared_record(computed: Computed, dtype_bytes: int) -> dict:
    """A layer's record less what is its own (name, depth, inputs, field)."""
    spec_layer, layer, xs, numbers, own = computed[:5]
    params, bias = computed.params, computed.bias_params
    return vars(LayerResult(
        name="", type=layer.type_name, family=layer.family, depth=0, inputs=(),
        input_shapes=xs, output_shape=numbers.output_shape,
        # as the spec says them: `batch` stays a name
        arguments=spec_layer.layer.arguments(xs[0] if xs else ()),
        notation=layer.notation(), param_tensors=own, params=params,
        trainable_params=computed.trainable_params,
        weight_params=params - bias, bias_params=bias,
        buffers=sum(numbers.buffers.values()), macs=numbers.macs,
        flops=flops_of(numbers.macs), param_bytes=params * dtype_bytes,
        buffer_bytes=computed.buffer_bytes, activation_bytes=computed.activation_bytes,
        active_params=computed.active_params,
        causal_attention_macs=computed.causal_attention_macs,
        batch_dim=layer.output_batch_dim(xs)))


class _Made(Sequence):
    """A read-only sequence made when first read, used as the tuple it stands for:
    equal to one, added to one, pickled as one."""

    def __add__(self, other):
        return tuple(self) + tuple(other)

    def __radd__(self, other):
        return tuple(other) + tuple(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None

    def __reduce__(self):
        return tuple, (tuple(self),)


class Results(_Made):
    """The layers' LayerResults, each made when first asked for and kept (a search reads
    only the totals); `streamed` makes them for one pass without keeping them (JSON of
    100,000 layers). `fields()`: the receptive fields by name, traced at its first call."""

    def __init__(self, computed: list[Computed], dtype_bytes: int, fields):
        self._computed, self._dtype_bytes, self._fields = computed, dtype_bytes, fields
        self._alike: dict = {}
        self._made: list[LayerResult | None] = [None] * len(computed)

    def __len__(self) -> int:
        return len(self._computed)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        made = self._made[index]
        if made is None:
            made = self._made[index] = self._make(self._computed[index])
        return made

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def streamed(self, alike: bool = False):
        """Each in turn, with its kind (Summary.each_layer_alike's), made as it is
        reached and not kept unless it was already (of no kind then: it might have been
        changed since). `alike`: after the first of a kind, the others' LayerOwn."""
        fields, size, records = self._fields(), self._dtype_bytes, self._alike
        met: set[int] = set()
        for computed, made in zip(self._computed, self._made):
            if made is not None:
                yield None, made
                continue
            shared = _shared(computed, size, records)
            kind = id(shared)
            spec_layer = computed.spec
            if alike and kind in met:
                yield kind, LayerOwn(spec_layer.name, spec_layer.depth, spec_layer.inputs,
                                     fields[spec_layer.name], _tied(spec_layer))
                continue
            met.add(kind)
            yield kind, _result(computed, fields[spec_layer.name], shared)

    def _make(self, computed: Computed) -> LayerResult:
        return _result(computed, self._fields()[computed.spec.name],
                       _shared(computed, self._dtype_bytes, self._alike))

    def __repr__(self) -> str:
        return repr(tuple(self))


class Deferred(_Made):
    """A tuple computed on first use (the table's rows and the blocks' sums)."""

    def __init__(self, compute):
        self._compute, self._items = compute, None

    @property
    def items(self) -> tuple:
        if self._items is None:
            self._items = tuple(self._compute())
            self._compute = None
        return self._items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def __iter__(self):
        return iter(self.items)

    def __repr__(self) -> str:
        return repr(self.items)


def _active(active: int | None, params: int, own: dict, every: dict) -> int:
    """The params one token uses: all the layer holds, or its rule's fewer (less what it
    shares with another layer, counted there)."""
    return params if active is None else active - (sum(every.values()) - sum(own.values()))


def _check_indices(spec: ExpandedSpec, input_dtypes: dict[str, str]) -> None:
    """An embedding reading a spec input of floats: torch refuses float indices."""
    for spec_layer in spec.layers:
        if not spec_layer.layer.reads_indices:
            continue
        for name in spec_layer.inputs:
            if input_dtypes.get(name, "int64").startswith(("float", "bfloat")):
                problem = ShapeError(
                    f"looks up integer indices, but input '{name}' is {input_dtypes[name]}: "
                    f"give it an integer dtype in the spec (`{name}: {{shape: [...], dtype: "
                    "int64}`)")
                raise in_layer(problem, spec_layer.name, spec_layer.layer.type_name,
                               spec_layer.loc, spec_layer.trace)


@lru_cache(maxsize=1024)
def _is_bias(tensor: str) -> bool:
    """torch's names for biases: `bias`, `in_proj_bias`, a recurrent layer's `bias_ih_l0`."""
    name = tensor.rpartition(".")[2]
    return name.endswith("bias") or name.startswith(("bias_ih_", "bias_hh_"))


def _check_tied(tensor: str, own: dict, source: LayerResult, needed_shape, held_shape) -> None:
    """A tied tensor is the source layer's own, of the shape this layer needs (where both
    types know it: a linear head's [out, in] and an embedding's [num, dim]), or at least
    of as many elements."""
    if tensor not in own:
        raise ShapeError("tie_weight: a layer without a "
                         f"{tensor} cannot share one", arg="tie_weight")
    if tensor not in source.param_tensors:
        raise ShapeError(f"tie_weight: '{source.name}' ({source.type}) has no {tensor} of its "
                         "own to share", arg="tie_weight")
    if needed_shape and held_shape and needed_shape != held_shape:
        raise ShapeError(f"tie_weight: this layer's {tensor} is {list(needed_shape)} but "
                         f"'{source.name}' holds {list(held_shape)}", arg="tie_weight")
    needed, held = own[tensor], source.param_tensors[tensor]
    if needed != held:
        raise ShapeError(f"tie_weight: this layer's {tensor} has {needed:,} elements but "
                         f"'{source.name}' holds {held:,}", arg="tie_weight")


def _from(field: Field, name: str) -> Field:
    """A field that stops being local here remembers where."""
    return replace(field, origin=name) if field.kind != LOCAL and not field.origin else field


def _receptive_field(field: Field) -> ReceptiveField:
    return ReceptiveField(field.kind, field.dims, field.size, field.jump, field.start,
                          field.note, field.origin)


def _totals(layers: list[Computed], input_bytes: int, dtype_bytes: int) -> Totals:
    params = trainable = bias = buffers = buffer_bytes = activation_bytes = 0
    macs = active = causal = 0
    for r in layers:
        params += r.params
        trainable += r.trainable_params
        bias += r.bias_params
        buffer_bytes += r.buffer_bytes
        activation_bytes += r.activation_bytes
        macs += r.numbers.macs
        active += r.active_params
        causal += r.causal_attention_macs
        if r.numbers.buffers:
            buffers += sum(r.numbers.buffers.values())
    param_bytes = params * dtype_bytes
    return Totals(
        layers=len(layers), params=params, trainable_params=trainable,
        non_trainable_params=params - trainable, weight_params=params - bias,
        bias_params=bias, buffers=buffers, macs=macs, flops=flops_of(macs),
        input_bytes=input_bytes, param_bytes=param_bytes, buffer_bytes=buffer_bytes,
        activation_bytes=activation_bytes,
        total_bytes=input_bytes + param_bytes + buffer_bytes + activation_bytes,
        active_params=active, causal_attention_macs=causal,
        causal_effective_macs=macs - causal // 2,
    )


def _fold(tree: list[Row], depth: int | None) -> list[Row]:
    """The rows `--depth` shows: deeper rows hidden, their groups marked collapsed."""
    if depth is None:
        return tree
    return [replace(row, collapsed=row.kind != "layer" and row.depth == depth - 1)
            for row in tree if row.depth < depth]


def _tree(groups: list[Group], layers: list[Computed], shapes: dict, fields: dict,
          totals: Totals, with_layers: bool = True) -> list[Row]:
    """Every layer, each group (block or repeat) just before its members, with its sums
    (the groups alone, not `with_layers`)."""
    def running(values):
        return [0, *accumulate(values)]

    sums = {"params": running(r.params for r in layers),
            "trainable_params": running(r.trainable_params for r in layers),
            "macs": running(r.numbers.macs for r in layers),
            "activation_bytes": running(r.activation_bytes for r in layers)}

    def percent(part: int, whole: int) -> float:
        if is_symbolic(part) or is_symbolic(whole):
            return 0.0                   # a share of a formula: not a number
        return 100.0 * part / whole if whole else 0.0

    def group_row(group: Group) -> Row:
        total = {attr: s[group.end] - s[group.first] for attr, s in sums.items()}
        return Row(
            name=group.name, type=group.type_name, kind=group.kind, copies=group.copies,
            family="block",
            depth=group.depth, output_shape=shapes[group.output], params=total["params"],
            trainable_params=total["trainable_params"], macs=total["macs"],
            flops=flops_of(total["macs"]), activation_bytes=total["activation_bytes"],
            params_percent=percent(total["params"], totals.params),
            macs_percent=percent(total["macs"], totals.macs), collapsed=False,
            receptive_field=fields[group.output],
            series=group.series)

    def layer_row(layer: Computed) -> Row:
        macs = layer.numbers.macs
        return Row(
            name=layer.name, type=layer.type, kind="layer", copies=0, family=layer.family,
            depth=layer.depth, output_shape=layer.output_shape, params=layer.params,
            trainable_params=layer.trainable_params, macs=macs, flops=flops_of(macs),
            activation_bytes=layer.activation_bytes,
            params_percent=percent(layer.params, totals.params),
            macs_percent=percent(macs, totals.macs), collapsed=False,
            receptive_field=fields[layer.spec.name])

    # outer groups first where several start at one layer; empty repeats (repeat: 0)
    # have no row
    members = sorted((g for g in groups if g.end > g.first), key=lambda g: (g.first, g.depth))
    if not with_layers:
        return [group_row(group) for group in members]
    rows = []
    pending = 0
    for index, layer in enumerate(layers):
        while pending < len(members) and members[pending].first == index:
            rows.append(group_row(members[pending]))
            pending += 1
        rows.append(layer_row(layer))
    return rows
