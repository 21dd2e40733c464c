"""What torch itself says about a module: output shape, parameters, buffers, MACs.

MACs are FlopCounterMode's flops / 2, the convention netcalc reports.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class Measured:
    output_shape: tuple[int, ...]
    params: dict[str, int]
    buffers: dict[str, int]
    macs: int
    shares_input_memory: bool     # the output is a view of (or is) an input


def make_inputs(shapes, index_high: int | None = None):
    if index_high is not None:   # embedding: integer indices below num_embeddings
        return [torch.randint(0, index_high, shape) for shape in shapes]
    return [torch.randn(shape) for shape in shapes]


def measure(module, shapes, index_high: int | None = None) -> Measured:
    xs = make_inputs(shapes, index_high)
    storages = {x.untyped_storage().data_ptr() for x in xs}
    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
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
    )


def count_model(model, input_shape) -> tuple[int, int, tuple[int, ...]]:
    """(params, MACs, output shape) of a whole model on a zero input of this shape."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(input_shape))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2, \
        tuple(y.shape)
