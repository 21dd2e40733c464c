"""Reference language models in plain torch, written as transformers' source
(5.25) builds them, so the default suite checks the LLM specs without
transformers: GPT2LMHeadModel, BertModel, LlamaForCausalLM, MistralForCausalLM
and MixtralForCausalLM. Module and parameter names are transformers' own
(`transformer.h.0.attn.c_attn.weight`, `model.layers.0.self_attn.q_proj.weight`).

Each model takes a small config dataclass whose defaults are the published
model's; tests build the full ones on the meta device and small ones on the
CPU. Attention is `F.scaled_dot_product_attention`, as transformers' default
"sdpa" implementation calls it: on torch's math path (netcalc's
`countable_attention`) FlopCounterMode counts Q·Kᵀ and A·V in full, the
causal mask notwithstanding.

What transformers does that changes no parameter or counted MAC is left out:
caches, attention masks, output records, weight initialisation schemes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


def _attend(q, k, v, *, is_causal: bool, num_key_value_groups: int = 1):
    """transformers' sdpa_attention_forward without a mask: key and value heads
    repeated for GQA (repeat_kv), then one scaled_dot_product_attention."""
    if num_key_value_groups > 1:
        k = _repeat_kv(k, num_key_value_groups)
        v = _repeat_kv(v, num_key_value_groups)
    return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal and q.shape[2] > 1)


def _repeat_kv(x, n_rep: int):
    batch, heads, length, head_dim = x.shape
    x = x[:, :, None, :, :].expand(batch, heads, n_rep, length, head_dim)
    return x.reshape(batch, heads * n_rep, length, head_dim)


# -- GPT-2 -----------------------------------------------------------------------------

@dataclass(frozen=True)
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None          # None: 4 · n_embd
    layer_norm_epsilon: float = 1e-5


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: a linear layer whose weight is stored
    [in, out] (OpenAI's layout), computed with addmm."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)

    def forward(self, hidden_states):
        q, k, v = self.c_attn(hidden_states).split(self.embed_dim, dim=2)
        shape = (*hidden_states.shape[:-1], -1, self.head_dim)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        y = _attend(q, k, v, is_causal=True)
        y = y.transpose(1, 2).reshape(*hidden_states.shape[:-1], -1).contiguous()
        return self.resid_dropout(self.c_proj(y))


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size: int, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, intermediate_size)
        # "gelu_new": transformers writes the tanh formula out (NewGELUActivation);
        # torch's own tanh approximation is the same function
        self.act = nn.GELU(approximate="tanh")
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config.n_inner or 4 * config.n_embd, config)

    def forward(self, x):
        x = self.attn(self.ln_1(x)) + x
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList([GPT2Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(self, input_ids):
        position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    """GPT-2 with its language-model head, whose weight is the token embedding's."""

    def __init__(self, config: GPT2Config = GPT2Config()):
        super().__init__()
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight        # tied: one tensor

    def forward(self, input_ids):
        return self.lm_head(self.transformer(input_ids))


# -- BERT ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings,
                                                config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)
        # transformers' non-persistent buffers: 0, 1, ... and the token types (all 0)
        positions = torch.arange(config.max_position_embeddings).expand((1, -1))
        self.register_buffer("position_ids", positions, persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(positions.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids):
        length = input_ids.shape[1]
        position_ids = self.position_ids[:, :length]
        token_type_ids = self.token_type_ids[:, :length].expand(input_ids.shape[0], length)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        shape = (*x.shape[:-1], -1, self.attention_head_size)
        q, k, v = (proj(x).view(shape).transpose(1, 2)
                   for proj in (self.query, self.key, self.value))
        y = _attend(q, k, v, is_causal=False)
        return y.transpose(1, 2).reshape(*x.shape[:-1], -1).contiguous()


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(x)) + input_tensor)


BertOutput = BertSelfOutput           # the same dense, dropout, add and norm


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, x):
        return self.output(self.self(x), x)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = nn.GELU()                # "gelu": the exact one

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertLayer(nn.Module):
    """Post-norm: x = norm(x + attention(x)); x = norm(x + mlp(x))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config, config.intermediate_size)

    def forward(self, x):
        x = self.attention(x)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x):
        return self.activation(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """BERT with its pooler; returns (last_hidden_state, pooler_output)."""

    def __init__(self, config: BertConfig = BertConfig()):
        super().__init__()
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)

    def forward(self, input_ids):
        sequence = self.encoder(self.embeddings(input_ids))
        return sequence, self.pooler(sequence)


# -- Llama, Mistral --------------------------------------------------------------------

@dataclass(frozen=True)
class LlamaConfig:
    """Llama 2 7B's; Mistral 7B's by MISTRAL_7B (GQA, a wider MLP), Mixtral 8x7B's by
    MIXTRAL_8X7B."""
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 32
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    num_local_experts: int = 0         # Mixtral: experts per layer (0: a dense MLP)
    num_experts_per_tok: int = 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


LLAMA2_7B = LlamaConfig()
MISTRAL_7B = replace(LLAMA2_7B, intermediate_size=14336, num_key_value_heads=8)
MIXTRAL_8X7B = replace(MISTRAL_7B, rope_theta=1e6, num_local_experts=8, num_experts_per_tok=2)


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        input_dtype = x.dtype
        x = x.to(torch.float32)
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * x.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    """cos and sin of the positions at head_dim / 2 frequencies, shared by all layers.
    Its two buffers (inv_freq and a copy) are transformers' non-persistent ones."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        dim = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("original_inv_freq", inv_freq.clone(), persistent=False)

    def forward(self, x, position_ids):
        # transformers 5 multiplies elementwise (4.x ran a matmul here, which
        # FlopCounterMode counted: head_dim / 2 · L MACs more)
        freqs = position_ids[..., None].float() * self.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def _rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


