"""What torch itself says about a module: output shape, parameters, buffers, MACs.

MACs are FlopCounterMode's flops / 2, the convention netcalc reports, with
attention on torch's math path, which FlopCounterMode counts (its fused kernels
count 0: see netcalc.torch_bridge.countable_attention).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from netcalc.torch_bridge import countable_attention


@dataclass
class Measured:
    output_shape: tuple[int, ...]
    params: dict[str, int]
    buffers: dict[str, int]
    macs: int
    shares_input_memory: bool     # the output is a view of (or is) an input or a parameter
    input_strides: tuple[tuple[int, ...], ...]
    output_strides: tuple[int, ...]


def input_strides(shapes, orders=None) -> tuple[tuple[int, ...], ...]:
    """The strides make_inputs gives its tensors, computed without torch."""
    from netcalc.formulas import contiguous_strides

    result = []
    for i, shape in enumerate(shapes):
        order = orders[i] if orders and i < len(orders) else list(range(len(shape)))
        stored = contiguous_strides(tuple(shape[d] for d in order))
        result.append(tuple(stored[order.index(d)] for d in range(len(shape))))
    return tuple(result)


def make_inputs(shapes, index_high: int | None = None, orders=None):
    """Random inputs; `orders[i]`, a permutation of the dims, is the i-th input's
    storage order (from outermost), making it channels-last or otherwise permuted."""
    inputs = []
    for i, shape in enumerate(shapes):
        order = orders[i] if orders and i < len(orders) else list(range(len(shape)))
        stored = [shape[d] for d in order]
        x = (torch.randint(0, index_high, stored) if index_high is not None
             else torch.randn(stored))
        inputs.append(x.permute([order.index(d) for d in range(len(shape))]))
    return inputs


def measure(module, shapes, index_high: int | None = None, orders=None) -> Measured:
    xs = make_inputs(shapes, index_high, orders)
    # memory the output may share without allocating: the inputs', the module's own
    storages = {x.untyped_storage().data_ptr() for x in (*xs, *module.parameters())}
    module.eval()
    with warnings.catch_warnings(), torch.no_grad(), countable_attention(torch):
        warnings.simplefilter("ignore")
        with FlopCounterMode(display=False) as counter:
            y = module(*xs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return Measured(
        output_shape=tuple(y.shape),
        params={name: p.numel() for name, p in module.named_parameters()},
        buffers={name: b.numel() for name, b in module.named_buffers()},
        macs=flops // 2,
        shares_input_memory=y.untyped_storage().data_ptr() in storages,
        input_strides=tuple(tuple(x.stride()) for x in xs),
        output_strides=tuple(y.stride()),
    )


@dataclass
class ModelFigures:
    params: int
    buffers: int
    macs: int
    output_shape: tuple          # one output's shape, or each output's
    # parametric leaf modules in the order they ran: name -> (output shape, params, MACs)
    layers: dict[str, tuple[tuple[int, ...], int, int]]


@dataclass(frozen=True)
class Figures:
    output_shape: tuple[int, ...]
    params: dict[str, int]            # each parameter tensor's size, by name
    buffers: int
    macs: int

    @property
    def total_params(self) -> int:
        return sum(self.params.values())


def figures_on_meta(factory, input_shapes) -> Figures:
    """torch's figures for the module `factory()` builds, run on meta tensors of
    `input_shapes` (one or several inputs): its shape rules and FlopCounterMode, no data."""
    module = on_meta(factory).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(*(torch.zeros(shape, device="meta") for shape in input_shapes))
    return Figures(tuple(y.shape), {name: p.numel() for name, p in module.named_parameters()},
                   sum(b.numel() for b in module.buffers()), counter.get_total_flops() // 2)


def on_meta(factory):
    """`factory()` built on the meta device: shapes, parameter counts and
    FlopCounterMode's figures are the same as on the CPU (checked for every spec
    when this was introduced), without initialising or computing any number, which
    took most of these tests' time (VGG-19: 1.9 s on the CPU, 0.01 s on meta).
    The tests that compare values run on the CPU."""
    with torch.device("meta"):
        return factory()


def measure_model(model, input_shape) -> ModelFigures:
    """Run `model` on zeros (on the model's device) under FlopCounterMode, with a hook
    on every leaf module. `input_shape` may be a list of tensors instead: the inputs, moved
    to the model's device. An LSTM runs without oneDNN's fused kernel, which
    FlopCounterMode counts as 0, on torch's own matmuls."""
    model.eval()
    device = next((p.device for p in model.parameters()), "cpu")
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    def record(name):
        def hook(module, args, output):      # returns None: a value would replace the output
            first = output[0] if isinstance(output, tuple) else output   # attention's (y, w)
            shapes.setdefault(name, tuple(first.shape))
        return hook

    for name, module in _layers(model):
        hooks.append(module.register_forward_hook(record(name)))
    xs = [x.to(device) for x in input_shape] if isinstance(input_shape, list) else \
        [torch.zeros(input_shape, device=device)]
    with torch.no_grad(), countable_attention(torch), torch.backends.mkldnn.flags(enabled=False), \
            FlopCounterMode(display=False) as counter:
        y = model(*xs)
    for hook in hooks:
        hook.remove()
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    modules = dict(model.named_modules())
    # a tied weight is the module's that holds it first, as `model.parameters()` counts it
    first_holder = {}
    for name, module in _layers(model):
        for p in module.parameters():
            first_holder.setdefault(id(p), name)
    layers = {
        name: (shape, sum(p.numel() for p in modules[name].parameters()
                          if first_holder[id(p)] == name),
               sum(per_module.get(f"{root}.{name}", {}).values()) // 2)
        for name, shape in shapes.items()
    }
    return ModelFigures(
        params=sum(p.numel() for p in model.parameters()),
        buffers=sum(b.numel() for b in model.buffers()),
        macs=counter.get_total_flops() // 2, layers=layers,
        output_shape=tuple(y.shape) if isinstance(y, torch.Tensor)
        else tuple(tuple(output.shape) for output in y))


def _layers(model):
    """The modules that are layers: leaves with parameters, and nn.MultiheadAttention
    whole (its out_proj never runs as a module of its own), and netcalc's own modules
    (its attention's q_proj, its mixture's experts are parts of one layer)."""
    from netcalc.torch_bridge.build import OWN_MODULES

    attention = [name for name, m in model.named_modules()
                 if isinstance(m, torch.nn.MultiheadAttention)
                 or name and type(m).__name__ in OWN_MODULES]
    for name, module in model.named_modules():
        if any(name.startswith(f"{a}.") for a in attention):
            continue
        if name in attention or not list(module.children()) and \
                any(True for _ in module.parameters()):
            yield name, module


def returned_shapes(result) -> dict[str, tuple]:
    """Each tensor a model returned, by the name netcalc gives it (`output` for a lone
    tensor, `logits` for a ModelOutput's field, `0`, `1` for a tuple's items, `a.0`
    deeper), with the shape torch gave it."""
    from torch.utils._pytree import keystr, tree_flatten_with_path

    from netcalc.torch_bridge.capture import output_name

    return {output_name(keystr(path)): tuple(value.shape)
            for path, value in tree_flatten_with_path(result)[0]
            if isinstance(value, torch.Tensor)}


def unrolled_lstm(module, x, state=()):
    """nn.LSTM's computation written out: per layer, direction and time step, the gate
    matmuls x_t·W_ihᵀ and h·W_hhᵀ (+ biases), the cell, and h·W_hrᵀ with proj_size.
    Returns (output, h_n, c_n), shaped as nn.LSTM returns them."""
    batched = x.dim() == 3
    if not batched:
        x, state = x.unsqueeze(1), [s.unsqueeze(1) for s in state]
    elif module.batch_first:
        x = x.transpose(0, 1)
    length, batch, _ = x.shape
    directions = 2 if module.bidirectional else 1
    hidden, proj = module.hidden_size, module.proj_size
    stack = module.num_layers * directions
    h_0 = state[0] if state else x.new_zeros(stack, batch, proj or hidden)
    c_0 = state[1] if state else x.new_zeros(stack, batch, hidden)
    layer_input, h_n, c_n = x, [], []
    for k in range(module.num_layers):
        outputs = []
        for d in range(directions):
            suffix = f"_l{k}{'_reverse' if d else ''}"
            w_ih, w_hh = getattr(module, f"weight_ih{suffix}"), getattr(module, f"weight_hh{suffix}")
            h, c = h_0[k * directions + d], c_0[k * directions + d]
            steps = [None] * length
            for t in (reversed(range(length)) if d else range(length)):
                gates = layer_input[t] @ w_ih.T + h @ w_hh.T
                if module.bias:
                    gates = gates + getattr(module, f"bias_ih{suffix}") \
                        + getattr(module, f"bias_hh{suffix}")
                i, f, g, o = gates.chunk(4, 1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
                if proj:
                    h = h @ getattr(module, f"weight_hr{suffix}").T
                steps[t] = h
            outputs.append(torch.stack(steps))
            h_n.append(h)
            c_n.append(c)
        layer_input = torch.cat(outputs, dim=2)
    output, h_n, c_n = layer_input, torch.stack(h_n), torch.stack(c_n)
    if not batched:
        return output.squeeze(1), h_n.squeeze(1), c_n.squeeze(1)
    return output.transpose(0, 1) if module.batch_first else output, h_n, c_n


def unrolled_lstm_macs(module, shapes) -> int:
    """FlopCounterMode's count (flops / 2) for the LSTM written out as matmuls, with the
    module's weights; its outputs checked against the module's own first."""
    xs = make_inputs(shapes)
    with torch.no_grad():
        expected = torch.nn.LSTM.forward(module, xs[0], tuple(xs[1:]) or None)
        with FlopCounterMode(display=False) as counter:
            got = unrolled_lstm(module, xs[0], xs[1:])
    for e, g in zip((expected[0], *expected[1]), got):
        assert e.shape == g.shape and torch.allclose(e, g, atol=1e-5), (e - g).abs().max()
    return counter.get_total_flops() // 2


@contextlib.contextmanager
def saved_by_autograd(module):
    """While inside: the distinct storages autograd saves for backward, as {storage:
    bytes}, the module's own parameters and buffers aside; attention on the math path."""
    own = {t.untyped_storage().data_ptr() for t in (*module.parameters(), *module.buffers())}
    kept: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
            countable_attention(torch):
        yield kept
