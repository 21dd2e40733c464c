"""Recurrent layers: torch's nn.RNN, nn.LSTM and nn.GRU.

One call returns several tensors, `(output, h_n)`, or `(output, (h_n, c_n))` for
an LSTM. A spec entry makes them pieces, as chunk's are (`name: [out, h_n, c_n]`,
or `name.0`, `name.1`, ...), but unlike chunk's they come from ONE call: the first
piece made counts the parameters and MACs (and what training keeps); each later
piece carries `same_call: true` and counts only its own output's memory. The
torch model calls the module once: the later pieces' modules read what that call
returned (`build_model` links them; `export` unpacks the call).

Per layer and direction, with G gates (1 for rnn, 3 for gru, 4 for lstm), hidden
size H, output size H_out (proj_size, or H) and input size I (the input's
features for the first layer, D·H_out above, D = 2 if bidirectional):

    params = G·(H·I + H·H_out + 2H)  (+ H_out·H for the projection)
    MACs   = N·L·G·H·(I + H_out)     (+ N·L·H·H_out for the projection)

the gate matmuls W_ih·x_t and W_hh·h_{t−1} at every step; adding the biases is not
counted. torch's FlopCounterMode counts exactly these for nn.RNN and nn.GRU (the CPU
runs them as addmm), and for nn.LSTM where it runs the same matmuls (with
proj_size, with oneDNN off, on float64); it counts 0 for LSTM's fused oneDNN kernel
(CPU float32, the default): netcalc counts its gate matmuls as it counts GRU's.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import Any, ClassVar

from ..errors import ShapeError
from ..formulas import contiguous_strides
from .attention import check_probability, sequence_first_warning
from .base import Layer, LayerNumbers, Saved, Shape, Strides, layer_type
from .field import Field, merged
from .registry import register
from ..working import Remark, Step, count_step


class _Recurrent(Layer):
    """What nn.RNN, nn.LSTM and nn.GRU share; each subclass declares torch's arguments
    (hidden_size, num_layers, ..., input_size) and the piece's `piece` and `same_call`."""

    family: ClassVar[str] = "recurrent"
    makes_pieces: ClassVar[bool] = True
    # the pieces an entry makes come from one call (spec/build.py's add_pieces marks the
    # later ones `same_call`; torch_bridge/model.py links their modules to the first's)
    one_call: ClassVar[bool] = True
    arity: ClassVar = (1, 2)             # x, or x and h_0
    gates: ClassVar[int] = 1
    outputs: ClassVar[tuple[str, ...]] = ("output", "h_n")
    positive: ClassVar[tuple[str, ...]] = ("hidden_size", "num_layers", "input_size")

    proj_size = 0                        # LSTM's own argument; the others have none

    # -- arguments --------------------------------------------------------------

    def piece_count(self) -> int:
        return len(self.outputs)

    def check_arguments(self) -> None:
        super().check_arguments()
        if isinstance(self.dropout, bool):
            raise ShapeError("dropout must be a number between 0 and 1, not true or false",
                             arg="dropout")
        check_probability(self.dropout)
        count = len(self.outputs)
        if self.piece is not None and not 0 <= self.piece < count:
            raise ShapeError(f"piece={self.piece}: {self.type_name} gives {count} outputs "
                             f"({self._listed()})", arg="piece")
        if self.same_call and not self.piece:
            raise ShapeError("same_call marks the later pieces of one entry (piece 1 on); "
                             "leave it out", arg="same_call")

    def _listed(self) -> str:
        return ", ".join(f"{k}: {name}" for k, name in enumerate(self.outputs))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def h_out(self) -> int:
        return self.proj_size or self.hidden_size

    # -- shapes -------------------------------------------------------------------

    def _dims(self, xs: tuple[Shape, ...]) -> tuple[int, int, int, bool]:
        """(L, N, I, batched) of the input, the initial state checked as torch checks it."""
        x, *state = xs
        if len(x) not in (2, 3):
            order = "[N, L, I]" if self.batch_first else "[L, N, I] (batch_first: false)"
            raise ShapeError(f"expects a 3-D input {order} or an unbatched 2-D one [L, I], "
                             f"got {list(x)}")
        batched = len(x) == 3
        if batched:
            length, batch = (x[1], x[0]) if self.batch_first else (x[0], x[1])
        else:
            length, batch = x[0], 1
        features = self.check_inferred("input_size", x[-1], "feature", " in its last dim")
        if len(xs) not in self.arity:
            raise ShapeError(f"{self.type_name} takes x, or x and "
                             f"{' and '.join(self._state_names())}: {len(xs)} inputs given")
        stack = self.num_layers * self.directions
        for name, shape, size in zip(self._state_names(), state, self._state_sizes()):
            wanted = (stack, batch, size) if batched else (stack, size)
            if len(shape) != len(wanted):
                raise ShapeError(f"for a{' batched 3' if batched else 'n unbatched 2'}-D input, "
                                 f"{name} must be {len(wanted)}-D {list(wanted)}, got "
                                 f"{list(shape)}")
            if tuple(shape) != wanted:
                raise ShapeError(f"{name} must be {list(wanted)} (num_layers·D = {stack}"
                                 f"{f', N = {batch}' if batched else ''}, {size} features), "
                                 f"got {list(shape)}")
        return length, batch, features, batched

    def _state_names(self) -> tuple[str, ...]:
        return ("h_0",)

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.h_out,)

    def _piece(self) -> int:
        if self.piece is None:
            raise ShapeError(f"which output? (`piece: 0` ...: {self._listed()}; a spec entry "
                             "without it makes every piece)", arg="piece")
        return self.piece

    def piece_shape(self, xs: tuple[Shape, ...], piece: int) -> Shape:
        """output [L, N, D·H_out] ([N, L, ...] batch_first); h_n [num_layers·D, N, H_out]
        whatever batch_first; c_n [num_layers·D, N, H]; unbatched without N."""
        length, batch, _, batched = self._dims(xs)
        stack = self.num_layers * self.directions
        if piece == 0:
            features = self.directions * self.h_out
            if not batched:
                return (length, features)
            return (batch, length, features) if self.batch_first else (length, batch, features)
        size = self.h_out if piece == 1 else self.hidden_size
        return (stack, batch, size) if batched else (stack, size)

    def output_batch_dim(self, xs: tuple[Shape, ...]) -> int | None:
        _, _, _, batched = self._dims(xs)
        if not batched:
            return None
        return 0 if self._piece() == 0 and self.batch_first else 1

    def output_strides_of(self, y: Shape) -> Strides:
        """torch computes the output as [L, N, F] and, batch_first, returns its transpose."""
        if self.piece == 0 and self.batch_first and len(y) == 3:
            n, length, features = y
            return (features, n * features, 1)
        return contiguous_strides(y)

    # -- counts -------------------------------------------------------------------

    def _layer_inputs(self, features: int) -> list[int]:
        """Each layer's input size: the input's for the first, D·H_out above."""
        return [features] + [self.directions * self.h_out] * (self.num_layers - 1)

    def call_params(self, features: int) -> dict[str, int]:
        """Every tensor of the module, by torch's name."""
        g, h, h_out = self.gates, self.hidden_size, self.h_out
        tensors = {}
        for k, i in enumerate(self._layer_inputs(features)):
            for suffix in ("", "_reverse")[:self.directions]:
                tensors[f"weight_ih_l{k}{suffix}"] = g * h * i
                tensors[f"weight_hh_l{k}{suffix}"] = g * h * h_out
                if self.bias:
                    tensors[f"bias_ih_l{k}{suffix}"] = g * h
                    tensors[f"bias_hh_l{k}{suffix}"] = g * h
                if self.proj_size:
                    tensors[f"weight_hr_l{k}{suffix}"] = h_out * h
        return tensors

    def call_macs(self, length: int, batch: int, features: int) -> int:
        """The gate matmuls of every step, layer and direction (and the projection)."""
        g, h, h_out = self.gates, self.hidden_size, self.h_out
        per_step = sum(g * h * (i + h_out) + (h * h_out if self.proj_size else 0)
                       for i in self._layer_inputs(features))
        return batch * length * self.directions * per_step

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        length, batch, features, _ = self._dims(inputs)
        y = self.piece_shape(inputs, self._piece())
        warnings = sequence_first_warning(self.batch_first, inputs[0]) \
            if len(inputs[0]) == 3 else []
        if self.dropout and self.num_layers == 1:
            warnings.append(f"dropout={self.dropout} does nothing with num_layers=1: torch "
                            "drops out between stacked layers only")
        if self.same_call:          # the entry's first piece counted the call
            return LayerNumbers(y, {}, {}, 0, prod(y), contiguous_strides(y), ())
        return LayerNumbers(y, self.call_params(features), {},
                            self.call_macs(length, batch, features), prod(y),
                            self.output_strides_of(y), tuple(warnings))

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"input_size": x[-1]} if x else {}

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """One bias per gate (torch keeps b_ih and b_hh), one direction, the first layer
        alone, one gate instead of all; the MACs of one time step."""
        if self.same_call:
            return []
        length, batch, features, _ = self._dims(xs)

        def params(**changed) -> int:
            return sum(replace(self, **changed).call_params(features).values())

        right, g, h = params(), self.gates, self.hidden_size
        copies = self.num_layers * self.directions
        slips = []
        if self.bias:
            slips.append(("params", "recurrent_one_bias", right - copies * g * h,
                          {"type": self.type_name, "bias": copies * g * h}))
        if self.directions == 2:
            slips.append(("params", "recurrent_one_direction", params(bidirectional=False), {}))
            slips.append(("params", "recurrent_one_direction", right // 2, {}))
        if self.num_layers > 1:
            slips.append(("params", "recurrent_first_layer_only", params(num_layers=1),
                          {"layers": self.num_layers}))
        if g > 1 and not self.proj_size:
            slips.append(("params", "recurrent_one_gate", right // g,
                          {"type": self.type_name, "gates": g}))
        if not self.proj_size:          # another type's gates: a GRU counted as an LSTM
            slips += [("params", "recurrent_wrong_gates", right // g * other,
                       {"type": self.type_name, "gates": g, "counted": other})
                      for other in (3, 4) if other != g]
        macs = self.call_macs(length, batch, features)
        if length > 1:
            slips.append(("macs", "recurrent_one_step", macs // length, {"length": length}))
        return slips

    def notation(self) -> str:
        words = [self.type_name]
        if self.num_layers > 1:
            words.append(f"×{self.num_layers}")
        if self.bidirectional:
            words.append("bidirectional")
        text = f"{' '.join(words)}, {self.hidden_size}"
        if self.proj_size:
            text += f" → {self.proj_size}"
        return f"{text} [{self.outputs[self.piece]}]" if self.piece is not None else text

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """Each output sees every position of the sequence (the state carries them all;
        bidirectional or h_n: before and after), and every feature."""
        batch = (0 if self.batch_first else 1) if len(inputs[0]) == 3 else None
        mixed = tuple(f.mixed([d for d in range(len(x)) if d != batch], "recurrence")
                      for f, x in zip(fields, inputs))
        return merged(mixed, inputs, y)

    # -- training memory --------------------------------------------------------

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """What autograd keeps of torch's CPU implementation, which runs each layer and
        direction as matmuls (checked with saved_tensors_hooks in tests/test_recurrent.py):
        the input, projected for every step at once ([L·N, I]: a batch-first one copied,
        once per direction),
        each stacked layer's output below the last, the initial state (zeros torch makes
        when none is given) and, per layer, direction and step, what the cell keeps.

        Not modelled: CPU float32 LSTM without proj_size runs oneDNN's fused kernel,
        which keeps the input, output and final states of each layer plus a workspace of
        oneDNN's own layout (page-aligned, not a formula of the sizes netcalc could
        state); what is counted here is the same LSTM with oneDNN off."""
        if self.same_call:
            return []
        length, batch, features, batched = self._dims(xs)
        x = xs[0]
        saved: list[Saved] = []
        if batched and self.batch_first and length > 1 and batch > 1:
            # x.transpose(0, 1) copied to [L·N, I] by each direction's projection
            saved.append(Saved("new", elements=self.directions * prod(x)))
        else:
            saved.append(Saved("input"))
        stack, d = self.num_layers * self.directions, self.directions
        below = (self.num_layers - 1) * length * batch * d * self.h_out
        steps = stack * self.cell_saved(length, batch)
        saved.append(Saved("new", elements=below + steps))
        for index, size in enumerate(self._state_sizes(), start=1):
            if index < len(xs):
                saved.append(Saved("input", index))
            else:
                saved.append(Saved("new", elements=stack * batch * size))
        return saved

    def cell_saved(self, length: int, batch: int) -> int:
        """Elements one layer and direction keeps over L steps (initial state aside)."""
        raise NotImplementedError

    # -- explain ------------------------------------------------------------------

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        length, batch, features, batched = self._dims(xs)
        piece = self._piece()
        steps = self._shape_steps(y, piece, batched)
        if self.same_call:
            steps[-1] = replace(steps[-1], remarks=(*steps[-1].remarks, Remark("one_call")))
            return steps
        return steps + [self._params_step(features), self._macs_step(length, batch, features)]

    def _shape_steps(self, y: Shape, piece: int, batched: bool) -> list[Step]:
        last = len(y) - 1
        d = self.directions
        if piece == 0:
            if self.proj_size:
                return [count_step(f"dim {last}", "D·H_out", f"{d}·{self.proj_size}", y[-1],
                                   (Remark("proj_size_out"),))]
            return [count_step(f"dim {last}", "D·H", f"{d}·{self.hidden_size}", y[-1])]
        size = "H" if piece == 2 or not self.proj_size else "H_out"
        return [count_step("dim 0", "num_layers·D", f"{self.num_layers}·{d}", y[0],
                           (Remark("state_stack"),)),
                Step(f"dim {last}", size, str(y[-1]), y[-1])]

    def _per_layer(self, i: str, numbers: bool) -> str:
        """G·(H·I + H·H_out + 2H) (+ H_out·H), with `i` for I; in symbols or numbers."""
        g, proj = self.gates, self.proj_size
        h = str(self.hidden_size) if numbers else "H"
        h_out = (str(proj) if numbers else "H_out") if proj else h
        terms = [f"{h}·{i}", f"{h}·{h_out}"]
        if self.bias:
            terms.append(f"2·{h}" if numbers else "2H")
        inner = " + ".join(terms)
        text = f"{g}·({inner})" if g > 1 else f"({inner})" if proj else inner
        return f"{text} + {h_out}·{h}" if proj else text

    def _params_step(self, features: int) -> Step:
        d, layers = self.directions, self.num_layers
        above = "D·H_out" if self.proj_size else "D·H"
        above_numbers = f"{d}·{self.h_out}"
        formula = self._per_layer("I", False)
        working = self._per_layer(str(features), True)
        if layers > 1:
            formula = f"{_grouped(formula)} + (num_layers − 1)·" \
                      f"{_grouped(self._per_layer(above, False))}"
            working = f"{_grouped(working)} + {layers - 1}·" \
                      f"{_grouped(self._per_layer(above_numbers, True))}"
        if d > 1:
            formula, working = f"D·{_grouped(formula)}", f"{d}·{_grouped(working)}"
        remarks = [Remark("recurrent_params", {"gates": self.gates})]
        if not self.bias:
            remarks.append(Remark("no_bias"))
        params = sum(self.call_params(features).values())
        return count_step("params", formula, working, params, tuple(remarks))

    def _macs_step(self, length: int, batch: int, features: int) -> Step:
        g, h, h_out, d, layers = (self.gates, self.hidden_size, self.h_out, self.directions,
                                  self.num_layers)
        proj = self.proj_size

        def per_layer(i: str, numbers: bool) -> str:
            hs, hos = (str(h), str(h_out)) if numbers else ("H", "H_out" if proj else "H")
            gate = f"{g}·{hs}·({i} + {hos})" if g > 1 else f"{hs}·({i} + {hos})"
            return f"{gate} + {hs}·{hos}" if proj else gate

        above = "D·H_out" if proj else "D·H"
        formula, working = per_layer("I", False), per_layer(str(features), True)
        if layers > 1:
            formula = f"{formula} + (num_layers − 1)·{_grouped(per_layer(above, False))}"
            working = f"{working} + {layers - 1}·" \
                      f"{_grouped(per_layer(f'{d}·{h_out}', True))}"
        lead, lead_numbers = "N·L·D", f"{batch}·{length}·{d}"
        formula, working = f"{lead}·({formula})", f"{lead_numbers}·({working})"
        remarks = [Remark("recurrent_macs")]
        if self.type_name == "lstm":
            remarks.append(Remark("lstm_fused_kernel"))
        return count_step("MACs", formula, working, self.call_macs(length, batch, features),
                          tuple(remarks))

    # -- torch ----------------------------------------------------------------------

    def torch_module(self, nn, x: Shape):
        if self.same_call:
            return _later_piece(nn)(self.piece)
        args = {k: v for k, v in self.arguments(x).items() if k not in ("piece", "same_call")}
        return _one_call(nn, type(self).__name__)(piece=self.piece or 0, **args)

    @classmethod
    def arguments_of(cls, module) -> dict[str, Any]:
        names = [f for f in cls.argument_names() if f not in ("piece", "same_call")]
        return {name: getattr(module, name) for name in names}

    @classmethod
    def torch_call(cls, module: str, xs: list[str]) -> str:
        x, *state = xs
        if not state:
            return f"{module}({x})"
        given = f"({', '.join(state)})" if len(state) > 1 else state[0]
        return f"{module}({x}, {given})"

    @classmethod
    def unpacked(cls, targets: dict[int, str]) -> str:
        """The left side of `out, (h_n, c_n) = self.lstm(x)`: `_` for pieces not taken."""
        names = [targets.get(k, "_") for k in range(len(cls.outputs))]
        if len(names) == 3:
            inner = "_" if names[1:] == ["_", "_"] else f"({names[1]}, {names[2]})"
            return f"{names[0]}, {inner}"
        return ", ".join(names)


@register("rnn")
@layer_type
class RNN(_Recurrent):
    """nn.RNN: h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh) (or relu); one gate."""

    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    batch_first: bool = False      # torch's default: [L, N, I]; specs mostly want true
    dropout: float = 0.0
    bidirectional: bool = False
    input_size: int | None = None  # the input's last dim
    piece: int | None = None       # 0: output, 1: h_n
    same_call: bool = False        # a later piece of one entry (set by netcalc)

    gates: ClassVar[int] = 1
    choices: ClassVar = {"nonlinearity": ("tanh", "relu")}

    def cell_saved(self, length: int, batch: int) -> int:
        # tanh or relu keeps its output, h_1 ... h_L, which the next step's matmul reads
        return length * batch * self.h_out


@register("gru")
@layer_type
class GRU(_Recurrent):
    """nn.GRU: reset, update and new gates (three), h_t = (1 − z)·n + z·h_{t−1}."""

    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    input_size: int | None = None
    piece: int | None = None       # 0: output, 1: h_n
    same_call: bool = False

    gates: ClassVar[int] = 3

    def cell_saved(self, length: int, batch: int) -> int:
        # per step: W_hh·h_{t−1} + b_hh ([N, 3H]), r, z and n, and h_{t−1} (h_1 ... h_{L−1})
        return (7 * length - 1) * batch * self.hidden_size


@register("lstm")
@layer_type
class LSTM(_Recurrent):
    """nn.LSTM: input, forget, cell and output gates (four); c_t = f·c_{t−1} + i·g,
    h_t = o·tanh(c_t), projected to proj_size when it is set (h_t = W_hr·h_t)."""

    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    input_size: int | None = None
    piece: int | None = None       # 0: output, 1: h_n, 2: c_n
    same_call: bool = False

    gates: ClassVar[int] = 4
    arity: ClassVar = (1, 3)       # x, or x, h_0 and c_0 (torch takes both or neither)
    outputs: ClassVar[tuple[str, ...]] = ("output", "h_n", "c_n")
    non_negative: ClassVar[tuple[str, ...]] = ("proj_size",)

    def check_arguments(self) -> None:
        super().check_arguments()
        if self.proj_size >= self.hidden_size:
            raise ShapeError(f"proj_size={self.proj_size} must be smaller than hidden_size="
                             f"{self.hidden_size}", arg="proj_size")

    def _state_names(self) -> tuple[str, ...]:
        return ("h_0", "c_0")

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.h_out, self.hidden_size)

    def cell_saved(self, length: int, batch: int) -> int:
        # per step: the gates ([N, 4H], activated in place), tanh(c_t), and the states
        # the next step reads, h_1 ... h_{L−1} and c_1 ... c_{L−1}; with a projection,
        # o·tanh(c_t) too, which W_hr reads
        h, h_out = self.hidden_size, self.h_out
        if not self.proj_size:
            return (7 * length - 2) * batch * h
        return (length - 1) * batch * h_out + (7 * length - 1) * batch * h


def _grouped(text: str) -> str:
    """`text` as a factor: in parentheses unless it is one product, `4·(...)` or `H·(...)`."""
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in "+−":
            return f"({text})"
    return text


# -- the modules torch_bridge builds (nn passed in: layers never import torch) -------------

_MODULES: dict[str, type] = {}


def _one_call(nn, torch_name: str) -> type:
    """nn.RNN, nn.LSTM or nn.GRU (a subclass of the same name, so its parameters keep
    torch's names) called as a spec's layer is: x, and maybe the initial state, in;
    the entry's `piece` out. What its later pieces take it keeps until they do."""
    if torch_name not in _MODULES:
        class Recurrent(getattr(nn, torch_name)):
            def __init__(self, *args, piece: int = 0, **kwargs):
                super().__init__(*args, **kwargs)
                self.piece = piece
                self.later: tuple[int, ...] = ()     # pieces later modules take
                self.kept: dict = {}

            def forward(self, x, *state):
                hx = tuple(state) if len(state) > 1 else state[0] if state else None
                output, hidden = super().forward(x, hx)
                pieces = (output, *hidden) if isinstance(hidden, tuple) else (output, hidden)
                self.kept = {k: pieces[k] for k in self.later}
                return pieces[self.piece]

        Recurrent.__name__ = Recurrent.__qualname__ = torch_name
        _MODULES[torch_name] = Recurrent
    return _MODULES[torch_name]


def _later_piece(nn) -> type:
    if "LaterPiece" not in _MODULES:
        class LaterPiece(nn.Module):
            """A later piece of a recurrent layer's one call: what that call (the
            entry's first piece's module, not a submodule of this one) returned."""

            def __init__(self, piece: int):
                super().__init__()
                self.piece = piece

            def follow(self, call) -> None:
                object.__setattr__(self, "call", call)      # not registered: no second copy
                call.later = (*call.later, self.piece)

            def forward(self, *xs):
                return self.call.kept.pop(self.piece)

            def extra_repr(self) -> str:
                return f"piece={self.piece}"

        _MODULES["LaterPiece"] = LaterPiece
    return _MODULES["LaterPiece"]
