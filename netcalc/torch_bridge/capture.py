"""A torch model, read by running it: `netcalc summary model.py:factory`.

The model is built under `torch.device("meta")`, so nothing is allocated and a
70B-parameter model costs what a small one does. `torch.export` (non-strict)
then runs its real Python code on fake tensors: control flow on shapes,
`x.ndim`, keyword arguments with defaults and dict outputs all just work, and
every operation is recorded with the module that ran it and the source line.
The exported program runs once more on meta tensors under FlopCounterMode,
op by op, so each op's MACs are torch's own (attention on the math path).

`to_spec` turns the captured program into an `ExpandedSpec`, as a YAML file
would be: each op a layer, of netcalc's type where aten.py maps it and
netcalc's rules give exactly torch's numbers, else a `TorchOp` carrying
torch's; each module that runs several ops a block.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Location, NetcalcError, UsageError
from ..inputs import parse_shape
from ..layers import lookup
from ..layers.torch_op import TorchOp
from ..results import SpecWarning
from ..spec.build import usable_name
from ..spec.model import ExpandedSpec, Group, InputSpec, LayerSpec
from . import COUNTED_BY_NETCALC, countable_attention, first_line, flop_counter, import_torch
from .aten import BOOKKEEPING, OPERAND_OPS, PASS_THROUGH, VIEWS, layer_for, piece_for
from .fx_import import class_location, load_module, shown

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any


class CaptureFailed(NetcalcError):
    """A model torch cannot run on fake tensors (exit 1)."""


# forward's arguments that are token ids or masks, not images: int64 unless said
TOKEN_INPUTS = re.compile(r"(^|_)ids$|^(decoder_)?attention_mask$")
INPUT_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")


@dataclass(frozen=True)
class ModelTensor:
    """A parameter or buffer of the model, under one of its names."""

    elements: int
    is_buffer: bool
    trainable: bool            # requires_grad (a buffer never is)
    owner: int                 # the tensor's identity: a tied weight has one under two names
    int64: bool = False        # an integer buffer (position ids): 8 bytes whatever --dtype


@dataclass
class Captured:
    """The exported program, with what netcalc needs to read it."""

    name: str                       # the factory's name
    file: str                       # the target, as given
    graph_module: Any               # ep.module(): get_attr nodes name the model's tensors
    inputs: list                    # [(name, shape without batch, dtype)]
    outputs: dict                   # output name (`logits`, `0`) -> graph node name
    macs: dict                      # graph node name -> FlopCounterMode's flops ÷ 2
    tensors: dict                   # tensor name -> ModelTensor
    module_classes: dict            # module path -> class name
    class_loc: Location | None
    warnings: list = field(default_factory=list)
    batch: int = 1                  # the batch the capture ran at


# -- building the model ----------------------------------------------------------

def load_on_meta(target: str, kwargs: dict):
    """The model `target` names, built on the meta device (no memory for weights)."""
    torch = import_torch()
    try:
        with torch.device("meta"):
            model = load_module(target, kwargs)
    except NetcalcError as error:
        if not _needs_real_tensors(error):
            raise
        # a constructor that computes with tensor values (torchvision's RegNet
        # calls .tolist()): build it for real, then drop the weights
        model = load_module(target, kwargs).to("meta")
    return model.eval()


def _needs_real_tensors(error: NetcalcError) -> bool:
    """torch refusing to give a meta tensor's values (`.item()`, `.tolist()`) to the
    constructor; any other error, one that merely mentions metadata, is the user's."""
    return re.search(r"meta tensors?\b|'meta' device|device='meta'", str(error)) is not None


def make_torchvision_importable(torch) -> None:
    """torchvision's wheels on PyPI are built against CUDA torch. On a CPU-only torch its
    C ops fail to load, which torchvision tolerates, except that it then registers fake
    kernels for two ops that were never defined, and `import torchvision` (and `import
    timm`) fails. Defining the two schemas first lets its pure-Python models import; the
    C ops themselves (nms, roi_align) still refuse to run."""
    import importlib.util
    global _TORCHVISION_SCHEMAS
    if _TORCHVISION_SCHEMAS is not None or torch.version.cuda is not None:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    version = Path(spec.submodule_search_locations[0]) / "version.py"
    try:
        built_for_cuda = re.search(r"__version__ = '[^']*\+cu\d", version.read_text()) is not None
    except OSError:
        return
    if not built_for_cuda:
        return
    try:
        torch.ops.torchvision.nms   # noqa: B018 - defined: its C ops did load
    except (AttributeError, RuntimeError):
        library = torch.library.Library("torchvision", "DEF")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TORCHVISION_SCHEMAS = library     # the schemas live as long as this object


