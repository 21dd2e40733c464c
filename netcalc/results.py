"""What `analyze` returns: every number any renderer shows, already summed.

Renderers select and format these; they never compute.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

TYPE_CHECKING = False    # annotations only: importing fractions costs ~3 ms of start-up
if TYPE_CHECKING:
    from fractions import Fraction

Shape = tuple[int, ...]

MACS_CONVENTION = ("MACs as torch.utils.flop_counter.FlopCounterMode counts them (its flops / 2): "
                   "convolutions and matrix products only; flops = 2 × macs")


@dataclass(frozen=True)      # a value: layers whose field is the same share one
class ReceptiveField:
    """What one unit of a tensor sees of the network's input (README, "Receptive field")."""

    kind: str                       # "local", "flattened", "whole", "undefined" or "none"
    dims: tuple[int, ...]           # the tensor dims that hold positions
    size: tuple[int, ...]           # r, input pixels per spatial dim (local, flattened)
    jump: tuple[int, ...]           # j, input pixels between neighbouring units (local)
    start: tuple[int | Fraction, ...]   # centre of the first unit's field: whole or half pixels
    note: str                       # why it is not local
    origin: str                     # the layer (or input) where it stopped being local


@dataclass
class LayerResult:
    """One layer's numbers: shape, parameters, MACs, memory and layout."""

    name: str                       # qualified, torch-style
    type: str
    family: str
    depth: int
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    arguments: dict                 # the arguments given in the spec, normalized
    notation: str                   # as a textbook writes it: conv 11×11/4, 64
    param_tensors: dict             # torch parameter name -> elements
    params: int
    trainable_params: int
    weight_params: int
    bias_params: int
    buffers: int
    macs: int
    flops: int
    param_bytes: int
    buffer_bytes: int
    activation_bytes: int           # new memory for the output (0 for views, in-place ops)
    receptive_field: ReceptiveField | None = None
    tied_params: dict = field(default_factory=dict)  # tensor -> the layer.tensor it shares
    active_params: int = 0          # what one token uses (a mixture of experts: fewer)
    batch_dim: int | None = 0       # the output's batch dim (an RNN's h_n: 1; None: none)
    causal_attention_macs: int = 0  # of macs, a causal attention term (Q·Kᵀ and A·V)


# The fields of a layer's record in which it differs from the others of its kind
# (Summary.each_layer_alike): a tuple, since 100,000 of them are made in one pass.
LayerOwn = namedtuple("LayerOwn", ("name", "depth", "inputs", "receptive_field",
                                   "tied_params"))


@dataclass
class Row:
    """One line of the table: a layer, or a block/repeat (collapsed or not)."""

    name: str
    type: str
    kind: str                       # "layer", "block" or "repeat"
    copies: int                     # a repeat's count (0 otherwise)
    family: str
    depth: int
    output_shape: Shape
    params: int
    trainable_params: int
    macs: int
    flops: int
    activation_bytes: int
    params_percent: float
    macs_percent: float
    collapsed: bool                 # a group whose members `--depth` hides
    receptive_field: ReceptiveField | None = None    # its output's
    # a block that is one copy of a repeat named by ${i} (ViT's encoder_layer_0 ...):
    # (its index, the number of copies)
    series: tuple[int, int] = ()


@dataclass
class Totals:
    """The network's sums over its layers."""

    layers: int
    params: int
    trainable_params: int
    non_trainable_params: int
    weight_params: int
    bias_params: int
    buffers: int
    macs: int
    flops: int
    input_bytes: int
    param_bytes: int
    buffer_bytes: int
    activation_bytes: int
    total_bytes: int
    # sequence models: the params one token uses (fewer than `params` in a mixture of
    # experts), and the attention term of causal layers, of which a causal mask makes
    # half useful (MACs less that half: the causal-effective figure FlashAttention's MFU
    # counts; PaLM's and Megatron's keep the whole term)
    active_params: int = 0
    causal_attention_macs: int = 0
    causal_effective_macs: int = 0


@dataclass
class KVCache:
    """What a decoder generating `context` tokens keeps per sequence: each causal
    attention layer's keys and values (`--kv-cache CONTEXT`)."""

    context: int
    layers: int                     # layers that cache
    elements: int                   # K and V elements one sequence's cache holds
    layer_token_elements: int       # one layer's kv_heads·head_dim, where all cache alike (else 0)
    positions: int                  # the positions each layer keeps, where alike: the context,
                                    # or a sliding window's W if that is fewer (else 0)
    dtype_bytes: int
    sequence_bytes: int             # one sequence: elements · dtype_bytes
    batch_bytes: int                # `batch` sequences
    generation_bytes: int           # weights, buffers and the batch's cache


