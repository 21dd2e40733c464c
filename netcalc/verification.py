"""What `verify` returns: netcalc's numbers beside torch's, layer by layer.

Apart from results.py so that a summary does not make these records.
"""

from __future__ import annotations

from dataclasses import dataclass

from .results import SpecWarning


@dataclass(frozen=True)
class Quantity:
    """One number both ways: what netcalc computed and what torch measured."""

    netcalc: object
    torch: object

    @property
    def ok(self) -> bool:
        return self.netcalc == self.torch


@dataclass(frozen=True)
class LayerCheck:
    """One layer's numbers both ways."""

    name: str
    type: str
    output_shape: Quantity
    params: Quantity
    buffers: Quantity
    macs: Quantity

    @property
    def ok(self) -> bool:
        return all(q.ok for q in (self.output_shape, self.params, self.buffers, self.macs))


@dataclass(frozen=True)
class Verification:
    """What `verify` found: every layer and the totals both ways, and torch's run."""

    name: str
    file: str
    device: str                      # "cpu", or "cuda (NVIDIA H100 80GB HBM3)"
    torch_version: str
    batch: int
    dtype: str
    layers: tuple[LayerCheck, ...]
    params: Quantity
    buffers: Quantity
    macs: Quantity
    estimated_bytes: int             # netcalc's memory figure (Totals.total_bytes)
    latency_ms: float | None         # median forward time; None when not timed
    timed_runs: int
    peak_bytes: int | None           # torch.cuda.max_memory_allocated; None on CPU
    failed_layers: int               # layers with any number unlike torch's
    estimate_to_peak: float | None   # estimated_bytes / peak_bytes
    warnings: tuple[SpecWarning, ...] = ()   # the summary's, for the JSON

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.layers) and self.params.ok and self.macs.ok \
            and self.buffers.ok
