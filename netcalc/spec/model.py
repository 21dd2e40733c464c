"""The expanded spec: a flat list of layers in execution order, plus the
blocks and repeats they came from (for the table's tree and `--depth`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Location, Note
from ..layers import Layer


@dataclass(frozen=True)
class InputSpec:
    """One input the spec declares."""

    name: str
    shape: tuple[int, ...]      # without the batch dim
    loc: Location
    dtype: str | None = None    # None: the model's --dtype; token ids say int64


@dataclass(slots=True)      # a deep stack has 100,000: no dict of attributes each
class LayerSpec:
    """One layer of the expanded spec: its type's record, inputs and location."""

    name: str                   # qualified, torch-style: layer1.0.conv1
    layer: Layer
    inputs: tuple[str, ...]     # qualified names of producers, or spec input names
    loc: Location               # the layer's entry
    arg_loc: dict[str, Location]
    depth: int                  # 0 at top level; +1 per enclosing block or repeat
    trace: tuple[Note, ...] = ()  # where the enclosing blocks were used
    trainable: bool = True
    frozen: int = 0             # of its parameters, those torch does not train (requires_grad
                                # off: a captured model's frozen weights)
    # its parameters that are another layer's (`tie_weight`: GPT-2's head reads the token
    # embedding's weight): tensor name -> that layer's qualified name; counted there, once
    tied: dict = field(default_factory=dict)


@dataclass
class Group:
    """A block instance or a repeat: a contiguous run of layers under one name."""

    name: str
    type_name: str              # the block's name, or the repeated layer's type
    kind: str                   # "block" or "repeat"
    depth: int
    loc: Location
    first: int                  # index into ExpandedSpec.layers
    end: int = -1               # one past the last layer
    output: str = ""            # qualified name of the producer of its output
    copies: int = 0             # a repeat's count
    # one copy of a repeat whose copies are named by ${i} (`encoder_layer_${i}`), which
    # makes no group of its own: (this copy's index, the number of copies)
    series: tuple[int, int] = ()
    # a block instance: what it is an instance of (its block at its values: instances
    # with one pattern have the same layers, reading each other's names), and the
    # producers it reads; None for other groups
    pattern: object = None
    inputs: tuple[str, ...] = ()


@dataclass
class ExpandedSpec:
    """The spec with its blocks and repeats expanded into layers."""

    name: str
    file: str
    inputs: list[InputSpec]
    layers: list[LayerSpec] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    warnings: list = field(default_factory=list)   # results.SpecWarning, found while reading
    # what the model returns, by name -> the layer giving it (a captured torch model's
    # `logits`); empty: every layer no other layer reads
    outputs: dict = field(default_factory=dict)
    captured: bool = False          # read from a torch model (torch_bridge/capture.py)
    # the top-level `params` as bound (a YAML spec's), and those whose default is an
    # expression of others (`out: "${4 * width}"`)
    params: dict = field(default_factory=dict)
    derived_params: tuple = ()
