"""Python specs: the YAML format's twin, for networks easier to write with loops.

    from netcalc import Network

    net = Network("resnet18", input=[3, 224, 224])
    net.conv2d("conv1", out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
    with net.repeat("layer1"):
        for _ in range(2):
            with net.block(type="basic_block"):
                net.conv2d("conv1", out_channels=64, kernel_size=3, padding=1, bias=False)
                ...

`netcalc summary model.py` runs the file (load_python_spec) and analyzes the
Network it creates. Each call is checked at once by the rules YAML specs obey
(build.py: names, `inputs`, types, arguments) and located at the line of the
user's code that made it, so errors read as they do for YAML.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import types

from ..errors import Location, NetcalcError, Note, SpecError, in_layer
from ..layers import lookup
from ..layers.base import NO_INPUT
from ..layers.registry import suggest
from .build import LayerGraph, Scope, check_block_name, check_input_name, layer_name
from .expand import new_spec
from .loader import located
from .model import ExpandedSpec, Group

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

# A layer call's own keywords; every other keyword is an argument of the layer.
RESERVED_KEYWORDS = ("name", "inputs", "trainable", "tie_weight")
# The module-level name that picks one network when a file creates several.
CHOSEN_NETWORK = "network"
# `__name__` while the spec runs: its `if __name__ == "__main__":` part stays out.
RUN_NAME = "__netcalc_spec__"

_NETCALC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class _Run:
    """A spec file being run by load_python_spec, and the Networks it creates."""

    def __init__(self, file: str):
        self.file = file
        self.networks: list[Network] = []


_running: _Run | None = None


class Output:
    """The output of a layer, block or repeat, or a network's or block's input:
    what `inputs=[...]` takes besides names."""

    __slots__ = ("_network", "name")

    def __init__(self, network: Network, name: str):
        self._network = network
        self.name = name            # qualified: layer1.0.conv1

    def __repr__(self) -> str:
        return f"<output of '{self.name}'>"


class Block(Output):
    """`with net.block(...) as b` or `net.repeat(...)`: inside, `b.input` is what it
    receives; after the `with`, `b` is its output."""

    __slots__ = ("_level",)

    def __init__(self, network: Network, level: _Level):
        super().__init__(network, level.group.name)
        self._level = level

    @property
    def inputs(self) -> dict[str, Output]:
        return _input_handles(self._network, self._level.scope)

    @property
    def input(self) -> Output:
        return _single_input(self.inputs, f"block '{self.name}'")

    def __enter__(self) -> Block:
        return self

    def __exit__(self, error_type, error, traceback) -> bool:
        # on an exception only unwind: the user's error is the one to report
        self._network._close(self._level, checked=error_type is None)
        return False


class _Level:
    """A level being built: the network's top, or a block or repeat inside a `with`."""

    def __init__(self, scope: Scope, previous: str | None, group: Group | None = None):
        self.scope = scope
        self.previous = previous           # the last output: the next layer's default input
        self.group = group
        self.name_counts: dict[str, int] = {}   # for generated names: relu_1, relu_2
        self.child_types: list[str] = []   # its direct children's, naming a repeat's type

    def is_repeat(self) -> bool:
        return self.group is not None and self.group.kind == "repeat"