_TORCHVISION_SCHEMAS = None


# -- inputs ------------------------------------------------------------------------

def sample_inputs(torch, model, values: tuple[str, ...], batch: int) -> list:
    """[(name, shape without batch, dtype)] for forward's arguments, from `--input`
    values: `3x224x224`, `name=3x224x224`, `input_ids=128:int64`."""
    signature = forward_signature(model)
    named = [p.name for p in signature.parameters.values()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = [p.name for p in signature.parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not values:
        first = required[0] if required else named[0] if named else "input"
        raise UsageError(f"give the input shape: --input 3x224x224 (for {first}), or "
                         f"--input {first}=128:int64 for token ids"
                         + (f"; forward also needs {', '.join(required[1:])}"
                            if len(required) > 1 else ""))
    inputs = []
    for value in values:
        name, _, text = value.rpartition("=")
        if not name:
            if len(values) != 1:
                raise UsageError(f"--input {value}: name the argument of forward it is for, "
                                 f"as --input {(required or named or ['x'])[0]}={value}")
            name = (required or named or ["input"])[0]
        elif named and name not in named:
            hint = f" (its arguments: {', '.join(named)})" if named else ""
            raise UsageError(f"--input {value}: forward has no argument '{name}'{hint}")
        if any(name == given for given, _, _ in inputs):
            raise UsageError(f"--input gives '{name}' twice")
        shape_text, _, dtype = text.partition(":")
        dtype = dtype.strip() or ("int64" if TOKEN_INPUTS.search(name) else "float32")
        if dtype not in INPUT_DTYPES:
            raise UsageError(f"--input {value}: dtype must be one of {', '.join(INPUT_DTYPES)}")
        inputs.append((name, parse_shape(shape_text), dtype))
    missing = [n for n in required if all(n != given for given, _, _ in inputs)]
    if missing:
        raise UsageError(f"forward needs {', '.join(missing)}: give each with "
                         f"--input {missing[0]}=SHAPE")
    return inputs


def forward_signature(model):
    try:
        return inspect.signature(model.forward)
    except (TypeError, ValueError):
        return inspect.Signature()


def _meta_tensors(torch, inputs: list, batch: int) -> dict:
    return {name: torch.empty((batch, *shape), dtype=getattr(torch, dtype), device="meta")
            for name, shape, dtype in inputs}


# -- capturing ---------------------------------------------------------------------

def capture(target: str, values: tuple[str, ...], kwargs: dict, batch: int = 1) -> Captured:
    """Build the model `target` names on meta, export it on inputs of `batch` items, and
    count each op's MACs."""
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    return capture_model(load_on_meta(target, kwargs), target.rpartition(":")[2], target,
                         values, batch)


def capture_model(model, name: str, file: str, values: tuple[str, ...],
                  batch: int = 1) -> Captured:
    """Export `model` (on the meta device) on inputs of `batch` items and count each op's
    MACs; `name` and `file` name it in the summary and in messages."""
    torch = import_torch()
    if batch < 1:
        raise UsageError(f"the batch must be at least 1, got {batch}")
    target = file
    inputs = sample_inputs(torch, model, values, batch)
    extra = {}
    if "use_cache" in forward_signature(model).parameters:
        extra["use_cache"] = False       # a forward pass, not generation: no KV cache
    program = _export(torch, model, inputs, batch, extra, target)
    graph_module = program.module()
    samples = _meta_tensors(torch, inputs, batch)
    macs, result = _count(torch, graph_module, {**samples, **extra}, type(model).__name__)
    tensors, classes = _model_tensors(model)
    return Captured(name=name, file=file, graph_module=graph_module, inputs=inputs,
                    outputs=_output_names(torch, graph_module, result), macs=macs,
                    tensors=tensors, module_classes=classes, class_loc=class_location(model),
                    batch=batch)


@contextlib.contextmanager
def _quiet(torch):
    """torch.export logs and warns about the model's code (deprecated calls, guards
    added): not the user's business here."""
    import logging
    import warnings
    import io
    loggers = [logging.getLogger(n) for n in ("torch._export", "torch.export", "torch._dynamo",
                                              "torch.fx.experimental.symbolic_shapes",
                                              "torch._subclasses.fake_tensor")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:      # their errors too: netcalc says what went wrong, located
        logger.setLevel(logging.CRITICAL)
    try:
        # torch.export prints the partial graph of a model it cannot run to stderr
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _export(torch, model, inputs: list, batch: int, extra: dict, target: str):
    """The exported program. An input an nn.Embedding reads is token ids: where torch
    says so, each floating-point input is tried as int64 in turn."""
    floats = [i for i, (_, _, dtype) in enumerate(inputs) if dtype == "float32"]
    first = None
    for attempt in [None, *floats]:
        tried = list(inputs)
        if attempt is not None:
            name, shape, _ = tried[attempt]
            tried[attempt] = (name, shape, "int64")
        try:
            with _quiet(torch), countable_attention(torch):
                program = torch.export.export(model, (), {**_meta_tensors(torch, tried, batch),
                                                          **extra}, strict=False)
        except Exception as error:   # noqa: BLE001 - the model's own code, run by torch
            first = first or error
            if "'indices'" not in str(error):
                break
            continue
        inputs[:] = tried
        return program
    raise CaptureFailed(_export_message(model, first, inputs, batch),
                        user_location(first)) from None


def _export_message(model, error: Exception, inputs: list, batch: int) -> str:
    given = ", ".join(f"{n} {[batch, *s]} {d}" for n, s, d in inputs)
    if "data-dependent" in first_line(error) or "DataDependent" in type(error).__name__:
        return (f"{type(model).__name__} branches on a tensor's values here, which a "
                f"capture on fake inputs ({given}) cannot know: netcalc reads models whose "
                "control flow depends only on shapes")
    return (f"torch cannot run {type(model).__name__} on fake inputs ({given}): "
            f"{type(error).__name__}: {first_line(error)}")


def _count(torch, graph_module, samples: dict, name: str) -> tuple[dict, Any]:
    """Each node's MACs (FlopCounterMode's flops ÷ 2, with netcalc's formulas for the ops
    it has none for), by running the program op by op on meta tensors; and what the
    program returns."""
    from torch.utils._pytree import tree_flatten

    counter = flop_counter(torch)
    macs: dict[str, int] = {}

    running = []                      # the node being run, for an error's location

    class Counter(torch.fx.Interpreter):
        def run_node(self, node):
            running[:] = [node]
            before = counter.get_total_flops()
            value = super().run_node(node)
            spent = counter.get_total_flops() - before
            if spent:
                macs[node.name] = spent // 2
            return value

    flat, _ = tree_flatten(((), samples))
    # grad mode on: under no_grad torch takes fused attention paths that FlopCounterMode
    # counts as 0
    try:
        with _quiet(torch), countable_attention(torch), counter:
            values = Counter(graph_module).run(*flat)
    except Exception as error:   # noqa: BLE001 - an op whose result depends on values
        where = node_location(running[0]) if running else None
        raise CaptureFailed(f"{name} computes a shape from a tensor's values here (torch "
                            f"says: {first_line(error)}); a capture on fake inputs cannot "
                            "know it: netcalc reads models whose shapes depend only on their "
                            "inputs' shapes", where or user_location(error)) from None
    return macs, values


def _output_names(torch, graph_module, values) -> dict[str, str]:
    """What forward returns, by name: `logits` of a ModelOutput, `0` of a tuple, `output`
    of a lone tensor; each the graph node that makes it."""
    from torch.utils._pytree import keystr, tree_flatten_with_path, tree_unflatten

    output = next(n for n in graph_module.graph.nodes if n.op == "output")
    nodes = list(output.args[0]) if isinstance(output.args[0], (list, tuple)) else [output.args[0]]
    spec = graph_module._out_spec
    if spec is None:
        return {"output": nodes[0].name} if len(nodes) == 1 else \
            {str(i): n.name for i, n in enumerate(nodes)}
    placed = tree_unflatten(list(range(len(nodes))), spec)
    names = {}
    for path, index in tree_flatten_with_path(placed)[0]:
        node = nodes[index]
        if not hasattr(node, "op"):
            continue                  # a constant forward returns (None, a number)
        names[output_name(keystr(path))] = node.name
    return names


def output_name(key: str) -> str:
    """A returned tensor's name from its pytree path: `.logits` -> logits, `[0]` -> 0,
    `['out'][1]` -> out.1; a lone tensor's is `output`."""
    return key.lstrip(".").replace("][", ".").strip("[]").replace("'", "") or "output"


def _model_tensors(model) -> tuple[dict, dict]:
    """Every parameter and buffer under each of its names (a tied weight has two), with
    its size; and each module's class name."""
    tensors = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        tensors[name] = ModelTensor(p.numel(), False, p.requires_grad, id(p))
    for name, b in model.named_buffers(remove_duplicate=False):
        tensors[name] = ModelTensor(b.numel(), True, False, id(b),
                                    int64=not b.is_floating_point() and b.element_size() == 8)
    classes = {path: type(m).__name__ for path, m in model.named_modules(remove_duplicate=False)}
    return tensors, classes


# -- locations in the user's code ------------------------------------------------------

@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """torch's, netcalc's and Python's own: frames there are not where a model did
    something; the model's file, or timm's or transformers', is."""
    import torch
    return tuple(str(Path(p).resolve()) + "/" for p in (
        Path(torch.__file__).parent, Path(__file__).parent.parent,
        Path(traceback.__file__).parent))


def _is_model_code(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    return not str(Path(filename).resolve()).startswith(_library_dirs())


def user_location(error: BaseException) -> Location | None:
    """The innermost frame of the error in the model's code (the user's, or a library's
    like timm's), not torch's or netcalc's."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_model_code(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    return Location(shown(frame.filename), frame.lineno or 1, (frame.colno or 0) + 1)


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ')


def node_location(node) -> Location | None:
    """Where the model's code made this op: the innermost line of the model's (or its
    library's) code in the op's stack."""
    stack = node.meta.get("stack_trace") or ""
    for filename, line in reversed(_FRAME.findall(stack)):
        if _is_model_code(filename):
            return Location(shown(filename), int(line), 1)
    return None


# -- the captured program as a spec ---------------------------------------------------------

def spec_or_blockers(spec: ExpandedSpec, traced: NetcalcError) -> None:
    """A captured model can be written as a spec when netcalc has a layer type for each of
    its ops; else an error naming the ops that have none, and where the first is."""
    generic: dict[str, list] = {}
    for layer in spec.layers:
        if isinstance(layer.layer, TorchOp):
            generic.setdefault(layer.layer.op, []).append(layer)
    if not generic:
        return
    listed = ", ".join(f"{op} ({len(layers)}×)" for op, layers in
                       sorted(generic.items(), key=lambda item: -len(item[1])))
    first = next(layer for layer in spec.layers if isinstance(layer.layer, TorchOp))
    raise CaptureFailed(
        f"netcalc has no layer type for {_count_of(sum(map(len, generic.values())))} of "
        f"this model, so it cannot write it as a spec: {listed}; `netcalc summary "
        f"{spec.file} --input ...` reads it as it is, exactly (torch.fx refused it too: "
        f"{traced.message})", first.loc)


def _count_of(n: int) -> str:
    return f"{n} operation{'s' if n != 1 else ''}"


@dataclass
class _Op:
    """One op of the program on its way to a layer."""

    node: Any
    name: str = ""
    chain: tuple = ()              # module paths, outermost first (the model itself left out)


def to_spec(captured: Captured) -> tuple[ExpandedSpec, list[str]]:
    """The spec whose layers are the captured ops; and where netcalc's rule for a mapped op
    disagreed with torch (the op was kept as torch's instead), for the tests."""
    return _SpecWriter(captured).run()


class _SpecWriter:
    def __init__(self, captured: Captured):
        self.captured = captured
        self.graph = captured.graph_module.graph
        self.values: dict[str, str] = {}       # node name -> the layer (or input) giving it
        self.claimed: set[int] = set()         # tensors already counted (by identity)
        self.layers: list[LayerSpec] = []
        self.ops: list[_Op] = []
        self.disagreements: list[str] = []
        self.pieces_taken: set[str] = set()    # tuple-making nodes one of whose pieces is a layer
        self.tensor_of: dict[str, str] = {}    # get_attr node name -> tensor name

    def run(self) -> tuple[ExpandedSpec, list[str]]:
        captured = self.captured
        loc = captured.class_loc or Location(captured.file.rpartition(":")[0], 1, 1)
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        names = {name for name, _, _ in captured.inputs}
        for node in placeholders:
            if node.name in names or node.target in names:
                self.values[node.name] = node.target if node.target in names else node.name
        spec = ExpandedSpec(
            name=captured.name, file=captured.file, captured=True,
            # an image follows --dtype, as a spec's input does; token ids stay integers
            inputs=[InputSpec(name, tuple(shape), loc, None if dtype == "float32" else dtype)
                    for name, shape, dtype in captured.inputs])
        self.tensor_of = {n.name: str(n.target) for n in self.graph.nodes if n.op == "get_attr"}
        read = {str(n.target) for n in self.graph.nodes if n.op == "get_attr" and n.users}
        # what no op reads (BatchNorm's num_batches_tracked) is counted by its module's op
        self.unread_of: dict[str, list[str]] = {}
        read_owners = {captured.tensors[t].owner for t in read if t in captured.tensors}
        for tensor, info in captured.tensors.items():
            if info.owner not in read_owners and info.is_buffer:
                self.unread_of.setdefault(tensor.rpartition(".")[0], []).append(tensor)
        for node in self.graph.nodes:
            if node.op in ("call_function", "call_method"):
                self._node(node)
        self._unread_tensors(loc)
        self._name_layers()
        spec.layers = self.layers
        spec.groups = self._groups()
        spec.outputs = {name: self.values[node] for name, node in captured.outputs.items()
                        if node in self.values}
        spec.warnings = list(captured.warnings)
        counted = {}                     # op -> the layers netcalc counted it in
        for layer in self.layers:
            if isinstance(layer.layer, TorchOp) and layer.layer.op in COUNTED_BY_NETCALC \
                    and layer.layer.op_macs:
                counted.setdefault(layer.layer.op, []).append(layer)
        for op, layers in counted.items():  # said once, at the first, by its final name
            more = f" (and in {len(layers) - 1} more layers)" if len(layers) > 1 else ""
            spec.warnings.append(SpecWarning(
                layers[0].loc, layers[0].name, op, "FlopCounterMode has no formula for this "
                "op and counts it 0; netcalc counts its matmuls, one per group (a mixture's "
                f"experts: each expert on its tokens){more}"))
        return spec, self.disagreements

    # -- one node --

    def _node(self, node) -> None:
        target = _op_name(node.target)
        value = node.meta.get("val")
        if target in BOOKKEEPING or value is None:
            return
        sources = [a for a in _flat_nodes(node.args, node.kwargs)]
        same = target.startswith(("aten.to.", "aten._to_copy.")) and sources and \
            getattr(sources[0].meta.get("val"), "dtype", None) == getattr(value, "dtype", 0)
        if (target in PASS_THROUGH or same) and sources and sources[0].name in self.values:
            self.values[node.name] = self.values[sources[0].name]
            return
        if isinstance(value, (list, tuple)):
            return                         # its pieces become layers where they are taken
        if target == "getitem":
            self._piece(node, sources[0], node.args[1])
            return
        for source in sources:
            self._parameter_operand(source, node)
        self._add(node, node, target, value)

    def _parameter_operand(self, source, node) -> None:
        """A parameter forward uses as a tensor of its own (ViT's `pos_embed` in `x +
        pos_embed`, a layer scale's `gamma * x`), not as a layer's weight: a `parameter`
        layer, where it is first read, as a spec writes it."""
        tensor = self.tensor_of.get(source.name)
        if tensor is None or tensor not in self.captured.tensors:
            return
        info = self.captured.tensors[tensor]
        if info.is_buffer or info.owner in self.claimed or \
                any(_op_name(user.target) not in OPERAND_OPS for user in source.users):
            return
        self.claimed.add(info.owner)
        del self.tensor_of[source.name]
        shape = [int(s) for s in source.meta["val"].shape]
        self.values[source.name] = source.name
        self.ops.append(_Op(None, name=tensor, chain=_module_chain(node)))
        self.layers.append(LayerSpec(
            name=source.name, layer=lookup("parameter").from_args({"shape": shape}), inputs=(),
            loc=node_location(node) or self.captured.class_loc or
            Location(self.captured.file, 1, 1), arg_loc={}, depth=0,
            frozen=0 if info.trainable else info.elements))

    def _piece(self, node, whole, index) -> None:
        """`whole[index]` of an op that returns several tensors (unbind, split, max-pool
        with indices): a layer of that op giving that piece."""
        target = _op_name(whole.target)
        value = node.meta.get("val")
        if value is None or not hasattr(value, "shape"):
            return
        first = whole.name not in self.pieces_taken
        self.pieces_taken.add(whole.name)
        self._add(node, whole, f"{target}[{index}]", value, count=first)

    def _add(self, node, source, target: str, value, count: bool = True) -> None:
        """A layer for `node`, computed by the op `source` (itself, or the op whose piece
        it takes)."""
        captured = self.captured
        activations, read = [], []
        for arg in _flat_nodes(source.args, source.kwargs):
            if arg.name in self.tensor_of:
                read.append(self.tensor_of[arg.name])
            elif arg.name in self.values:
                activations.append(self.values[arg.name])
        params, buffers = {}, {}
        chain = _module_chain(node)
        shared = False             # a tied weight, counted where it was first read
        mine: set[int] = set()
        counted: dict = {}         # the tensors this layer counts
        for tensor in read:
            info = captured.tensors.get(tensor)
            if info is None:
                continue
            shared = shared or (info.owner in self.claimed and info.owner not in mine)
            if info.owner in self.claimed or not count:
                continue
            self.claimed.add(info.owner)
            mine.add(info.owner)
            counted[tensor] = info
            (buffers if info.is_buffer else params)[tensor.rpartition(".")[2] or tensor] = \
                info.elements
        # buffers of its module no op reads (BatchNorm's num_batches_tracked), which
        # netcalc's rule may count with the op
        unread = {}
        for tensor in self.unread_of.get(_path(chain[-1]) if chain else "", []):
            info = captured.tensors[tensor]
            if info.owner not in self.claimed:
                unread[tensor] = (tensor.rpartition(".")[2], info.elements, info.owner)
        shape = tuple(int(s) for s in value.shape)
        macs = captured.macs.get(source.name, 0) if count else 0
        layer = None
        if not shared:
            layer = layer_for(source, self.tensor_of) if source is node else \
                piece_for(source, node.args[1], self.tensor_of)
        if layer is not None:
            with_unread = {**buffers, **{name: n for name, n, _ in unread.values()}}
            problem = self._problem(layer, source, shape, macs, params, with_unread) \
                if unread else "no unread buffers"
            if not problem:
                buffers = with_unread
                self.claimed.update(owner for _, _, owner in unread.values())
                counted.update({t: captured.tensors[t] for t in unread})
            else:
                problem = self._problem(layer, source, shape, macs, params, buffers)
                if problem:
                    self.disagreements.append(f"{'.'.join(chain[-1:]) or '(top)'} {target} as "
                                              f"{layer.type_name}: {problem}")
                    layer = None
        if layer is not None and layer.arity == 1:
            activations = activations[:1]
        if layer is None:
            layer = TorchOp(op=target, shape=shape, op_macs=macs,
                            param_counts=tuple(params.items()),
                            buffer_counts=tuple(buffers.items()),
                            view=target.split("[")[0] in VIEWS,
                            integer_buffers=tuple(t.rpartition(".")[2] for t, info in
                                                  counted.items() if info.int64))
        frozen = sum(info.elements for info in counted.values()
                     if not info.is_buffer and not info.trainable)
        self.values[node.name] = node.name
        self.ops.append(_Op(node, chain=chain))
        self.layers.append(LayerSpec(
            name=node.name, layer=layer, inputs=tuple(activations),
            loc=node_location(node) or captured.class_loc or Location(captured.file, 1, 1),
            arg_loc={}, depth=0, frozen=frozen))

    def _problem(self, layer, source, shape, macs, params, buffers) -> str:
        """How netcalc's rules for a mapped op differ from torch's numbers ("" if not)."""
        try:
            shapes = self._shapes_of(source)
            # x.reshape_as(y) reads only y's shape: the layer takes x alone
            numbers = layer.for_batch(self.captured.batch).evaluate(
                shapes[:1] if layer.arity == 1 else shapes)
        except Exception as error:     # noqa: BLE001 - a rule refusing what torch ran
            return f"its rule raised {error}"
        if tuple(numbers.output_shape) != shape:
            return f"shape {list(numbers.output_shape)} vs torch's {list(shape)}"
        if numbers.macs != macs:
            return f"MACs {numbers.macs} vs torch's {macs}"
        if sum(numbers.params.values()) != sum(params.values()):
            return f"parameters {sum(numbers.params.values())} vs {sum(params.values())}"
        if sum(numbers.buffers.values()) != sum(buffers.values()):
            return f"buffers {sum(numbers.buffers.values())} vs {sum(buffers.values())}"
        return ""

    def _shapes_of(self, source) -> tuple:
        """The input shapes a mapped layer sees: its activation arguments' shapes."""
        shapes = []
        for arg in _flat_nodes(source.args, source.kwargs):
            if arg.name in self.tensor_of:
                continue
            value = arg.meta.get("val")
            if hasattr(value, "shape"):
                shapes.append(tuple(int(s) for s in value.shape))
        return tuple(shapes)

    def _unread_tensors(self, loc: Location) -> None:
        """Parameters and buffers forward never reads (BatchNorm's num_batches_tracked, a
        head the model does not use): torch's parameters() counts them, so the summary
        does, in a row of their module's."""
        captured = self.captured
        unread: dict[str, dict] = {}
        for tensor, info in captured.tensors.items():
            if info.owner in self.claimed:
                continue
            self.claimed.add(info.owner)
            module = tensor.rpartition(".")[0]
            unread.setdefault(module, {})[tensor] = info
        for module, tensors in unread.items():
            params = {t.rpartition(".")[2]: i.elements for t, i in tensors.items()
                      if not i.is_buffer}
            buffers = {t.rpartition(".")[2]: i.elements for t, i in tensors.items()
                       if i.is_buffer}
            ran = not module or any(module in map(_path, op.chain) for op in self.ops)
            name = f"{module}.unread" if module and ran else module or "unread"
            layer = TorchOp(op="(not read by forward)" if ran else
                            f"{captured.module_classes.get(module, 'module')} (never called)",
                            shape=(0,),
                            param_counts=tuple(params.items()),
                            buffer_counts=tuple(buffers.items()), view=True,
                            integer_buffers=tuple(t.rpartition(".")[2] for t, i in
                                                  tensors.items() if i.int64))
            # placed after the module's last op, so that it sits in the module's block
            at = max((i for i, op in enumerate(self.ops) if module and
                      (module in map(_path, op.chain))), default=len(self.ops) - 1) + 1
            self.ops.insert(at, _Op(None, name=name, chain=(*_parents(module), module)
                                    if module else ()))
            self.layers.insert(at, LayerSpec(
                name=name, layer=layer, inputs=(), loc=loc, arg_loc={}, depth=0,
                frozen=sum(i.elements for i in tensors.values()
                           if not i.is_buffer and not i.trainable)))
            if sum(params.values()):
                what = f"reads {', '.join(sorted(tensors))}" if ran else "calls it"
                captured.warnings.append(SpecWarning(
                    loc, name, layer.type_name, f"forward never {what}: torch's parameters() "
                    f"counts its {sum(params.values()):,} parameters, and so does this summary"))

    # -- names and blocks --

    def _name_layers(self) -> None:
        """A module that runs one op names its layer (`layer1.0.conv1`); a module that runs
        several is a block of layers named `block.op` (`blocks.0.attn.matmul`)."""
        per_module: dict[str, int] = {}        # ops run inside each module, at any depth
        for op in self.ops:
            for path in op.chain:
                per_module[path] = per_module.get(path, 0) + 1
        renamed = {}
        taken: set[str] = set()
        for op, layer in zip(self.ops, self.layers):
            leaf = op.chain[-1] if op.chain else ""
            if op.node is None:
                name = op.name
            elif leaf and per_module[leaf] == 1:
                name = _call_name(leaf)
            else:
                name = f"{_call_name(leaf)}.{op.node.name}" if leaf else op.node.name
            name = usable_name(name)
            while name in taken:
                name += "_"
            taken.add(name)
            renamed[layer.name] = name
            layer.name = name
            op.name = name
        self.single = {path for path, n in per_module.items() if n == 1}
        for layer in self.layers:
            layer.inputs = tuple(renamed.get(i, i) for i in layer.inputs)
        self.values = {node: renamed.get(v, v) for node, v in self.values.items()}

    def _groups(self) -> list[Group]:
        """Each run of a module's ops a block; a module whose ops run interleaved with
        others' (res2net's) has a block for each run."""
        classes = self.captured.module_classes
        groups: list[Group] = []
        open_: list[Group] = []
        runs: dict[str, int] = {}
        for index, (op, layer) in enumerate(zip(self.ops, self.layers)):
            chain = [p for p in op.chain if p not in self.single]
            kept = 0
            while kept < len(open_) and kept < len(chain) and \
                    open_[kept].type_name == classes.get(_path(chain[kept]), "") and \
                    open_[kept].name.split("#")[0] == usable_name(_call_name(chain[kept])):
                kept += 1
            for group in open_[kept:]:
                group.end = index
            del open_[kept:]
            for path in chain[kept:]:
                runs[path] = runs.get(path, 0) + 1
                name = usable_name(_call_name(path)) + (f"#{runs[path]}" if runs[path] > 1
                                                        else "")
                group = Group(name=name, type_name=classes.get(_path(path), "Module"),
                              kind="block",
                              depth=len(open_), loc=layer.loc, first=index)
                open_.append(group)
                groups.append(group)
            layer.depth = len(open_)
        for group in open_:
            group.end = len(self.layers)
        for group in groups:
            group.output = self._group_output(group)
        groups.sort(key=lambda g: (g.first, -g.end))
        return groups

    def _group_output(self, group: Group) -> str:
        layers = self.layers
        inside = layers[group.first:group.end]
        read_outside = {name for layer in layers[:group.first] + layers[group.end:]
                        for name in layer.inputs} | set(self.values[n] for n in
                                                        self.captured.outputs.values()
                                                        if n in self.values)
        given = [layer.name for layer in inside if layer.name in read_outside]
        real = [layer.name for layer in inside if not layer.name.endswith("unread")]
        return given[-1] if given else (real or [inside[-1].name])[-1]


def _parents(path: str) -> tuple[str, ...]:
    parts = path.split(".")
    return tuple(".".join(parts[:i]) for i in range(1, len(parts)))


def _module_chain(node) -> tuple[str, ...]:
    """The module calls the op ran in, outermost first: a module's path, `path@1` for its
    second call (torchvision's BasicBlock calls its `relu` twice)."""
    stack = node.meta.get("nn_module_stack") or {}
    return tuple(f"{path}@{key.rpartition('@')[2]}" if "@" in key else path
                 for key, (path, _) in stack.items() if path)


def _path(call: str) -> str:
    """The module's path of a call in a chain."""
    return call.partition("@")[0]


def _call_name(call: str) -> str:
    """How a call is named: `relu`, then `relu_1` for the second call."""
    path, _, index = call.partition("@")
    return f"{path}_{index}" if index else path


def _op_name(target) -> str:
    """`aten.conv2d.default` for torch's ops, `getitem` for Python's."""
    name = getattr(target, "__name__", None)
    if hasattr(target, "_schema") or hasattr(target, "overloadpacket"):
        return str(target)
    return name or str(target)


def _flat_nodes(args, kwargs) -> list:
    """The graph nodes among an op's arguments, in order (lists flattened)."""
    found = []

    def visit(value):
        if hasattr(value, "op") and hasattr(value, "meta"):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(args)
    visit(kwargs)
    return found
