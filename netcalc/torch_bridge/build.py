"""Build torch modules from netcalc layers."""

from __future__ import annotations

from ..layers.base import Layer, Shape
from ..layers.tensor import TensorOp
from . import import_torch

# netcalc's own modules, for layers torch.nn has no class for. `export` writes
# this same source into its files, so both build the same module.
OWN_MODULES = {
    "LearnedTensor": '''\
class LearnedTensor(nn.Module):
    """A tensor of parameters that forward returns as it is (a class token, a
    position embedding, a layer scale): netcalc's `parameter` layer."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.weight = nn.Parameter(torch.empty(self.shape).normal_(std=0.02))

    def forward(self):
        return self.weight''',
    "PositionEmbedding": '''\
class PositionEmbedding(nn.Embedding):
    """A learned position table read at positions 0 .. L - 1 for an input of L along
    `dim` (GPT-2's wpe, BERT's position_embeddings): [1, L, embedding_dim], added to
    the tokens' embeddings; the input's values are not read."""

    def __init__(self, num_embeddings, embedding_dim, dim=-1):
        super().__init__(num_embeddings, embedding_dim)
        self.dim = dim

    def forward(self, x):
        positions = torch.arange(x.shape[self.dim], device=x.device)
        return super().forward(positions).unsqueeze(0)''',
    # -- the parts of an LLM (layers/transformer.py), after Hugging Face's Llama/Mixtral --
    "Attention": '''\
class Attention(nn.Module):
    """Self-attention as decoder LLMs build it (Hugging Face's LlamaAttention): q, k
    and v projections; rotary position embedding on q and k (its cos and sin computed
    from the positions on the fly: no buffers); scaled-dot-product attention of
    num_heads query heads sharing num_kv_heads key/value heads (GQA; 1: MQA); o_proj.
    Input and output [N, L, E]. netcalc's `attention` layer."""

    def __init__(self, num_heads, num_kv_heads=None, head_dim=None, bias=False,
                 out_bias=None, is_causal=False, rotary=False, rope_theta=10000.0,
                 sliding_window=None, dropout=0.0, embed_dim=None):
        super().__init__()
        if embed_dim is None:
            raise ValueError("Attention needs embed_dim, the input's last dim")
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.bias, self.out_bias, self.embed_dim = bias, out_bias, embed_dim
        self.is_causal, self.rotary, self.dropout = is_causal, rotary, dropout
        self.rope_theta, self.sliding_window = rope_theta, sliding_window
        kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        dim = embed_dim // num_heads if head_dim is None else head_dim
        self.q_proj = nn.Linear(embed_dim, num_heads * dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, kv_heads * dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, kv_heads * dim, bias=bias)
        self.o_proj = nn.Linear(num_heads * dim, embed_dim,
                                bias=bias if out_bias is None else out_bias)

    def forward(self, x):
        length = x.shape[1]
        q = self.q_proj(x).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        k = self.k_proj(x).unflatten(-1, (-1, q.shape[-1])).transpose(1, 2)
        v = self.v_proj(x).unflatten(-1, (-1, q.shape[-1])).transpose(1, 2)
        if self.rotary:
            cos, sin = self.rotary_embedding(length, q.shape[-1], x, self.rope_theta)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
        # a sliding window: query i sees the keys less than W positions away (causal:
        # i - W + 1 .. i), as a mask, which the math path applies to all L×L scores
        mask, causal = None, self.is_causal
        if self.sliding_window is not None and length > self.sliding_window:
            position = torch.arange(length, device=x.device)
            apart = position[:, None] - position[None, :]       # query's minus key's
            mask = ((apart >= 0) & (apart < self.sliding_window) if causal
                    else apart.abs() < self.sliding_window)
            causal = False
        # enable_gqa: each key/value head serves num_heads / num_kv_heads query heads
        y = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal, enable_gqa=True)
        return self.o_proj(y.transpose(1, 2).flatten(2))

    @staticmethod
    def rotary_embedding(length, dim, x, theta=10000.0):
        """cos and sin of each position times each of dim/2 frequencies (RoFormer's)."""
        inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, device=x.device).float() / dim)
        freqs = torch.arange(length, device=x.device).float()[:, None] * inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(x.dtype), angles.sin().to(x.dtype)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)''',
    "GatedMLP": '''\
class GatedMLP(nn.Module):
    """A gated MLP as Hugging Face's LlamaMLP: down_proj(act(gate_proj(x)) * up_proj(x)),
    with SiLU (SwiGLU) or GELU (GeGLU). netcalc's `gatedmlp` layer."""

    def __init__(self, hidden_features, activation="silu", bias=False, in_features=None,
                 out_features=None):
        super().__init__()
        if in_features is None:
            raise ValueError("GatedMLP needs in_features, the input's last dim")
        self.hidden_features, self.activation, self.bias = hidden_features, activation, bias
        self.in_features, self.out_features = in_features, out_features
        self.gate_proj = nn.Linear(in_features, hidden_features, bias=bias)
        self.up_proj = nn.Linear(in_features, hidden_features, bias=bias)
        self.down_proj = nn.Linear(hidden_features, out_features or in_features, bias=bias)
        self.act_fn = {"silu": nn.SiLU, "gelu": nn.GELU,
                       "gelu_tanh": lambda: nn.GELU(approximate="tanh")}[activation]()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))''',
    "MixtureOfExperts": '''\
class MixtureOfExperts(nn.Module):
    """A sparse mixture of gated-MLP experts as Hugging Face's Mixtral: the router `gate`
    scores the experts for each token; softmax; the top_k run on it, their outputs
    weighted by the top_k probabilities renormalized to sum to 1. Each expert runs on
    the tokens routed to it, and only those. netcalc's `moe` layer.

    On meta tensors, which hold no values to route by, the tokens are dealt to the
    experts evenly, top_k each: the same work, so the same MACs."""

    class Expert(nn.Module):
        def __init__(self, in_features, hidden_features, activation, bias):
            super().__init__()
            self.gate_proj = nn.Linear(in_features, hidden_features, bias=bias)
            self.up_proj = nn.Linear(in_features, hidden_features, bias=bias)
            self.down_proj = nn.Linear(hidden_features, in_features, bias=bias)
            self.act_fn = {"silu": nn.SiLU, "gelu": nn.GELU,
                           "gelu_tanh": lambda: nn.GELU(approximate="tanh")}[activation]()

        def forward(self, x):
            return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))

    def __init__(self, num_experts, top_k, hidden_features, activation="silu", bias=False,
                 in_features=None):
        super().__init__()
        if in_features is None:
            raise ValueError("MixtureOfExperts needs in_features, the input's last dim")
        self.num_experts, self.top_k, self.hidden_features = num_experts, top_k, hidden_features
        self.activation, self.bias, self.in_features = activation, bias, in_features
        self.gate = nn.Linear(in_features, num_experts, bias=False)
        self.experts = nn.ModuleList(
            self.Expert(in_features, hidden_features, activation, bias)
            for _ in range(num_experts))

    def forward(self, x):
        tokens = x.reshape(-1, x.shape[-1])
        probabilities = self.gate(tokens).softmax(dim=-1, dtype=torch.float)
        weights, chosen = probabilities.topk(self.top_k, dim=-1)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(x.dtype)
        y = tokens.new_zeros(tokens.shape)
        for index, expert in enumerate(self.experts):
            if x.is_meta:
                dealt = len(tokens) * self.top_k
                count = dealt // self.num_experts + (index < dealt % self.num_experts)
                y[:count] += expert(tokens[:count]) * weights[:count, :1]
                continue
            token, slot = torch.where(chosen == index)
            y.index_add_(0, token, expert(tokens[token]) * weights[token, slot, None])
        return y.reshape(x.shape)''',
}