class LlamaAttention(nn.Module):
    """Causal attention without biases; num_key_value_heads < num_attention_heads is
    grouped-query attention (Mistral's 8 key/value heads for 32 query heads)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.q_proj = nn.Linear(config.hidden_size, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, config.hidden_size, bias=False)

    def forward(self, x, position_embeddings):
        shape = (*x.shape[:-1], -1, self.head_dim)
        q = self.q_proj(x).view(shape).transpose(1, 2)
        k = self.k_proj(x).view(shape).transpose(1, 2)
        v = self.v_proj(x).view(shape).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, *position_embeddings)
        y = _attend(q, k, v, is_causal=True, num_key_value_groups=self.num_key_value_groups)
        return self.o_proj(y.transpose(1, 2).reshape(*x.shape[:-1], -1).contiguous())


class LlamaMLP(nn.Module):
    """SwiGLU: down_proj(silu(gate_proj(x)) · up_proj(x))."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


# -- Mixtral's sparse mixture of experts -------------------------------------------------

class MixtralTopKRouter(nn.Module):
    """The gate: a bias-free linear map to one logit per expert; the top k of their
    softmax, renormalised, weigh the chosen experts."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.weight = nn.Parameter(torch.empty(config.num_local_experts, config.hidden_size))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        logits = F.linear(x, self.weight)
        probs = F.softmax(logits.float(), dim=-1)
        top_value, top_index = torch.topk(probs, self.top_k, dim=-1)
        return top_value / top_value.sum(dim=-1, keepdim=True), top_index


class MixtralExperts(nn.Module):
    """The experts' weights as transformers 5 stores them, one 3-D tensor for all the
    gate and up projections, one for the down ones; each expert runs on the tokens
    routed to it ("eager" experts implementation)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.num_experts = config.num_local_experts
        experts, hidden, intermediate = (config.num_local_experts, config.hidden_size,
                                         config.intermediate_size)
        self.gate_up_proj = nn.Parameter(torch.empty(experts, 2 * intermediate, hidden))
        self.down_proj = nn.Parameter(torch.empty(experts, hidden, intermediate))
        nn.init.normal_(self.gate_up_proj, std=0.02)
        nn.init.normal_(self.down_proj, std=0.02)
        self.act_fn = nn.SiLU()

    def forward(self, x, top_k_index, top_k_weights):
        out = torch.zeros_like(x)
        expert_mask = F.one_hot(top_k_index, num_classes=self.num_experts).permute(2, 1, 0)
        for expert in range(self.num_experts):
            top_k_pos, token_idx = torch.where(expert_mask[expert])
            if token_idx.numel() == 0:
                continue
            gate, up = F.linear(x[token_idx], self.gate_up_proj[expert]).chunk(2, dim=-1)
            y = F.linear(self.act_fn(gate) * up, self.down_proj[expert])
            out.index_add_(0, token_idx, y * top_k_weights[token_idx, top_k_pos, None])
        return out


class MixtralSparseMoeBlock(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate = MixtralTopKRouter(config)
        self.experts = MixtralExperts(config)

    def forward(self, x):
        batch, length, hidden = x.shape
        x = x.view(-1, hidden)
        weights, index = self.gate(x)
        return self.experts(x, index, weights).reshape(batch, length, hidden)


# -- the decoder -------------------------------------------------------------------------

class LlamaDecoderLayer(nn.Module):
    """Pre-norm: x + attention(norm(x)), then x + mlp(norm(x)); Mixtral's mlp is the
    sparse mixture of experts."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.self_attn = LlamaAttention(config)
        self.mlp = MixtralSparseMoeBlock(config) if config.num_local_experts else LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, x, position_embeddings):
        x = x + self.self_attn(self.input_layernorm(x), position_embeddings)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config)
                                     for _ in range(config.num_hidden_layers)])
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(config)

    def forward(self, input_ids):
        x = self.embed_tokens(input_ids)
        position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        position_embeddings = self.rotary_emb(x, position_ids)
        for layer in self.layers:
            x = layer(x, position_embeddings)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    """Llama (and, by config, Mistral and Mixtral) with an untied language-model head."""

    def __init__(self, config: LlamaConfig = LLAMA2_7B):
        super().__init__()
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def forward(self, input_ids):
        return self.lm_head(self.model(input_ids))


def mistral_7b(config: LlamaConfig = MISTRAL_7B) -> LlamaForCausalLM:
    return LlamaForCausalLM(config)


def mixtral_8x7b(config: LlamaConfig = MIXTRAL_8X7B) -> LlamaForCausalLM:
    return LlamaForCausalLM(config)


# -- counts by formula, for the docs and the MoE ---------------------------------------------

def moe_macs_per_token(config: LlamaConfig) -> int:
    """A token's MACs in one sparse MoE layer, whatever the routing: the router's
    hidden · experts, and for each of its top k experts the gate, up and down
    projections, 3 · hidden · intermediate. (Each token goes to exactly k distinct
    experts, so the total over a sequence does not depend on the data.)"""
    return config.hidden_size * (config.num_local_experts
                                 + config.num_experts_per_tok * 3 * config.intermediate_size)


def active_params(config: LlamaConfig) -> int:
    """Mixtral's parameters a token uses: all but the experts it is not routed to."""
    total = sum(p.numel() for p in _meta(LlamaForCausalLM, config).parameters())
    unused = config.num_local_experts - config.num_experts_per_tok
    return total - config.num_hidden_layers * unused * 3 * config.hidden_size \
        * config.intermediate_size


def _meta(factory, *args):
    with torch.device("meta"):
        return factory(*args)