class Network:
    """A network built by calls, as a YAML spec would describe it.

    `Network(name, input=[3, 224, 224])`, or `inputs={"image": [3, 224, 224],
    "tokens": {"shape": [128], "dtype": "int64"}}`; the name defaults to the file's.
    """

    def __init__(self, name: str | None = None, *, input: Any = None, inputs: Any = None):
        loc = _caller()
        header = {key: value for key, value in
                  (("name", name), ("input", input), ("inputs", inputs)) if value is not None}
        # the spec's file is the one netcalc runs, even if a module it imports builds the network
        spec = new_spec(located(header, loc), _running.file if _running else loc.file, {})
        self.name = spec.name
        self.loc = loc
        self._graph = LayerGraph(spec)
        top = Scope(prefix="", inputs={i.name: i.name for i in spec.inputs}, depth=0, trace=(),
                    trainable=True)
        self._levels = [_Level(top, spec.inputs[0].name if len(spec.inputs) == 1 else None)]
        if _running is not None:
            _running.networks.append(self)

    def __repr__(self) -> str:
        return f"<Network '{self.name}' ({self.loc}): {len(self._graph.spec.layers)} layers>"

    @property
    def inputs(self) -> dict[str, Output]:
        return _input_handles(self, self._levels[0].scope)

    @property
    def input(self) -> Output:
        return _single_input(self.inputs, "the network")

    # -- building -------------------------------------------------------------

    def layer(self, type: str, name: str | int | list[str] | None = None, *, inputs: Any = None,
              trainable: bool = True, tie_weight: str | Output | None = None,
              **arguments: Any) -> Output | tuple[Output, ...]:
        """A layer of `type` (`conv2d`, `add`, ...) with torch's keyword arguments.

        Its input is the previous layer's output unless `inputs` lists names
        or outputs; unnamed, it is named like `relu_1` (in a repeat: 0, 1, ...).
        """
        loc = _caller()
        level = self._levels[-1]
        scope = level.scope
        if not isinstance(type, str):
            raise SpecError(f"the layer type must be a name like 'conv2d', got {type!r}", loc,
                            scope.trace)
        cls = self._graph.layer_class(type, loc, scope)
        entry = located(arguments, loc)
        if isinstance(name, (list, tuple)):        # the pieces' names: ["left", "right"]
            if not (cls.makes_pieces and arguments.get("piece") is None):
                raise SpecError(f"a list of names is for every piece of a chunk, split or "
                                f"recurrent layer, not a {type}", loc, scope.trace)
            qualified = tuple(self._graph.define(layer_name(n, loc), scope, entry)
                              for n in name)
        else:
            qualified = self._graph.define(self._child_name(level, name, type, loc), scope,
                                           entry)
        try:
            # a learned tensor reads nothing unless inputs= says otherwise (an error)
            producers = () if inputs is None and cls.arity == NO_INPUT else \
                self._producers(inputs, level, loc, qualified)
        except SpecError as error:
            shown = ", ".join(qualified) if isinstance(qualified, tuple) else qualified
            raise in_layer(error, shown, type, error.loc, scope.trace) from None
        trainable = _trainable(trainable, loc, scope)
        level.child_types.append(type)
        if cls.makes_pieces and tie_weight is not None:
            raise SpecError(f"tie_weight: {type} holds no weight another layer could share",
                            loc, scope.trace)
        if cls.makes_pieces and arguments.get("piece") is None:
            # chunk, split: every piece, `name.0`, `name.1`, ... (or the names given),
            # returned as a tuple
            level.previous = self._graph.add_pieces(
                cls, dict(entry), entry, scope, qualified, producers, scope.depth,
                scope.trainable and trainable, RESERVED_KEYWORDS)
            return tuple(Output(self, name) for name in self._graph.pieces[level.previous])
        self._graph.add_layer(cls, dict(entry), entry, scope, qualified, producers, scope.depth,
                              scope.trainable and trainable, RESERVED_KEYWORDS)
        if tie_weight is not None:
            # an output handle names its layer in full; the scope's prefix comes off
            ref = tie_weight.name.removeprefix(scope.prefix) \
                if isinstance(tie_weight, Output) else tie_weight
            self._graph.tie_weight(qualified, ref, scope, loc)
        level.previous = qualified
        return Output(self, qualified)

    def block(self, name: str | int | None = None, *, type: str, inputs: Any = None,
              trainable: bool = True) -> Block:
        """`with net.block("layer1", type="basic_block"):` groups the layers made inside
        under one name (`layer1.conv1`), as a YAML block does.

        Inside, `input` names what it receives: the previous output, or
        `inputs` (a name or output; a dict names several: `{"x": a, "skip": b}`).
        Its output is its last layer's.
        """
        loc = _caller()
        check_block_name(type, loc)
        return self._open("block", type, name, inputs, trainable, loc)

    def repeat(self, name: str | int | None = None, *, inputs: Any = None,
               trainable: bool = True) -> Block:
        """`with net.repeat("layer1"):` chains what is made inside, named 0, 1, ...
        (`layer1.0`, as nn.Sequential names them), like YAML's `repeat`.

        Its type is its children's when they share one; a mix is `sequential`.
        """
        return self._open("repeat", "", name, inputs, trainable, _caller())

    def __getattr__(self, attribute: str):
        """`net.conv2d(...)` for `net.layer("conv2d", ...)`: every layer type is a method."""
        if not attribute.startswith("_") and lookup(attribute):
            return functools.partial(self.layer, attribute)
        raise _NoSuchMethod(f"Network has no method or layer type '{attribute}'"
                            f"{suggest(attribute) if not attribute.startswith('_') else ''}")

    # -- levels ---------------------------------------------------------------

    def _open(self, kind: str, type_name: str, name: Any, inputs: Any, trainable: bool,
              loc: Location) -> Block:
        level = self._levels[-1]
        scope = level.scope
        entry = located({}, loc)
        child_name = self._child_name(level, name, type_name or kind, loc)
        qualified = self._graph.define(child_name, scope, entry)
        received = self._block_inputs(inputs, level, loc, qualified)
        trainable = _trainable(trainable, loc, scope)
        group = self._graph.open_group(qualified, type_name, kind, scope.depth, loc)
        trace = scope.trace
        if kind == "block":
            trace = (Note(loc, f"in block '{type_name}', used here as '{qualified}'"), *trace)
        inner = Scope(prefix=qualified + ".", inputs=received, depth=scope.depth + 1,
                      trace=trace, trainable=scope.trainable and trainable)
        opened = _Level(inner, next(iter(received.values())) if len(received) == 1 else None,
                        group)
        self._levels.append(opened)
        return Block(self, opened)

    def _close(self, level: _Level, checked: bool) -> None:
        if self._levels[-1] is not level:
            # only a `with` the user wrote by hand (calling __exit__) gets here
            raise SpecError(f"'{level.group.name}' is closed before the blocks inside it",
                            level.group.loc)
        self._levels.pop()
        group = level.group
        if not checked:
            return
        if group.kind == "block" and not level.child_types:
            raise SpecError(f"block '{group.name}' has no layers", group.loc, level.scope.trace)
        if group.kind == "repeat":
            group.copies = len(level.child_types)
            kinds = set(level.child_types)
            group.type_name = kinds.pop() if len(kinds) == 1 else "sequential"
        output = level.previous
        if output is None:      # an empty repeat of several inputs passes none on
            raise SpecError(f"repeat '{group.name}' is empty: it has no output to pass on",
                            group.loc, level.scope.trace)
        self._graph.close_group(group, output)
        parent = self._levels[-1]
        parent.previous = output
        parent.child_types.append(group.type_name)

    def _child_name(self, level: _Level, name: Any, type_name: str, loc: Location) -> str:
        if name is not None:
            return layer_name(name, loc)
        if level.is_repeat():
            return str(len(level.child_types))     # nn.Sequential's names
        return self._graph.generated_name(type_name, level.scope, level.name_counts)

    # -- inputs -----------------------------------------------------------------

    def _producers(self, refs: Any, level: _Level, loc: Location,
                   own_name: str) -> tuple[str, ...]:
        """The producers a layer takes: the previous output, or what `inputs` lists."""
        scope = level.scope
        if refs is None:
            if level.previous is None:
                raise SpecError("there are several inputs here: say which this layer takes "
                                "with inputs=[...]", loc, scope.trace)
            if level.previous in self._graph.pieces:
                raise SpecError(f"the layer before gives {len(self._graph.pieces[level.previous])}"
                                " outputs: say which this layer takes with inputs=[...]", loc,
                                scope.trace)
            return (level.previous,)
        if isinstance(refs, (str, int, Output)):
            refs = [refs]
        if not isinstance(refs, (list, tuple)) or not refs:
            raise SpecError("`inputs` lists earlier layers: their names, or what net.layer "
                            "returned", loc, scope.trace)
        return tuple(self._producer(ref, scope, loc, own_name) for ref in refs)

    def _producer(self, ref: Any, scope: Scope, loc: Location, own_name: str) -> str:
        if isinstance(ref, Output):
            if ref._network is not self:
                raise SpecError(f"'{ref.name}' is a layer of network '{ref._network.name}', "
                                f"not of '{self.name}'", loc, scope.trace)
            if ref.name in self._graph.resolved:
                return self._graph.resolved[ref.name]
            if any(i.name == ref.name for i in self._graph.spec.inputs):
                return ref.name
            raise SpecError(f"'{ref.name}' has no output until its `with` ends", loc,
                            scope.trace)
        if isinstance(ref, int) and not isinstance(ref, bool):
            ref = str(ref)
        if not isinstance(ref, str):
            raise SpecError(f"`inputs` entry {ref!r} is not a layer name or output", loc,
                            scope.trace)
        return self._graph.resolve(ref, scope, loc, own_name)

    def _block_inputs(self, refs: Any, level: _Level, loc: Location,
                      own_name: str) -> dict[str, str]:
        """A block's inputs by the names its layers use: `input`, or those of a dict."""
        if not isinstance(refs, dict):
            producers = self._producers(refs, level, loc, own_name)
            if len(producers) != 1:
                raise SpecError("a block of several inputs names them: "
                                "inputs={'x': ..., 'skip': ...}", loc, level.scope.trace)
            return {"input": producers[0]}
        if not refs:
            raise SpecError("`inputs` maps the block's input names to layers", loc,
                            level.scope.trace)
        for local_name in refs:
            check_input_name(local_name, loc)
        return {local_name: self._producer(ref, level.scope, loc, own_name)
                for local_name, ref in refs.items()}

    # -- the result -------------------------------------------------------------

    def _expanded(self) -> ExpandedSpec:
        """The finished spec: every `with` closed, at least one layer."""
        if len(self._levels) > 1:
            group = self._levels[-1].group
            raise SpecError(f"'{group.name}' is never closed: write `with net.{group.kind}"
                            "(...):`", group.loc)
        if not self._graph.spec.layers:
            raise SpecError(f"network '{self.name}' has no layers", self.loc)
        return self._graph.spec


