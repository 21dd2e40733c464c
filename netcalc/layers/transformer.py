"""The parts of a decoder (or encoder) LLM, as Hugging Face's Llama, Mistral and
Mixtral build them: self-attention with grouped-query heads and rotary position
embedding, the gated (SwiGLU / GeGLU) MLP, and a sparse mixture of gated-MLP experts.

torch.nn has no class for them: the bridge builds netcalc's own modules
(torch_bridge/build.py's OWN_MODULES, written like Hugging Face's source).
MACs are FlopCounterMode's: the projections, and attention on torch's math path
(sdpa_kernel(SDPBackend.MATH)), which computes every query-key score, causal or
not. Elementwise work (rotary's multiplies, the gate's product, softmax) counts 0.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..working import Remark, Step, count_step, product
from .attention import attended, attention_macs, check_probability
from .base import Layer, Saved, Shape, layer_type
from .field import Field
from .registry import register


# the gated MLPs' activations: the name of each (SwiGLU, GeGLU) as papers call them
GATED_ACTIVATIONS = {"silu": "SwiGLU", "gelu": "GeGLU", "gelu_tanh": "GeGLU"}


def _rows(x: Shape) -> tuple[int, str, str]:
    """The tokens a per-token layer runs on: their count, its factors ('2·128·') and the
    symbol ('tokens·'), the latter two empty for one token."""
    tokens = prod(x[:-1])
    if tokens == 1:
        return 1, "", ""
    return tokens, f"{product(x[:-1])}·", "tokens·"


@register("attention")
@layer_type
class Attention(Layer):
    """Self-attention as LLMs build it (Llama's LlamaAttention): x [N, L, E] ->
    q = x·W_qᵀ (num_heads heads of head_dim), k and v = x·W_kᵀ, x·W_vᵀ (num_kv_heads
    heads each, shared by num_heads / num_kv_heads query heads: GQA; 1: MQA),
    optionally rotated by position (rotary), softmax(q·kᵀ/√head_dim)·v, then o_proj
    back to E. [N, L, E] in and out (batch first).
    """

    num_heads: int
    num_kv_heads: int | None = None   # None: num_heads (multi-head attention)
    head_dim: int | None = None       # None: embed_dim // num_heads
    bias: bool = False                # of the q, k and v projections
    out_bias: bool | None = None      # of o_proj; None: as bias
    is_causal: bool = False
    rotary: bool = False
    rope_theta: float = 10000.0       # rotary's base: Llama 2's 10,000, Mixtral's 1e6
    sliding_window: int | None = None  # each query sees the last W keys (Mistral 7B's 4,096)
    dropout: float = 0.0
    embed_dim: int | None = None      # the input's last dim

    family: ClassVar[str] = "attention"
    positive: ClassVar[tuple[str, ...]] = ("num_heads", "num_kv_heads", "head_dim",
                                           "embed_dim", "sliding_window")
    torch_class: ClassVar[str] = "Attention"       # netcalc's own: torch_bridge/build.py

    def notation(self) -> str:
        kv = f" ({self.kv_heads} kv)" if self.kv_heads != self.num_heads else ""
        extras = "".join(f", {word}" for word, on in (
            ("causal", self.is_causal), ("rotary", self.rotary),
            (f"window {self.sliding_window}", self.sliding_window)) if on)
        return f"attention ×{self.num_heads} heads{kv}{extras}"

    @property
    def kv_heads(self) -> int:
        return self.num_heads if self.num_kv_heads is None else self.num_kv_heads

    def check_arguments(self) -> None:
        super().check_arguments()
        check_probability(self.dropout)
        if self.num_heads % self.kv_heads:
            raise ShapeError(f"num_kv_heads={self.kv_heads} must divide num_heads="
                             f"{self.num_heads}: each key/value head serves a whole group of "
                             "query heads", arg="num_kv_heads")

    def _sizes(self, x: Shape) -> tuple[int, int, int, int]:
        """N, L, E and head_dim, checked."""
        if len(x) != 3:
            raise ShapeError(f"expects a 3-D input [N, L, E] (batch first), got {list(x)}")
        n, length, e = x
        self.check_inferred("embed_dim", e, "feature", " in its last dim")
        if self.head_dim is not None:
            d = self.head_dim
        elif e % self.num_heads:
            raise ShapeError(f"embed_dim={e} does not split into num_heads={self.num_heads} "
                             f"heads ({e} / {self.num_heads} = {e / self.num_heads:g}); "
                             "give head_dim", arg="num_heads")
        else:
            d = e // self.num_heads
        if self.rotary and d % 2:
            raise ShapeError(f"rotary needs an even head_dim (it rotates pairs of "
                             f"features), got {d}", arg="head_dim" if self.head_dim
                             else "rotary")
        return n, length, e, d

    def output_shape(self, x: Shape) -> Shape:
        self._sizes(x)
        return x

    @property
    def has_out_bias(self) -> bool:
        return self.bias if self.out_bias is None else self.out_bias

    def params(self, x: Shape) -> dict[str, int]:
        _, _, e, d = self._sizes(x)
        h, kv = self.num_heads, self.kv_heads
        tensors = {}
        for name, n_in, n_out, bias in (("q_proj", e, h * d, self.bias),
                                        ("k_proj", e, kv * d, self.bias),
                                        ("v_proj", e, kv * d, self.bias),
                                        ("o_proj", h * d, e, self.has_out_bias)):
            tensors[f"{name}.weight"] = n_in * n_out
            if bias:
                tensors[f"{name}.bias"] = n_out
        return tensors

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """Heads counted twice (each head given full E×E projections), all heads' k and v
        where the layer shares fewer (GQA), the output projection forgotten."""
        (x,) = xs
        tensors = self.params(x)
        weights = sum(n for name, n in tensors.items() if name.endswith("weight"))
        right = sum(tensors.values())
        out = tensors["o_proj.weight"] + tensors.get("o_proj.bias", 0)
        slips = [("params", "heads_counted_twice", right + (self.num_heads - 1) * weights,
                  {"heads": self.num_heads}),
                 ("params", "forgot_out_proj", right - out, {"out": out})]
        if self.kv_heads != self.num_heads:
            every_head = sum(Attention.params(replace(self, num_kv_heads=None), x).values())
            slips.append(("params", "kv_heads_as_query_heads", every_head,
                          {"heads": self.num_heads, "kv_heads": self.kv_heads,
                           "group": self.num_heads // self.kv_heads}))
        return slips

    def _attention_macs(self, x: Shape) -> int:
        n, length, _, d = self._sizes(x)
        return attention_macs(n, self.num_heads, length, length, d, d)

    def macs(self, x: Shape, y: Shape) -> int:
        """N·L·E·(H·D + 2·Hkv·D) + N·L·H·D·E for the projections, N·H·L·L·2·D for
        Q·Kᵀ and A·V (each key/value head serves its group of query heads)."""
        n, length, e, d = self._sizes(x)
        h, kv = self.num_heads, self.kv_heads
        projections = n * length * e * (h * d + 2 * kv * d) + n * length * h * d * e
        return projections + self._attention_macs(x)

    def causal_attention_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        return self._attention_macs(xs[0]) if self.is_causal else 0

    def score_elements(self, xs: tuple[Shape, ...], y: Shape) -> int:
        n, length, _, _ = self._sizes(xs[0])
        return 2 * n * self.num_heads * length * length

    def kv_cache_elements(self, xs: tuple[Shape, ...], context: int) -> int:
        """A decoder's cache: each position's key and value, 2·Hkv·D per token; with a
        sliding window, of the last W positions only (Mistral's rolling buffer)."""
        if not self.is_causal:
            return 0
        _, _, _, d = self._sizes(xs[0])
        kept = min(context, self.sliding_window) if self.sliding_window else context
        return 2 * self.kv_heads * d * kept

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees every position (a causal one those before it; the last
        position all of them)."""
        return attended(field, x, batch_first=True)

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"embed_dim": x[-1]}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """On the math path (checked with saved_tensors_hooks): x (the projections'
        input); q, and k and v repeated to every query head (N·H·L·D each); the attention
        weights (N·H·L·L; with dropout also its mask and the dropped weights); the
        heads' output, o_proj's input (N·L·H·D); with rotary, its cos and sin (L·D
        each)."""
        (x,) = xs
        n, length, _, d = self._sizes(x)
        h = self.num_heads
        weights = n * h * length * length * (3 if self.dropout else 1)
        rotary = 2 * length * d if self.rotary else 0
        return [Saved("input"),
                Saved("new", elements=4 * n * h * length * d + weights + rotary)]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        n, length, e, d = self._sizes(x)
        h, kv = self.num_heads, self.kv_heads
        remarks = []
        if self.head_dim is None:
            remarks.append(Remark("attention_head_dim", {"embed_dim": e, "heads": h,
                                                         "head_dim": d}))
        if kv != h:
            remarks.append(Remark("kv_heads_shared", {"kv_heads": kv, "group": h // kv}))
        # params: each projection's weight, and its bias where it has one
        qkv_in = f"({e} + 1)" if self.bias else f"{e}"
        o_in = f"({h}·{d} + 1)" if self.has_out_bias else f"{h}·{d}"
        formula = ("(E + 1)" if self.bias else "E") + "·(H·D + 2·Hkv·D) + " \
            + ("(H·D + 1)" if self.has_out_bias else "H·D") + "·E"
        if not self.bias and not self.has_out_bias:
            remarks.append(Remark("no_bias"))
        params = count_step("params", formula,
                            f"{qkv_in}·({h}·{d} + 2·{kv}·{d}) + {o_in}·{e}",
                            sum(self.params(x).values()), tuple(remarks))
        macs_remarks = [Remark("attention_math_path", {"attention": self._attention_macs(x)})]
        if self.is_causal:
            macs_remarks.append(Remark("causal_full_scores", {"length": length}))
        if self.rotary:
            # q·cos + rotate_half(q)·sin, and the same for k: two multiplies an element
            macs_remarks.append(Remark("rotary_not_counted", {
                "multiplies": 2 * n * length * (h + kv) * d}))
        macs = count_step(
            "MACs", "N·L·E·(H·D + 2·Hkv·D) + N·L·H·D·E + N·H·L·L·2·D",
            f"{n}·{length}·{e}·({h}·{d} + 2·{kv}·{d}) + {n}·{length}·{h}·{d}·{e} + "
            f"{n}·{h}·{length}·{length}·2·{d}", self.macs(x, y), tuple(macs_remarks))
        return [params, macs]


class _Gated(Layer):
    """What the gated MLP and the mixture of its experts share."""

    family: ClassVar[str] = "linear"
    choices: ClassVar = {"activation": tuple(GATED_ACTIVATIONS)}

    def expert_params(self, e: int, e_out: int) -> dict[str, int]:
        """gate_proj and up_proj [F, E], down_proj [E_out, F], and their biases."""
        f = self.hidden_features
        tensors = {}
        for name, n_in, n_out in (("gate_proj", e, f), ("up_proj", e, f),
                                  ("down_proj", f, e_out)):
            tensors[f"{name}.weight"] = n_in * n_out
            if self.bias:
                tensors[f"{name}.bias"] = n_out
        return tensors

    def expert_formula(self, e: int, e_out: int, out: str = "E_out") -> tuple[str, str]:
        """An expert's parameters: in symbols, and with these numbers."""
        f = self.hidden_features
        if self.bias:
            return (f"2·(E + 1)·F + (F + 1)·{out}", f"2·({e} + 1)·{f} + ({f} + 1)·{e_out}")
        return f"2·E·F + F·{out}", f"2·{e}·{f} + {f}·{e_out}"


@register("gatedmlp")
@layer_type
class GatedMLP(_Gated):
    """Llama's MLP: down_proj(act(gate_proj(x)) · up_proj(x)) over the last dim; SiLU
    makes it SwiGLU, GELU GeGLU (Shazeer, "GLU Variants Improve Transformer")."""

    hidden_features: int
    activation: str = "silu"
    bias: bool = False
    in_features: int | None = None
    out_features: int | None = None    # None: in_features

    positive: ClassVar[tuple[str, ...]] = ("hidden_features", "in_features", "out_features")
    torch_class: ClassVar[str] = "GatedMLP"        # netcalc's own: torch_bridge/build.py

    def notation(self) -> str:
        return f"{GATED_ACTIVATIONS[self.activation]} mlp {self.hidden_features}"

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 1, "[..., in_features]")
        self.check_inferred("in_features", x[-1], "feature", " in its last dim")
        return (*x[:-1], self.out_features or x[-1])

    def params(self, x: Shape) -> dict[str, int]:
        return self.expert_params(x[-1], self.out_features or x[-1])

    def macs(self, x: Shape, y: Shape) -> int:
        """tokens·(2·E·F + F·E_out): gate and up project up, down projects back."""
        e, f, e_out = x[-1], self.hidden_features, y[-1]
        return prod(x[:-1]) * (2 * e * f + f * e_out)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.mixed((len(x) - 1,), f"a gated MLP over dim {len(x) - 1}")

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"in_features": x[-1]}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """x (gate_proj's and up_proj's input); the gate before and after its activation,
        up, and their product (down_proj's input): tokens·F each."""
        (x,) = xs
        return [Saved("input"), Saved("new", elements=4 * prod(x[:-1]) * self.hidden_features)]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        e, f, e_out = x[-1], self.hidden_features, y[-1]
        symbols, numbers = self.expert_formula(e, e_out)
        params = count_step("params", symbols, numbers, sum(self.params(x).values()),
                            () if self.bias else (Remark("no_bias"),))
        _, factors, tokens = _rows(x)
        macs = count_step("MACs", f"{tokens}(2·E·F + F·E_out)",
                          f"{factors}(2·{e}·{f} + {f}·{e_out})", self.macs(x, y),
                          (Remark("gated_product", {"multiplies": prod(x[:-1]) * f}),))
        return [params, macs]