@dataclass
class Memory:
    """What a forward pass and a training step hold (memory.py says how). Where sizes
    are letters, the figures that depend on the activations are None."""

    peak_activation_bytes: int      # inference: the most alive at once, the inputs included
    inference_bytes: int            # that, with the parameters and buffers
    optimizer: str
    amp: bool                       # float16/bfloat16 activations, float32 master weights
    weight_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    saved_activation_bytes: int     # what autograd keeps for backward, each storage once
    training_bytes: int             # all of it, with the buffers, when backward begins
    checkpointed: tuple[str, ...] = ()   # blocks run under activation checkpointing
    # the largest layer's L×L attention scores and softmax on torch's math path, which
    # fused kernels never hold: stated beside the inference peak, not in it
    attention_score_bytes: int = 0


@dataclass
class SpecWarning:
    """Valid for torch, but likely not what was meant (a batch dim fixed in a reshape...)."""

    loc: object                     # errors.Location of the layer
    layer: str
    type: str
    message: str


@dataclass
class Summary:
    """What `netcalc.summary` returns: every layer, the totals and the memory."""

    name: str
    file: str
    batch: int
    dtype: str
    dtype_bytes: int
    depth: int | None
    inputs: dict                    # input name -> shape with batch
    input_dtypes: dict              # input name -> element type
    # read-only sequences, each made when first read (analyze.Results, Deferred), used
    # as tuples: a search reads the totals and never makes them
    layers: tuple[LayerResult, ...]
    rows: tuple[Row, ...]           # the table's rows, as --depth folds them
    blocks: tuple[Row, ...]         # every block and repeat, whatever --depth
    totals: Totals
    outputs: dict                   # graph outputs: layer name -> shape
    warnings: tuple[SpecWarning, ...] = ()
    # for sizes written as letters (`--input 3xHxW`): what the shapes' formulas assume
    conditions: tuple[str, ...] = ()
    # where sizes are letters, what depends on the activations is None in it
    memory: Memory | None = None
    # each output's layer, where outputs are named for what a model returns (`logits`)
    output_layers: dict = field(default_factory=dict)
    kv_cache: KVCache | None = None   # with --kv-cache CONTEXT
    # sizes written as letters: in each letter the MACs grow faster than linearly in
    # (attention's L²), the MACs' terms by degree, highest first, and the layer types
    # that hold the highest: (("L", ((2, 18432·L²), (1, …)), ("attention",)),)
    macs_by_degree: tuple = ()

    def each_layer(self):
        """Every layer's LayerResult in turn, for one pass, made as it is reached and
        not kept."""
        streamed = getattr(self.layers, "streamed", None)
        return (layer for _, layer in streamed()) if streamed else iter(self.layers)

    def each_layer_alike(self):
        """`each_layer`'s layers as pairs (kind, layer), for one pass. Layers of one kind
        (not None) have equal records but for their name, depth, inputs, receptive field
        and tied params (a repeated block's layers, at equal shapes): the first of a
        kind comes as its LayerResult, the others as their LayerOwn, those fields alone
        (a renderer renders the first, and the others from it). A layer of kind None (one
        read before, maybe changed since) comes as its LayerResult."""
        streamed = getattr(self.layers, "streamed", None)
        return streamed(alike=True) if streamed else ((None, layer) for layer in self.layers)

    # -- as a notebook or a script shows it (each a renderer's, render/) --------------

    def __repr__(self) -> str:
        t = self.totals
        layers = f"{len(self.layers)} layer{'s' if len(self.layers) != 1 else ''}"
        return (f"<Summary {self.name}: {layers}, {t.params:,} params, "
                f"{t.macs:,} MACs at batch {self.batch}>")

    def __str__(self) -> str:
        """The table, as `netcalc summary` writes it to a file."""
        from .render.table import plain_text
        return plain_text(self)

    def __rich__(self):
        from .render.table import renderable
        return renderable(self)

    def _repr_html_(self) -> str:
        from .render.html import render
        return render(self)

    def to_json(self) -> str:
        """`netcalc summary --format json`'s document."""
        from .render.json import render
        return render(self)

    def to_markdown(self, show: tuple[str, ...] = ()) -> str:
        from .render.markdown import render
        return render(self, show)

    def to_csv(self) -> str:
        from .render.csv import render
        return render(self)

    def to_dataframe(self):
        """One row per layer (pandas, where it is installed)."""
        try:
            import pandas
        except ImportError:
            from .errors import MissingToolError
            raise MissingToolError("to_dataframe needs pandas (pip install pandas); "
                                   "to_csv and to_json need nothing") from None
        import io
        return pandas.read_csv(io.StringIO(self.to_csv()))

    def diagram(self, rankdir: str = "TB", depth: int | None = None,
                show: tuple[str, ...] = ("shapes", "args"), repeats: str = "all",
                title: str | None = None):
        """The layer graph as a graphviz.Digraph, which Jupyter draws (Graphviz's `dot`
        needed to draw it; `.source` is the DOT text)."""
        import graphviz

        from .render import dot
        text = dot.render(self, dot.DiagramOptions(rankdir=rankdir, depth=depth,
                                                   show=tuple(show), title=title,
                                                   repeats=repeats))
        inner = text.split("{", 1)[1].rsplit("}", 1)[0]
        return graphviz.Digraph(name=self.name, body=[f"{line}\n" for line in
                                                      inner.strip("\n").splitlines()])