class _NoSuchMethod(AttributeError):
    """`net.conv(...)`: neither a method nor a layer type (the user's mistake, not netcalc's)."""


def _input_handles(network: Network, scope: Scope) -> dict[str, Output]:
    return {name: Output(network, producer) for name, producer in scope.inputs.items()}


def _single_input(handles: dict[str, Output], owner: str) -> Output:
    if len(handles) != 1:
        raise SpecError(f"{owner} has several inputs ({', '.join(handles)}): use "
                        ".inputs[name]", _caller())
    return next(iter(handles.values()))


def _trainable(value: Any, loc: Location, scope: Scope) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"trainable must be True or False, got {value!r}", loc, scope.trace)
    return value


# -- where the user's code is -----------------------------------------------------

def _caller() -> Location:
    """Where the user's code called netcalc: the innermost frame outside the package."""
    frame = sys._getframe(1)
    while frame.f_back is not None and _is_netcalc(frame.f_code):
        frame = frame.f_back
    return _code_location(frame.f_code, frame.f_lasti, frame.f_lineno)


def _code_location(code: types.CodeType, instruction: int, line: int | None) -> Location:
    """The line and column of the expression an instruction runs (the column from
    Python 3.11's positions; column 1 before)."""
    col = 1
    positions = _positions(code)
    if positions and 0 <= instruction // 2 < len(positions):
        start_line, _, start_col, _ = positions[instruction // 2]
        line = start_line or line
        col = start_col + 1 if start_col is not None else 1
    return Location(code.co_filename, line or 1, col)


@functools.lru_cache(maxsize=256)
def _positions(code: types.CodeType) -> list | None:
    # one entry per 2-byte instruction, so f_lasti // 2 indexes it
    return list(code.co_positions()) if hasattr(code, "co_positions") else None


def _is_netcalc(code: types.CodeType) -> bool:
    return code.co_filename.startswith(_NETCALC_DIR)


# -- running a spec file ------------------------------------------------------------

def load_python_spec(source: bytes, file: str) -> ExpandedSpec:
    """Run a Python spec file and return the Network it builds, expanded.

    The file runs as its own module (`__file__` set, `__name__` not
    "__main__", its folder importable); its exceptions become located errors.
    """
    global _running
    try:
        code = compile(source, file, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:      # ValueError: null bytes, before 3.12
        raise _user_error(error, file) from None
    outer, _running = _running, _Run(file)
    run = _running
    module = types.ModuleType(RUN_NAME)
    module.__file__ = file
    saved_module = sys.modules.get(RUN_NAME)
    sys.modules[RUN_NAME] = module      # for dataclasses and pickle in the user's code
    folder = os.path.dirname(os.path.abspath(file))
    sys.path.insert(0, folder)
    try:
        exec(code, module.__dict__)
    except NetcalcError:
        raise
    except (Exception, SystemExit) as error:
        if _raised_by_netcalc(error):
            raise       # a bug, not the user's mistake: the CLI says so
        raise _user_error(error, file) from None
    finally:
        _running = outer
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        if saved_module is None:
            sys.modules.pop(RUN_NAME, None)
        else:
            sys.modules[RUN_NAME] = saved_module
    return _chosen(run.networks, module.__dict__, file)._expanded()


def _chosen(created: list[Network], namespace: dict, file: str) -> Network:
    start = Location(file, 1, 1)
    if not created:
        raise SpecError("this file builds no network: create one with `net = "
                        "Network(\"name\", input=[3, 224, 224])` (from netcalc import Network)",
                        start)
    if len(created) == 1:
        return created[0]
    chosen = namespace.get(CHOSEN_NETWORK)
    if any(network is chosen for network in created):
        return chosen
    notes = tuple(Note(network.loc, f"network '{network.name}' is created here")
                  for network in created)
    raise SpecError(f"this file builds {len(created)} networks: say which to analyze with "
                    f"`{CHOSEN_NETWORK} = ...` at its top level", start, notes)


def _raised_by_netcalc(error: BaseException) -> bool:
    """Did the exception start in netcalc's code, other than as a user's mistake?"""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return (traceback is not None and _is_netcalc(traceback.tb_frame.f_code)
            and not isinstance(error, _NoSuchMethod))


def _user_error(error: BaseException, file: str) -> SpecError:
    """The user's code failed: its exception, located at the spec file's line that led
    to it, with a note where it was raised when that is elsewhere."""
    # `net.conv()` raises our subclass; the user knows it as an AttributeError
    kind = "AttributeError" if isinstance(error, _NoSuchMethod) else type(error).__name__
    if isinstance(error, SyntaxError) and error.lineno:
        return SpecError(f"{kind}: {error.msg}",
                         Location(error.filename or file, error.lineno, error.offset or 1))
    user_places = []
    traceback = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if not _is_netcalc(code):
            user_places.append(_code_location(code, traceback.tb_lasti, traceback.tb_lineno))
        traceback = traceback.tb_next
    in_file = [loc for loc in user_places if loc.file == file]
    loc = in_file[-1] if in_file else Location(file, 1, 1)
    notes = ()
    if user_places and user_places[-1] != loc:
        notes = (Note(user_places[-1], "raised here"),)
    message = str(error)
    return SpecError(f"{kind}: {message}" if message else kind, loc, notes)


__all__ = ["Block", "Network", "Output", "load_python_spec"]