@register("moe", "mixtureofexperts")
@layer_type
class MixtureOfExperts(_Gated):
    """Mixtral's sparse MoE block: a router `gate` [num_experts, E] scores the experts
    for each token; softmax; the top_k experts run on it, each a gated MLP, and their
    outputs are summed weighted by their probabilities renormalized to sum to 1.
    Every expert's parameters exist; a token uses top_k of them."""

    num_experts: int
    top_k: int
    hidden_features: int
    activation: str = "silu"
    bias: bool = False
    in_features: int | None = None

    positive: ClassVar[tuple[str, ...]] = ("num_experts", "top_k", "hidden_features",
                                           "in_features")
    torch_class: ClassVar[str] = "MixtureOfExperts"    # netcalc's own: torch_bridge/build.py

    def notation(self) -> str:
        return (f"moe {self.top_k} of {self.num_experts} "
                f"{GATED_ACTIVATIONS[self.activation]} experts {self.hidden_features}")

    def check_arguments(self) -> None:
        super().check_arguments()
        if self.top_k > self.num_experts:
            raise ShapeError(f"top_k={self.top_k} is more than the num_experts="
                             f"{self.num_experts} experts", arg="top_k")

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 1, "[..., in_features]")
        self.check_inferred("in_features", x[-1], "feature", " in its last dim")
        return x

    def _expert_params(self, e: int) -> int:
        return sum(self.expert_params(e, e).values())

    def params(self, x: Shape) -> dict[str, int]:
        e = x[-1]
        tensors = {"gate.weight": e * self.num_experts}
        for i in range(self.num_experts):
            tensors.update({f"experts.{i}.{name}": n
                            for name, n in self.expert_params(e, e).items()})
        return tensors

    def active_params(self, xs: tuple[Shape, ...]) -> int | None:
        """The router and top_k experts: what one token's forward reads."""
        e = xs[0][-1]
        return e * self.num_experts + self.top_k * self._expert_params(e)

    def macs(self, x: Shape, y: Shape) -> int:
        """tokens·E·X (the router) + tokens·top_k·3·E·F (the experts that run): each
        token's top_k experts run on it, whichever they are."""
        tokens, e, f = prod(x[:-1]), x[-1], self.hidden_features
        return tokens * e * self.num_experts + tokens * self.top_k * 3 * e * f

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.mixed((len(x) - 1,), f"a mixture of experts over dim {len(x) - 1}")

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"in_features": x[-1]}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """x (the router's input); the router's probabilities (tokens·X), its top_k
        values and their sum, in float32, and the chosen experts' indices (int64); then
        per token and chosen expert: its copy of the token, the expert's output and that
        weighted (3·E), the gated MLP's four tokens·F tensors, its weight, and the
        indices that routed it (int64, 2)."""
        (x,) = xs
        tokens, e, f = prod(x[:-1]), x[-1], self.hidden_features
        routed = tokens * self.top_k
        return [Saved("input"),
                Saved("new", elements=tokens * (self.num_experts + self.top_k + 1),
                      dtype="float32"),
                Saved("new", elements=3 * routed, dtype="int64"),
                Saved("new", elements=routed * (3 * e + 4 * f + 1))]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        e, f, k, experts = x[-1], self.hidden_features, self.top_k, self.num_experts
        symbols, numbers = self.expert_formula(e, e, out="E")
        total = sum(self.params(x).values())
        params = count_step("params", f"E·X + X·({symbols})", f"{e}·{experts} + {experts}·"
                            f"({numbers})", total,
                            (Remark("moe_active_params", {
                                "top_k": k, "experts": experts,
                                "active": self.active_params(xs), "total": total}),))
        tokens, factors, symbol = _rows(x)
        macs = count_step("MACs", f"{symbol}E·X + {symbol}top_k·3·E·F",
                          f"{factors}{e}·{experts} + {factors}{k}·3·{e}·{f}", self.macs(x, y),
                          (Remark("moe_active_macs", {"top_k": k, "experts": experts,
                                                      "idle": experts - k}),))
        return [params, macs]
