"""`netcalc import`: a torch module, traced with torch.fx, as a netcalc spec.

The traced graph becomes an `ExpandedSpec`, as a YAML file does: every call
of a torch.nn module is a layer at the module's qualified name, every
functional call (F.relu, torch.cat, x + y, x.mean(...)) a layer in the
module whose forward made it, and every submodule a block. Shape queries
(x.size(0), x.shape) are evaluated on a sample input; a batch size they
yield becomes -1. What netcalc cannot express is refused, naming the graph
node and the source line that made it.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import sys
import traceback
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import Location, NetcalcError, SpecError, UsageError, did_you_mean
from ..inputs import input_overrides
from ..layers import lookup
from ..layers.base import BATCH
from ..spec.build import LayerGraph, Scope, layer_name, usable_name
from ..spec.loader import located
from ..results import SpecWarning
from ..spec.model import ExpandedSpec, Group, InputSpec
from . import available_ram, first_line, import_torch
from .build import OWN_MODULES, own_module

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# Layers are added with their qualified names; blocks are the importer's own groups.
_TOP_LEVEL = Scope(prefix="", inputs={}, depth=0, trace=(), trainable=True)


class ImportFailed(NetcalcError):
    """A module netcalc cannot turn into a spec (exit 1)."""


# -- loading the module --------------------------------------------------------

def load_module(target: str, kwargs: dict[str, Any]):
    """The torch module `target` names, constructed with `kwargs`."""
    from .capture import make_torchvision_importable
    torch = import_torch()
    make_torchvision_importable(torch)
    source, _, attribute = target.rpartition(":")
    namespace = _import_source(source)
    if not hasattr(namespace, attribute):
        candidates = [n for n, v in vars(namespace).items()
                      if callable(v) and getattr(v, "__module__", None) == namespace.__name__
                      and not n.startswith("_")]
        by_case = {n.lower(): n for n in candidates}
        hint = f"; did you mean '{by_case[attribute.lower()]}'?" if attribute.lower() in by_case \
            else did_you_mean(attribute, candidates)
        raise UsageError(f"{source} has no '{attribute}'{hint}"
                         + (f" (it defines: {', '.join(candidates)})" if candidates else ""))
    factory = getattr(namespace, attribute)
    try:
        model = factory(**kwargs)
    except (Exception, SystemExit) as error:   # noqa: BLE001 - the user's constructor
        hint = " (give its arguments with --kwargs '{\"name\": value}')" \
            if isinstance(error, TypeError) and "argument" in str(error) else ""
        raise ImportFailed(f"{attribute}(**{kwargs}) raised {type(error).__name__}: {error}"
                           f"{hint}", _user_location(error, source)) from None
    if not isinstance(model, torch.nn.Module):
        kind = type(model).__name__
        raise UsageError(f"{target} gave {'an' if kind[0] in 'AEIOUaeiou' else 'a'} {kind}, "
                         "not a torch.nn.Module")
    return model


def _import_source(source: str):
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"no such file: {source}")
        name = f"_netcalc_import_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))   # its own sibling imports work
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as error:   # noqa: BLE001 - the user's file
            raise ImportFailed(f"running {source} raised {type(error).__name__}: {error}",
                               _user_location(error, source)) from None
        finally:
            sys.path.remove(str(path.resolve().parent))
        return module
    sys.path.insert(0, ".")
    try:
        return importlib.import_module(source)
    except ImportError as error:
        raise UsageError(f"cannot import {source}: {error}") from None
    except (Exception, SystemExit) as error:   # noqa: BLE001 - the user's module
        raise ImportFailed(f"importing {source} raised {type(error).__name__}: {error}",
                           _user_location(error, source)) from None
    finally:
        sys.path.remove(".")


def _user_location(error: BaseException, source: str) -> Location | None:
    """The innermost frame of the error in the user's own file."""
    if isinstance(error, SyntaxError) and error.filename:
        return Location(shown(error.filename), error.lineno or 1, error.offset or 1)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not _is_library(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    return Location(shown(frame.filename), frame.lineno or 1, (frame.colno or 0) + 1)


def _is_library(filename: str) -> bool:
    """A frame of netcalc, torch, Python or an installed package: not the user's code."""
    if filename.startswith("<") or "site-packages" in filename:
        return True
    path = str(Path(filename).resolve())
    return path.startswith(_LIBRARY_DIRS)


_LIBRARY_DIRS = tuple(str(Path(p).resolve()) + "/" for p in (
    Path(__file__).parent.parent,                 # netcalc
    Path(traceback.__file__).parent,              # the standard library
))


def shown(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename


# -- tracing ----------------------------------------------------------------------

def import_spec(target: str, input_shapes: tuple[str, ...], kwargs: dict[str, Any],
                batch: int = 1) -> ExpandedSpec:
    """Trace the module `target` names and return its spec; the sample input that
    settles the shapes has `batch` items."""
    torch = import_torch()
    model = load_module(target, kwargs).eval()
    graph = _trace(torch, model, target)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    names = _input_names(placeholders, set(dict(model.named_children())))
    if not input_shapes:
        raise UsageError("give the input shape: --input 3x224x224"
                         + ("" if len(names) == 1 else f" for each of {', '.join(names)} "
                            "(--input name=3x224x224)"))
    shapes = input_overrides(input_shapes, names)
    missing = [n for n in names if n not in shapes]
    if missing:
        raise UsageError(f"no --input for {', '.join(missing)}")
    modules = dict(model.named_modules())     # getattr would stop at a child named `train`
    dtypes = {name: _input_dtype(torch, node, modules) for name, node in zip(names, placeholders)}
    _check_sample_size(torch, shapes, dtypes, batch)
    samples = [torch.zeros((batch, *shapes[name]), dtype=getattr(torch, dtypes[name] or "float32"))
               for name in names]
    _record_shapes(torch, model, graph, samples)
    file = target.rpartition(":")[0]
    spec = ExpandedSpec(name=target.rpartition(":")[2], file=target, inputs=[
        InputSpec(name, tuple(shapes[name]), class_location(model) or Location(file, 1, 1),
                  dtypes[name])
        for name in names])
    _Converter(torch, model, modules, spec, dict(zip(placeholders, names))).run(graph)
    spec.warnings += _uncalled_modules(model, graph, class_location(model))
    _spec_names(spec)
    return spec


def _spec_names(spec: ExpandedSpec) -> None:
    """torch takes any module name (torchvision's RegNet has `block1-0`); a spec's are
    letters, digits and '_'."""
    renamed = {layer.name: usable_name(layer.name) for layer in spec.layers}
    renamed.update({group.name: usable_name(group.name) for group in spec.groups})
    if len(set(renamed.values())) != len(renamed):
        clash = next(n for n in renamed if list(renamed.values()).count(renamed[n]) > 1)
        raise ImportFailed(f"module '{clash}' would be named '{renamed[clash]}' in a spec, as "
                           "another module already is", None)
    for layer in spec.layers:
        layer.name = renamed[layer.name]
        layer.inputs = tuple(renamed.get(i, i) for i in layer.inputs)
    for group in spec.groups:
        group.name, group.output = renamed[group.name], renamed.get(group.output, group.output)


def _uncalled_modules(model, graph, loc: Location) -> list[SpecWarning]:
    """Modules with weights that forward never calls: torch counts them, the graph has
    none of them."""
    called = {str(node.target) for node in graph.nodes if node.op in ("call_module",
                                                                        "get_attr")}
    warnings = []
    for path, module in model.named_modules():
        # parameters read directly (get_attr) are the spec's `parameter` layers
        own = sum(p.numel() for name, p in module.named_parameters(recurse=False)
                  if (f"{path}.{name}" if path else name) not in called)
        inside_a_layer = any(path.startswith(f"{c}.") for c in called)
        if own and path not in called and not inside_a_layer:
            warnings.append(SpecWarning(
                loc, path, type(module).__name__,
                f"forward never calls it: its {own:,} parameters are in torch's "
                "parameters() but not in this spec"))
    return warnings


def class_location(model) -> Location | None:
    """Where the model's class is defined."""
    import inspect
    try:
        return Location(shown(inspect.getsourcefile(type(model))),
                        inspect.getsourcelines(type(model))[1], 1)
    except (OSError, TypeError):
        return None


def _input_names(placeholders, children: set[str]) -> list[str]:
    """`input` for one input (the spec format's default), else forward's own names;
    never a top-level module's name."""
    names = ["input"] if len(placeholders) == 1 else [n.name for n in placeholders]
    free = []
    for name in names:
        while name in children or name in free:
            name = f"{name}_input"
        free.append(name)
    return free


def _trace(torch, model, target: str):
    class Tracer(torch.fx.Tracer):
        record_stack_traces = True

        def is_leaf_module(self, module, qualified_name: str) -> bool:
            # torchvision's Permute and StochasticDepth, netcalc's LearnedTensor: layers.
            # A user's own class named like a layer type (a home-made MultiheadAttention)
            # is traced into like any other.
            cls = type(module)
            # netcalc's own (built, or written by export): its name and its docstring, for
            # a user's class may well be called Attention
            ours = cls.__name__ in OWN_MODULES and \
                cls.__doc__ == own_module(torch, cls.__name__).__doc__ or \
                cls.__module__.split(".")[0] in ("torch", "torchvision", "netcalc")
            return super().is_leaf_module(module, qualified_name) or \
                ours and lookup(cls.__name__) is not None

    try:
        return Tracer().trace(model)
    except Exception as error:   # noqa: BLE001 - fx's refusal, located in the user's code
        message = first_line(error)
        if "control flow" in message:
            message += (" (torch.fx, and so netcalc, takes models whose forward does not "
                        "branch on tensor values)")
        raise ImportFailed(f"torch.fx cannot trace {type(model).__name__}: {message}",
                           _user_location(error, target.rpartition(":")[0])) from None


def _check_sample_size(torch, shapes: dict, dtypes: dict, batch: int) -> None:
    """The sample input must fit in memory with room to spare for the activations."""
    from math import prod

    from ..render.units import size
    needed = sum(batch * prod(shape) * getattr(torch, dtypes[name] or "float32").itemsize
                 for name, shape in shapes.items())
    free = available_ram()
    if free is not None and needed > free // 4:
        raise UsageError(f"the sample input the module runs on once takes {size(needed)}, and "
                         f"there is {size(free)} of available memory: try a smaller --input")


def _record_shapes(torch, model, graph, samples) -> None:
    """Run the traced graph once; each node's output shape goes in `node.meta["shape"]`."""
    modules = dict(model.named_modules())

    class ShapeRecorder(torch.fx.Interpreter):
        def fetch_attr(self, target: str):
            # by name: getattr would stop at a child named like a method (`parameters`)
            return modules[target] if target in modules else super().fetch_attr(target)

        def run_node(self, node):
            try:
                result = super().run_node(node)
            except Exception as error:   # noqa: BLE001 - torch refused the sample input
                raise ImportFailed(
                    f"graph node '{node.name}' ({_describe(node)}) does not run on inputs of "
                    f"{', '.join(str(list(s.shape)) for s in samples)}: "
                    f"{type(error).__name__}: {first_line(error)}", _node_location(node)) \
                    from None
            if isinstance(result, torch.Tensor):
                node.meta["shape"] = tuple(result.shape)
            return result

    with torch.no_grad():
        # the graph runs on the model itself: no code is generated (a module named
        # `class` would not compile)
        ShapeRecorder(model, graph=graph).run(*samples)


def _input_dtype(torch, node, modules: dict) -> str | None:
    """Token ids: an input read first by an nn.Embedding is int64."""
    for user in node.users:
        if user.op == "call_module" and \
                isinstance(modules[user.target], torch.nn.Embedding):
            return "int64"
    return None


# -- graph nodes -> layers -------------------------------------------------------------

@dataclass(frozen=True)
class _Pieces:
    """x.chunk(...) or x.split(...): its pieces become layers where they are taken."""

    source: Any          # the fx node cut
    type_name: str       # chunk or split
    args: dict           # the call's arguments but the piece


@dataclass(frozen=True)
class _RecurrentCall:
    """An nn.RNN/LSTM/GRU call: (output, h_n[, c_n]), taken apart by getitem; the one
    piece taken becomes the layer (`piece: k`)."""

    node: Any            # the call_module node
    lstm: bool           # its state is a pair (h_n, c_n): call[1][0], call[1][1]
    names: tuple = ()    # where it gives several pieces: every piece's layer, made at once


@dataclass(frozen=True)
class _RecurrentState:
    """An LSTM call's (h_n, c_n), itself taken apart by getitem."""

    node: Any            # the call_module node
    names: tuple = ()    # the call's pieces' layers, where made at once


@dataclass(frozen=True)
class _Attribute:
    """A tensor attribute read (get_attr): a `parameter` layer once a layer takes it as
    input; F.layer_norm's weight and bias count in the layernorm instead."""

    path: str


@dataclass(frozen=True)
class _Size:
    """An int the graph computed from a tensor's shape; `batch` if it is the batch size."""

    value: int
    batch: bool


class _Converter:
    def __init__(self, torch, model, modules: dict, spec: ExpandedSpec, inputs: dict):
        self.torch, self.model, self.modules, self.spec = torch, model, modules, spec
        self.graph = LayerGraph(spec)
        self.values: dict = dict(inputs)       # fx node -> producer name, or _Size / tuple
        # container -> names its layers took (the spec's inputs are names too)
        self.names_taken: dict[str, set[str]] = {"": set(inputs.values())}
        self.module_calls: dict[str, int] = {}
        self.groups: dict[str, Group] = {}     # open and closed containers, by path
        self.open: list[str] = []
        self.outputs: list[str] = []
        self.attributes: dict[str, str] = {}   # parameter path -> its `parameter` layer
        self.weights_taken: set[str] = set()   # parameters a functional layer counts

    def run(self, graph) -> None:
        for node in graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                self._outputs(node)
                continue
            if node.op == "get_attr":     # a layer where it is first read as a tensor
                self.values[node] = _Attribute(str(node.target))
                continue
            if self._shape_query(node) or self._pass_through(node) or self._chunk(node) \
                    or self._assertion(node) or self._first_of_pair(node) \
                    or self._recurrent_call(node):
                continue
            self._layer(node)
        self._close_groups("")
        for group in self.groups.values():
            group.output = self._group_output(group)
            self.spec.groups.append(group)
        self.spec.groups.sort(key=lambda g: (g.first, -g.end))

    def _group_output(self, group: Group) -> str:
        """What a block gives on: the last of its layers read from outside it."""
        layers = self.spec.layers
        inside = {layer.name for layer in layers[group.first:group.end]}
        read_outside = {name for layer in layers[:group.first] + layers[group.end:]
                        for name in layer.inputs} | set(self.outputs)
        given = [layer.name for layer in layers[group.first:group.end]
                 if layer.name in read_outside]
        return given[-1] if given else layers[group.end - 1].name if inside else ""

    # -- shape arithmetic and no-ops --

    def _shape_query(self, node) -> bool:
        """x.size(0), x.shape, x.dim(), s[1], s * 2: ints, worked out now."""
        target = node.target
        if node.op == "call_method" and target in ("size", "dim"):
            shape = self._shape(node.args[0])
            if target == "dim":
                self.values[node] = _Size(len(shape), False)
            elif len(node.args) > 1 or "dim" in node.kwargs:
                dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
                self.values[node] = _Size(shape[dim], dim % len(shape) == 0)
            else:
                self.values[node] = tuple(_Size(s, i == 0) for i, s in enumerate(shape))
            return True
        if node.op == "call_function" and target is getattr and node.args[1] == "shape":
            shape = self._shape(node.args[0])
            self.values[node] = tuple(_Size(s, i == 0) for i, s in enumerate(shape))
            return True
        if node.op == "call_function" and target is operator.getitem \
                and isinstance(self.values.get(node.args[0]), tuple):
            self.values[node] = self.values[node.args[0]][node.args[1]]
            return True
        arithmetic = {operator.mul: operator.mul, operator.add: operator.add,
                      operator.floordiv: operator.floordiv, operator.sub: operator.sub}
        sizes = [isinstance(self.values.get(a), _Size) if hasattr(a, "op") else
                 isinstance(a, int) for a in node.args]
        if node.op == "call_function" and target in arithmetic and all(sizes) and \
                any(hasattr(a, "op") for a in node.args):
            values = [self.values[a].value if isinstance(self.values.get(a), _Size) else a
                      for a in node.args]
            self.values[node] = _Size(arithmetic[target](*values), False)
            return True
        return False

    def _pass_through(self, node) -> bool:
        """Calls that change nothing netcalc counts: x.clone(), x.detach(), and
        torch.cat of one tensor (DenseNet's first layer concatenates a list of one)."""
        torch = self.torch
        if node.op == "call_method" and node.target in ("clone", "detach"):
            self.values[node] = self.values[node.args[0]]
            return True
        tensors = (node.args[0] if node.args else node.kwargs.get("tensors")) \
            if node.target in (torch.cat, torch.concat) else None
        if isinstance(tensors, (list, tuple)) and len(tensors) == 1:
            self.values[node] = self.values[tensors[0]]
            return True
        return False

    def _assertion(self, node) -> bool:
        """torch._assert(h == 224, ...) and the comparison it checks: nothing to count."""
        torch = self.torch
        if node.op == "call_function" and node.target is torch._assert:
            return True
        compare = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge)
        if node.op == "call_function" and node.target in compare and \
                all(isinstance(self.values.get(a), _Size) or isinstance(a, int)
                    for a in node.args):
            self.values[node] = _Size(0, False)     # a truth value only _assert reads
            return True
        return False

    def _first_of_pair(self, node) -> bool:
        """attention(...)[0]: the output; [1], the attention weights, must go unused."""
        if not (node.op == "call_function" and node.target is operator.getitem):
            return False
        source = node.args[0]
        if not (hasattr(source, "op") and source.op == "call_module" and isinstance(
                self.modules[str(source.target)], self.torch.nn.MultiheadAttention)):
            return False
        if node.args[1] == 0:
            self.values[node] = self.values[source]
        elif node.users:
            raise self._refuse(node, "uses the attention weights, which netcalc's "
                                     "multiheadattention does not return")
        return True

    def _recurrent_call(self, node) -> bool:
        """An nn.LSTM (GRU, RNN) call, or an LSTM's state pair: remembered until the piece
        taken from it; several pieces of one call are refused (a flat spec writes one
        entry per layer, and a piece entry is one call of its own)."""
        if node.op == "call_module":
            module = self.modules[str(node.target)]
            cls = lookup(type(module).__name__)
            if cls is None or not getattr(cls, "one_call", False):
                return False
            lstm = len(cls.outputs) == 3
            taken = self._pieces_taken(node, lstm)
            # one output read: a `piece: k` layer where it is read; several: the entry's
            # every piece at once (`name: [lstm, lstm_h_n, lstm_c_n]`), the call counted once
            names = self._every_piece(node, cls, module) if len(taken) > 1 else ()
            self.values[node] = _RecurrentCall(node, lstm, names)
            return True
        if node.op == "call_function" and node.target is operator.getitem:
            call = self.values.get(node.args[0])
            if isinstance(call, _RecurrentCall) and call.lstm and node.args[1] in (1, -2):
                self.values[node] = _RecurrentState(call.node, call.names)
                return True
            if isinstance(call, (_RecurrentCall, _RecurrentState)) and call.names:
                piece = self._item(node) % 2 + (1 if isinstance(call, _RecurrentState) else 0)
                self.values[node] = call.names[piece]
                return True
            # `out, _ = self.gru(x)`: a piece no one reads is no layer
            return isinstance(call, (_RecurrentCall, _RecurrentState)) and not node.users
        return False

    def _every_piece(self, node, cls, module) -> tuple[str, ...]:
        """Every piece of a recurrent call whose outputs are read more than once, as one
        entry's: the module's name for the output, `_h_n` and `_c_n` beside it."""
        path = str(node.target)
        container, _, local = path.rpartition(".")
        inputs = tuple(t for a in node.args for t in (a if isinstance(a, (tuple, list)) else (a,)))
        producers = tuple(self._producer(a, node) for a in inputs)
        self._enter(container, node)
        self.module_calls[path] = self.module_calls.get(path, 0) + 1
        if self.module_calls[path] > 1:
            raise self._refuse(node, f"calls '{path}' a second time: its weights are shared, "
                                     "and netcalc counts each layer's own")
        names = [self._unique(container, local, True, node)] + \
            [self._unique(container, f"{local}_{piece}", False, node)
             for piece in cls.outputs[1:]]
        qualified = tuple(f"{container}.{n}" if container else n for n in names)
        args = module_arguments(cls, module)
        try:
            self.graph.add_pieces(cls, args, located(args, self._location(node)), _TOP_LEVEL,
                                  qualified, producers, len(self.open), self._trainable(node),
                                  ())
        except SpecError as error:
            raise self._refuse(node, f"cannot be a netcalc layer: {error.message}") from None
        return qualified

    def _pieces_taken(self, call, lstm: bool) -> set[int]:
        """The outputs of a recurrent call read later: 0 output, 1 h_n, 2 c_n."""
        taken = set()
        for user in call.users:
            if not (user.op == "call_function" and user.target is operator.getitem):
                raise self._refuse(call, "uses the tuple nn.LSTM (GRU, RNN) returns whole: "
                                         "`import` follows its items, `out, h_n = ...`")
            index = self._item(user) % 2        # (output, h_n) or (output, (h_n, c_n))
            if lstm and index == 1:
                taken |= {1 + self._item(inner) % 2 for inner in user.users if inner.users}
            elif user.users:
                taken.add(index)
        return taken

    def _item(self, node) -> int:
        """The index a getitem of a recurrent call's tuple takes; a slice is refused."""
        if node.target is not operator.getitem or not isinstance(node.args[1], int):
            raise self._refuse(node, "takes the tuple nn.LSTM (GRU, RNN) returns other than "
                                     "item by item: `import` follows `out, (h_n, c_n) = ...`")
        return node.args[1]

    def _recurrent_piece(self, node):
        """(the recurrent call, the piece) a getitem takes; None for other nodes."""
        if not (node.op == "call_function" and node.target is operator.getitem):
            return None
        taken = self.values.get(node.args[0])
        if isinstance(taken, _RecurrentCall):
            return taken.node, node.args[1] % 2
        if isinstance(taken, _RecurrentState):
            return taken.node, 1 + node.args[1] % 2
        return None

    def _chunk(self, node) -> bool:
        """x.chunk(n, dim), x.split(size, dim) or torch.chunk/split(x, ...): remembered
        until its pieces are taken."""
        torch = self.torch
        for type_name, count in (("chunk", "chunks"), ("split", "split_size_or_sections")):
            if node.op == "call_method" and node.target == type_name or \
                    node.target is getattr(torch, type_name):
                given = dict(zip(["tensor", count, "dim"], node.args))
                given.update(node.kwargs)
                if type_name == "split" and "split_size" in given:     # torch.split's name
                    given[count] = given.pop("split_size")
                args = {count: _plain(self._constant(given[count], node)),
                        "dim": _int(self._constant(given.get("dim", 0), node))}
                self.values[node] = _Pieces(node.args[0], type_name, args)
                return True
        return False

    def _chunk_piece(self, node):
        """pieces[k] as a layer: (type, arguments, inputs), or None for other calls."""
        if node.target is not operator.getitem or \
                not isinstance(self.values.get(node.args[0]), _Pieces):
            return None
        pieces = self.values[node.args[0]]
        return pieces.type_name, {**pieces.args, "piece": node.args[1]}, (pieces.source,)

    def _shape(self, node) -> tuple[int, ...]:
        return node.meta["shape"]

    # -- layers --

    def _layer(self, node) -> None:
        source = node                   # the node whose module the layer is
        if node.op == "get_attr":
            path = str(node.target)
            if path in self.attributes:        # read again: the same tensor
                self.values[node] = self.attributes[path]
                return
            self.values.pop(node)
            if path in self.weights_taken:
                self._take_weight(path, node)      # refused: a functional layer's weight
            tensor = self._attribute(path)
            if not isinstance(tensor, self.torch.nn.Parameter):
                raise self._refuse(node, f"reads '{path}', a tensor that is not a parameter "
                                         "(netcalc's `parameter` layer holds learned ones)")
            cls, args, inputs = lookup("parameter"), {"shape": list(tensor.shape)}, ()
            container, _, local = path.rpartition(".")
            own_name = True
        elif node.op == "call_module" or self._recurrent_piece(node):
            # a module's call, or the piece of a recurrent module's call taken here
            call, piece = (node, None) if node.op == "call_module" else \
                self._recurrent_piece(node)
            source = call
            path = str(call.target)
            module = self.modules[path]
            cls = lookup(type(module).__name__)
            if cls is None:
                raise self._refuse(node, f"calls torch.nn.{type(module).__name__} ('{path}'), "
                                         "which netcalc has no layer type for")
            args = module_arguments(cls, module)
            inputs = call.args
            if piece is not None:           # lstm(x, (h_0, c_0)): the state's tensors
                args = {**args, "piece": piece}
                inputs = tuple(t for a in call.args
                               for t in (a if isinstance(a, (tuple, list)) else (a,)))
            if isinstance(module, self.torch.nn.MultiheadAttention):
                inputs = self._attention_inputs(node)
            container, _, local = path.rpartition(".")
            calls = self.module_calls[path] = self.module_calls.get(path, 0) + 1
            own_name = calls == 1
            if not own_name and any(True for _ in module.parameters()):
                raise self._refuse(node, f"calls '{path}' a second time: its weights are "
                                         "shared, and netcalc counts each layer's own")
        else:
            type_name, args, inputs = self._chunk_piece(node) or \
                function_layer(node, self._constant)
            container = self._container_of(node)
            cls = lookup(type_name)
            if cls is None:
                raise self._refuse(node, f"would be a {type_name}, which netcalc has no layer "
                                         "type for")
            local, own_name = type_name, False
        # first: a parameter read directly becomes its layer now, just before its reader
        producers = tuple(self._producer(a, node) for a in inputs)
        self._enter(container, node)
        local = self._unique(container, local, own_name, node)
        name = f"{container}.{local}" if container else local
        loc = self._location(node)
        try:     # the spec format's own checks: arguments, inputs, the layer limit
            self.graph.add_layer(cls, args, located(args, loc), _TOP_LEVEL, name, producers,
                                 len(self.open), self._trainable(source), ())
        except SpecError as error:
            raise self._refuse(node, f"cannot be a netcalc layer: {error.message}") from None
        self.values[node] = name
        if node.op == "get_attr":
            self.attributes[str(node.target)] = name

    def _take_weight(self, path: str, node) -> None:
        """A parameter becomes one layer's: a second user shares it, which netcalc refuses."""
        if path in self.attributes or path in self.weights_taken:
            raise self._refuse(node, f"uses the parameter '{path}' a second time: its weights "
                                     "are shared, and netcalc counts each layer's own")
        self.weights_taken.add(path)

    def _attribute(self, path: str):
        container, _, local = path.rpartition(".")
        return getattr(self.modules[container], local)

    def _attention_inputs(self, node) -> tuple:
        """query, key, value; one input where they are the same tensor (self-attention)."""
        names = ("query", "key", "value")
        given = dict(zip(names, node.args))
        given.update({k: v for k, v in node.kwargs.items() if k in names})
        others = {k: v for k, v in node.kwargs.items() if k not in names
                  and k not in ("need_weights", "average_attn_weights") and v not in (None, False)}
        if len(node.args) > 3 or others:
            raise self._refuse(node, "passes masks or other arguments netcalc's "
                                     "multiheadattention does not take: "
                                     f"{', '.join(others) or 'a fourth argument'}")
        query, key, value = (given[k] for k in names)
        return (query,) if query is key is value else (query, key, value)

    def _trainable(self, node) -> bool:
        if node.op == "get_attr":
            return self._attribute(str(node.target)).requires_grad
        if node.op != "call_module":
            return True
        return all(p.requires_grad for p in self.modules[node.target].parameters())

    def _producer(self, value, node) -> str:
        produced = self.values.get(value) if not isinstance(value, (int, float, str)) else None
        if isinstance(produced, _Attribute):
            self._layer(value)
            produced = self.values[value]
        if isinstance(produced, str):
            return produced
        raise self._refuse(node, f"takes {value!r}, which is not a tensor netcalc tracks "
                                 "(netcalc layers take tensors, not Python numbers)")

    def _constant(self, value, node):
        """An argument's value: numbers and the graph's shape arithmetic; tensors refused,
        but a parameter a functional layer takes as its weight (F.layer_norm's), which
        becomes that layer's own: once."""
        if isinstance(value, (list, tuple)):
            return type(value)(self._constant(v, node) for v in value)
        if hasattr(value, "op"):               # an fx node
            known = self.values.get(value)
            if isinstance(known, (_Size, tuple)):
                return known
            if isinstance(known, _Attribute):
                self._take_weight(known.path, node)
                return known
            raise self._refuse(node, "uses a tensor as an argument where netcalc expects a "
                                     "number")
        return value

    # -- containers (blocks) --

    def _container_of(self, node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        paths = [path for path, _ in stack.values() if path]
        return paths[-1] if paths else ""

    def _enter(self, container: str, node) -> None:
        """Open the blocks on the way to `container`, closing those it is not inside."""
        self._close_groups(container)
        parts = container.split(".") if container else []
        for depth in range(len(parts)):
            path = ".".join(parts[:depth + 1])
            if path in self.open:
                continue
            if path in self.groups:
                raise self._refuse(node, f"runs in '{path}' after other layers ran between; "
                                         "netcalc's blocks run in one piece (a ModuleList "
                                         "whose members forward calls one by one, with other "
                                         "calls between: make each step a module of its own)")
            module = self.modules[path]
            self.groups[path] = Group(path, type(module).__name__, "block", len(self.open),
                                      self._location(node), first=len(self.spec.layers))
            self.open.append(path)

    def _close_groups(self, container: str) -> None:
        while self.open and not (container == self.open[-1]
                                 or container.startswith(self.open[-1] + ".")):
            self.groups[self.open.pop()].end = len(self.spec.layers)

    def _unique(self, container: str, local: str, own_name: bool, node) -> str:
        """A module keeps its own name on its first call; other layers take a free one
        (never a child module's name, which that module will want)."""
        taken = self.names_taken.setdefault(container, set())
        try:
            layer_name(local, self._location(node))
        except SpecError as error:
            raise self._refuse(node, f"is named so that a spec cannot name it: "
                                     f"{error.message}") from None
        if own_name and local not in taken:
            taken.add(local)
            return local
        children = set(dict(self.modules[container].named_children()))
        base, k = local, 1
        while local in taken or local in children:
            local, k = f"{base}_{k}", k + 1
        taken.add(local)
        return local

    def _outputs(self, node) -> None:
        results = node.args[0]
        for value in results if isinstance(results, (tuple, list)) else (results,):
            if not isinstance(self.values.get(value), str):
                raise self._refuse(node, "returns something other than tensors netcalc tracks")
            self.outputs.append(self.values[value])

    # -- errors --

    def _location(self, node) -> Location | None:
        return _node_location(node) or class_location(self.model)

    def _refuse(self, node, message: str) -> ImportFailed:
        return ImportFailed(f"graph node '{node.name}' ({_describe(node)}) {message}",
                            self._location(node))


def _node_location(node) -> Location | None:
    """The user's source line that made `node`, from the trace's recorded stack."""
    frames = _stack_frames(node.stack_trace or "")
    if not frames:
        return None
    file, line = frames[-1]
    return Location(shown(file), line, 1)


def _stack_frames(stack_trace: str) -> list[tuple[str, int]]:
    """(file, line) of the user's frames in an fx node's recorded stack."""
    frames = []
    for line in stack_trace.splitlines():
        line = line.strip()
        if line.startswith('File "'):
            file, _, rest = line[6:].partition('", line ')
            number = rest.split(",")[0]
            if number.isdigit() and not _is_library(file):
                frames.append((file, int(number)))
    return frames


_OPERATORS = {operator.add: "+", operator.iadd: "+=", operator.mul: "*", operator.imul: "*=",
              operator.matmul: "@",
              operator.sub: "-", operator.isub: "-=", operator.truediv: "/",
              operator.getitem: "[]", operator.matmul: "@"}


def _describe(node) -> str:
    if node.target in _OPERATORS:
        return f"the {_OPERATORS[node.target]} operator"
    if node.op == "call_module":
        return f"module {node.target}"
    if node.op == "call_method":
        return f".{node.target}()"
    name = getattr(node.target, "__name__", str(node.target))
    module = getattr(node.target, "__module__", "") or ""
    return f"{module.replace('torch.nn.functional', 'F')}.{name}" if module else name


# -- torch modules -> netcalc arguments --------------------------------------------------

def module_arguments(cls, module) -> dict[str, Any]:
    """A torch module's constructor arguments, read back from its attributes."""
    own = cls.arguments_of(module)
    if own is not None:
        return own

    args = {}
    for f in fields(cls):
        if f.name == "bias" and not isinstance(getattr(module, "bias", None), bool):
            args["bias"] = getattr(module, "bias", None) is not None
            continue
        if not hasattr(module, f.name):
            continue
        args[f.name] = _plain(getattr(module, f.name))
    return args


def _plain(value):
    """torch's stored values in a spec's terms: tuples become lists, shape sizes ints."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, _Size):
        return value.value
    return value


# -- functional calls -> layers ---------------------------------------------------------

# (netcalc type, names of the arguments after the tensor input(s), in torch's order,
#  names netcalc ignores)
_ACTIVATIONS = {
    "relu": ["inplace"], "relu6": ["inplace"], "silu": ["inplace"], "gelu": ["approximate"],
    "hardswish": ["inplace"], "hardsigmoid": ["inplace"], "mish": ["inplace"],
    "leaky_relu": ["negative_slope", "inplace"], "elu": ["alpha", "inplace"],
    "sigmoid": [], "tanh": [], "softmax": ["dim"], "log_softmax": ["dim"],
}


def function_layer(node, constant) -> tuple[str, dict, tuple]:
    """The netcalc layer for a functional call or method: (type, arguments, tensor inputs)."""
    torch = sys.modules["torch"]
    F = torch.nn.functional
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    args, kwargs = list(node.args), dict(node.kwargs)

    def bind(names: list[str], inputs: int = 1, ignore=()) -> dict:
        bound = dict(zip(names, (constant(a, node) for a in args[inputs:])))
        bound.update({k: constant(v, node) for k, v in kwargs.items()})
        return {k: _plain(v) for k, v in bound.items() if k not in ignore}

    def tensor_call(*names: str) -> bool:
        """x.name(...) or torch.name(x, ...)"""
        return name in names and (node.op == "call_method"
                                  or target is getattr(torch, name, None))

    def sizes() -> list:
        """x.view(2, 3) or x.view((2, 3)): the numbers after the tensor, either way."""
        values = [constant(a, node) for a in args[1:]]
        return list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple)) \
            else values

    arithmetic = {operator.add: "add", operator.iadd: "add", operator.mul: "mul",
                  operator.imul: "mul", operator.sub: "sub", operator.isub: "sub",
                  operator.truediv: "div", operator.itruediv: "div", operator.pow: "pow"}
    kind = arithmetic.get(target) or (name if tensor_call("add", "mul", "sub", "div") or
                                      target is torch.sub else None)
    if kind:
        a, b = _operands(node)
        number = [_number(v) for v in (constant(a, node) if not _is_node(a) else None,
                                       constant(b, node) if not _is_node(b) else None)]
        if number[1] is not None:                   # x op c
            return "scalar", {"op": kind, "other": number[1]}, (a,)
        if number[0] is not None and kind in ("sub", "div", "add", "mul"):   # c op x
            op = {"sub": "rsub", "div": "rdiv"}.get(kind, kind)
            return "scalar", {"op": op, "other": number[0]}, (b,)
        if kind == "pow":
            raise ImportFailed(f"graph node '{node.name}' ({_describe(node)}) raises a tensor "
                               "to a tensor's power, which netcalc has no layer type for",
                               _node_location(node))
        return kind, {}, (a, b)
    if target in _POINTWISE or tensor_call(*_POINTWISE_NAMES):
        return "pointwise", {"function": name}, (args[0],)
    if target in (operator.matmul, torch.matmul, torch.bmm) or tensor_call("matmul", "bmm"):
        return "matmul", {}, _operands(node)
    if target is F.scaled_dot_product_attention:
        bound = bind(["attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"], inputs=3,
                     ignore=("attn_mask",))
        mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
        return "scaleddotproductattention", bound, (*args[:3], *([mask] if mask else []))
    if target in (torch.cat, getattr(torch, "concat", None)):
        tensors = args[0] if args else kwargs.pop("tensors")
        bound = bind(["dim"])
        return "concat", {"dim": bound.get("dim", 0)}, tuple(tensors)
    if tensor_call("flatten"):
        bound = bind(["start_dim", "end_dim"])
        return "flatten", {"start_dim": bound.get("start_dim", 0),
                           "end_dim": bound.get("end_dim", -1)}, (args[0],)
    if tensor_call("mean", "sum"):
        bound = bind(["dim", "keepdim"], ignore=("dtype",))
        return name, bound, (args[0],)
    if tensor_call("view", "reshape"):
        return name, {"shape": _batch_free(sizes(), node.meta["shape"])}, (args[0],)
    if tensor_call("narrow"):
        return "narrow", {k: _int(v) for k, v in bind(["dim", "start", "length"]).items()}, \
            (args[0],)
    if tensor_call("contiguous"):
        return "contiguous", {}, (args[0],)
    if tensor_call("select"):
        return "select", {k: _int(v) for k, v in bind(["dim", "index"]).items()}, (args[0],)
    if tensor_call("unsqueeze"):
        return "unsqueeze", {k: _int(v) for k, v in bind(["dim"]).items()}, (args[0],)
    if tensor_call("squeeze"):
        return "squeeze", bind(["dim"]), (args[0],)
    if tensor_call("expand"):
        return "expand", {"size": [BATCH if isinstance(s, _Size) and s.batch else _int(s)
                                   for s in sizes()]}, (args[0],)
    if target is operator.getitem:
        return _indexing(node, constant(args[1], node))
    if tensor_call("permute"):
        return "permute", {"dims": [_int(d) for d in sizes()]}, (args[0],)
    if tensor_call("transpose"):
        return "transpose", {k: _int(v) for k, v in bind(["dim0", "dim1"]).items()}, (args[0],)
    if target is F.dropout or name == "dropout" and target is getattr(torch, "dropout", None):
        return "dropout", bind(["p", "training", "inplace"], ignore=("training",)), (args[0],)
    if target is F.interpolate:
        return "upsample", bind(["size", "scale_factor", "mode", "align_corners",
                                 "recompute_scale_factor"], ignore=("antialias",)), (args[0],)
    for rank in (1, 2, 3):
        if target is getattr(F, f"adaptive_avg_pool{rank}d"):
            return f"adaptiveavgpool{rank}d", bind(["output_size"]), (args[0],)
        if target is getattr(F, f"adaptive_max_pool{rank}d"):
            return f"adaptivemaxpool{rank}d", bind(["output_size", "return_indices"]), (args[0],)
        if target is getattr(F, f"max_pool{rank}d"):
            return f"maxpool{rank}d", bind(["kernel_size", "stride", "padding", "dilation",
                                            "ceil_mode", "return_indices"]), (args[0],)
        if target is getattr(F, f"avg_pool{rank}d"):
            return f"avgpool{rank}d", bind(["kernel_size", "stride", "padding", "ceil_mode",
                                            "count_include_pad", "divisor_override"]), (args[0],)
    if target is F.layer_norm:        # torchvision's LayerNorm2d calls it with its weights
        given = dict(zip(["normalized_shape", "weight", "bias", "eps"], args[1:]))
        given.update(kwargs)
        affine = {k: given.get(k) for k in ("weight", "bias")}
        if any(v is not None and not (hasattr(v, "op") and v.op == "get_attr")
               for v in affine.values()):
            raise ImportFailed(f"graph node '{node.name}' ({_describe(node)}) normalizes with "
                               "computed weights, not parameters", _node_location(node))
        for tensor in affine.values():
            if tensor is not None:
                constant(tensor, node)         # counted here: the importer marks it taken
        return "layernorm", {"normalized_shape": list(constant(given["normalized_shape"], node)),
                             "eps": constant(given.get("eps", 1e-5), node),
                             "elementwise_affine": affine["weight"] is not None,
                             "bias": affine["bias"] is not None}, (args[0],)
    if target is F.pad:
        bound = bind(["pad", "mode", "value"])
        pad = bound.pop("pad")
        kind = {"constant": "constantpad", "reflect": "reflectionpad",
                "replicate": "replicationpad", "circular": "circularpad"}[bound.get("mode",
                                                                                  "constant")]
        args_out = {"padding": pad}
        if kind == "constantpad":
            args_out["value"] = bound.get("value") or 0.0
        return f"{kind}{len(pad) // 2}d", args_out, (args[0],)
    activation = name.rstrip("_") if node.op == "call_method" else name
    if activation in _ACTIVATIONS and (node.op == "call_method" or target is getattr(F, name, None)
                                       or target is getattr(torch, name, None)):
        bound = bind(_ACTIVATIONS[activation], ignore=("_stacklevel", "dtype"))
        if name.endswith("_") and node.op == "call_method":
            bound["inplace"] = True            # x.relu_()
        return activation.replace("_", ""), bound, (args[0],)
    raise ImportFailed(f"graph node '{node.name}' ({_describe(node)}) has no netcalc layer "
                       "type", _node_location(node))


def _indexing(node, index) -> tuple[str, dict, tuple]:
    """x[:, 0] and x[..., 2:5]: one dim indexed or sliced, the others whole."""
    entries = list(index) if isinstance(index, tuple) else [index]
    from_end = bool(entries) and entries[0] is Ellipsis
    entries = entries[1:] if from_end else entries
    whole = slice(None)
    picked = [i for i, e in enumerate(entries) if e != whole]
    if not picked and entries and Ellipsis not in entries:     # x[:] or x[:, :]: all of it
        picked = [len(entries) - 1]
    if len(picked) == 1 and Ellipsis not in entries and not isinstance(entries[picked[0]], bool):
        at = picked[0]
        dim = at - len(entries) if from_end else at
        entry = _int(entries[at])
        if isinstance(entry, int):
            return "select", {"dim": dim, "index": entry}, (node.args[0],)
        if isinstance(entry, slice) and all(isinstance(_int(v), (int, type(None))) for v in
                                            (entry.start, entry.stop, entry.step)):
            bounds = {"start": _int(entry.start), "end": _int(entry.stop)}
            return "slice", {"dim": dim, **{k: v for k, v in bounds.items() if v is not None},
                             **({"step": _int(entry.step)} if entry.step is not None else {})}, \
                (node.args[0],)
    raise ImportFailed(f"graph node '{node.name}' ({_describe(node)}) indexes with "
                       f"{index!r}: netcalc takes one dim indexed (x[:, 0]) or sliced "
                       "(x[:, 2:5]), the others whole", _node_location(node))


_POINTWISE_NAMES = ("neg", "abs", "sqrt", "rsqrt", "exp", "log", "log1p", "expm1", "sin",
                    "cos", "reciprocal", "square", "erf", "sign", "floor", "ceil", "round",
                    "trunc")
_POINTWISE = {operator.neg: "neg"}


def _is_node(value) -> bool:
    return hasattr(value, "op") and hasattr(value, "meta")


def _number(value):
    """A Python number the graph takes as it is (0.5 in x * 0.5), else None."""
    # a size read from a tensor (x.size(1)) is not: the spec would fix it for other inputs
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _operands(node) -> tuple:
    """a + b, torch.add(a, b), torch.add(a, other=b), a.add(b): the two tensors."""
    if node.kwargs.get("alpha", 1) != 1:
        raise ImportFailed(f"graph node '{node.name}' ({_describe(node)}) scales by alpha, "
                           "which netcalc's add has no argument for", _node_location(node))
    operands = [*node.args[:2], *(node.kwargs[k] for k in ("input", "other") if k in node.kwargs)]
    return tuple(operands)


def _int(value):
    return value.value if isinstance(value, _Size) else value


def _batch_free(sizes: list, out_shape: tuple[int, ...]) -> list[int]:
    """A view's sizes with the batch as -1, so the spec works at any --batch.

    `x.view(x.size(0), -1)` becomes [-1, 9216]: the batch entry is -1 and the
    other -1 its size on the sample input.
    """
    batch_at = [i for i, s in enumerate(sizes) if isinstance(s, _Size) and s.batch]
    if len(batch_at) != 1:
        return [_int(s) for s in sizes]
    return [-1 if i == batch_at[0] else out_shape[i] for i in range(len(sizes))]