def build_layer(layer: Layer, input_shapes: tuple[Shape, ...]):
    """The torch module equivalent to `layer` for inputs of these shapes."""
    torch = import_torch()
    if isinstance(layer, TensorOp):
        return _tensor_op_module(torch)(layer)
    x = input_shapes[0] if input_shapes else ()
    if layer.torch_class in OWN_MODULES:
        return own_module(torch, layer.torch_class)(**layer.arguments(x))
    return layer.torch_module(torch.nn, x)


_BUILT: dict[str, type] = {}


def own_module(torch, name: str) -> type:
    """The class OWN_MODULES[name] defines."""
    if name not in _BUILT:
        namespace = {"torch": torch, "nn": torch.nn}
        exec(OWN_MODULES[name], namespace)      # our own constant source, as export writes it
        _BUILT[name] = namespace[name]
    return _BUILT[name]


def _tensor_op_module(torch):
    """A module that runs a TensorOp's `torch_forward` (torch.cat, x + y, ...)."""
    if "TensorOpModule" not in _BUILT:
        class TensorOpModule(torch.nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer

            def forward(self, *xs):
                return self.layer.torch_forward(torch, *xs)

            def extra_repr(self) -> str:
                return repr(self.layer)

        _BUILT["TensorOpModule"] = TensorOpModule
    return _BUILT["TensorOpModule"]
