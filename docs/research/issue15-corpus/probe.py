#!/usr/bin/env python3
"""Corpus probe for netcalc issue 15: capture public models with torch.export on
the meta device and record torch's own figures (params, buffers, MACs from
FlopCounterMode, output shapes) plus an ATen-op census.

Usage (inside /tmp/corpus/venv):
    python probe.py                      # whole corpus -> results.json
    python probe.py --only resnet18,gpt2 # subset (writes results_partial.json unless --out)
    python probe.py --no-eager           # skip the CPU eager ground-truth runs
    python probe.py --fresh NAME         # one model, meta only, in THIS process (clean RSS incl. imports)

Each model runs in a forked child (the parent imports torch/timm/transformers/
torchvision once and never computes), with a wall-clock timeout; the child sends
partial results after every stage, so a hang or crash still leaves what it got.
"""
import warnings
warnings.filterwarnings("ignore", category=FutureWarning)
import argparse
import gc
import json
import multiprocessing as mp
import os
import re
import resource
import sys
import time
import traceback
from collections import Counter

import tvshim  # noqa: F401  must precede timm/torchvision (see tvshim.py)
import torch
import torch.fx
import torch.utils._pytree as pytree
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode, flop_registry

import timm
import torchvision
import transformers
from transformers import (AutoModel, AutoModelForCausalLM, AutoModelForImageClassification,
                          AutoModelForSeq2SeqLM, AutoModelForSpeechSeq2Seq)

HERE = os.path.dirname(os.path.abspath(__file__))
META_TIMEOUT = 120   # s per model, meta stage (export + core decomposition + flop runs)
EAGER_TIMEOUT = 120  # s per model, CPU eager ground truth
EAGER_MAX_PARAMS = 1_200_000_000
SEQ = 128

# ----------------------------------------------------------------------------- corpus


def img(shape=(1, 3, 224, 224)):
    return torch.randn(*shape)


def ids(vocab, n=SEQ):
    return torch.randint(0, vocab, (1, n), dtype=torch.int64)


def timm_spec(name, family):
    def build():
        m = timm.create_model(name, pretrained=False)
        size = tuple(m.pretrained_cfg.get("input_size", (3, 224, 224)))
        return m, (img((1,) + size),), {}
    return dict(name=name, family=family, source="timm", build=build, ref=f"timm.create_model('{name}')")


def tv_spec(name, family, shape=(1, 3, 224, 224), sub=None, attr=None, extra=None):
    extra = extra or {}

    def build():
        mod = torchvision.models
        if sub:
            mod = getattr(mod, sub)
        m = getattr(mod, name)(weights=None, **extra)
        if attr:
            m = getattr(m, attr)
        x = img(shape)
        if family == "detection" and not attr:
            return m, ([x[0]],), {}
        return m, (x,), {}
    ref = f"torchvision.models.{sub + '.' if sub else ''}{name}(weights=None{''.join(f', {k}={v!r}' for k, v in extra.items())}){'.' + attr if attr else ''}"
    label = "tv_" + name + (("." + attr) if attr else "")
    return dict(name=label, family=family, source="torchvision", build=build, ref=ref)


def hf_spec(name, family, cfg_cls, cfg_kwargs, auto, kind="text", ref="", fc_kwargs=None):
    fc_kwargs = fc_kwargs or {}

    def build():
        cfg = getattr(transformers, cfg_cls)(**cfg_kwargs)
        m = auto.from_config(cfg, **fc_kwargs)
        if kind == "text":
            return m, (), {"input_ids": ids(cfg.vocab_size)}
        if kind == "seq2seq":
            return m, (), {"input_ids": ids(cfg.vocab_size), "decoder_input_ids": ids(cfg.vocab_size)}
        if kind == "image":
            return m, (), {"pixel_values": img()}
        if kind == "whisper":
            return m, (), {"input_features": torch.randn(1, cfg.num_mel_bins, 3000),
                           "decoder_input_ids": ids(cfg.vocab_size)}
        raise ValueError(kind)
    fck = "".join(f", {k}={v!r}" for k, v in fc_kwargs.items())
    return dict(name=name, family=family, source="transformers", build=build,
                ref=ref or f"{auto.__name__}.from_config({cfg_cls}(...){fck})", cfg=cfg_kwargs)


NC = dict(use_cache=False)
LLAMA2_7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                 rms_norm_eps=1e-5, **NC)
TINYLLAMA = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                 num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                 rms_norm_eps=1e-5, **NC)

MIXTRAL_SMALL = dict(vocab_size=32000, hidden_size=512, intermediate_size=1792, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=4, num_local_experts=8,
                     num_experts_per_tok=2, max_position_embeddings=4096, **NC)
MIXTRAL_8X7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=8, num_local_experts=8,
                    num_experts_per_tok=2, max_position_embeddings=32768, rms_norm_eps=1e-5, **NC)

CORPUS = [
    # --- CNNs (timm)
    timm_spec("resnet18", "cnn"),
    timm_spec("resnet50", "cnn"),
    timm_spec("resnext50_32x4d", "cnn"),
    timm_spec("efficientnet_b0", "cnn"),
    timm_spec("tf_efficientnetv2_s", "cnn"),
    timm_spec("mobilenetv3_large_100", "cnn"),
    timm_spec("mnasnet_100", "cnn"),
    timm_spec("convnext_tiny", "cnn"),
    timm_spec("regnety_016", "cnn"),
    timm_spec("densenet121", "cnn"),
    timm_spec("res2net50_26w_4s", "cnn"),
    timm_spec("hrnet_w18_small", "cnn"),
    timm_spec("dla34", "cnn"),
    timm_spec("vgg16", "cnn"),
    timm_spec("ghostnet_100", "cnn"),
    timm_spec("inception_v3", "cnn"),
    timm_spec("repvgg_a2", "cnn"),
    timm_spec("cspdarknet53", "cnn"),
    timm_spec("rexnet_100", "cnn"),
    timm_spec("eca_nfnet_l0", "cnn"),
    timm_spec("dpn68", "cnn"),
    timm_spec("tresnet_m", "cnn"),
    # --- ViT family (timm)
    timm_spec("vit_base_patch16_224", "vit"),
    timm_spec("deit_small_patch16_224", "vit"),
    timm_spec("swin_tiny_patch4_window7_224", "vit"),
    timm_spec("beit_base_patch16_224", "vit"),
    timm_spec("eva02_tiny_patch14_224", "vit"),
    timm_spec("pit_ti_224", "vit"),
    timm_spec("cait_xxs24_224", "vit"),
    timm_spec("xcit_tiny_12_p16_224", "vit"),
    timm_spec("pvt_v2_b0", "vit"),
    # --- hybrids (timm)
    timm_spec("mobilevit_s", "hybrid"),
    timm_spec("coatnet_0_rw_224", "hybrid"),
    timm_spec("maxvit_tiny_tf_224", "hybrid"),
    timm_spec("levit_128", "hybrid"),
    timm_spec("efficientformer_l1", "hybrid"),
    timm_spec("fastvit_t8", "hybrid"),
    timm_spec("poolformer_s12", "hybrid"),
    # --- MLP mixers (timm)
    timm_spec("mixer_b16_224", "mlp"),
    timm_spec("resmlp_12_224", "mlp"),
    timm_spec("gmlp_s16_224", "mlp"),
    # --- torchvision classification
    tv_spec("resnet18", "cnn"),
    tv_spec("googlenet", "cnn", extra={"init_weights": True}),
    tv_spec("squeezenet1_1", "cnn"),
    tv_spec("shufflenet_v2_x1_0", "cnn"),
    tv_spec("regnet_y_400mf", "cnn"),
    tv_spec("vit_b_16", "vit"),
    tv_spec("swin_t", "vit"),
    tv_spec("maxvit_t", "hybrid"),
    # --- segmentation (torchvision)
    tv_spec("deeplabv3_mobilenet_v3_large", "segmentation", sub="segmentation", extra={"weights_backbone": None}),
    tv_spec("fcn_resnet50", "segmentation", sub="segmentation", extra={"weights_backbone": None}),
    tv_spec("lraspp_mobilenet_v3_large", "segmentation", sub="segmentation", extra={"weights_backbone": None}),
    # --- video (torchvision)
    tv_spec("r3d_18", "video", shape=(1, 3, 16, 112, 112), sub="video"),
    tv_spec("r2plus1d_18", "video", shape=(1, 3, 16, 112, 112), sub="video"),
    tv_spec("s3d", "video", shape=(1, 3, 16, 224, 224), sub="video"),
    tv_spec("mvit_v2_s", "video", shape=(1, 3, 16, 224, 224), sub="video"),
    # --- detection (torchvision)
    tv_spec("fasterrcnn_resnet50_fpn", "detection", sub="detection", attr="backbone", extra={"weights_backbone": None}),
    tv_spec("fasterrcnn_mobilenet_v3_large_320_fpn", "detection", sub="detection", extra={"weights_backbone": None}),
    tv_spec("ssdlite320_mobilenet_v3_large", "detection", sub="detection", extra={"weights_backbone": None}),
    # --- optical flow (torchvision, two-image input)
    dict(name="tv_raft_small", family="flow", source="torchvision", ref="torchvision.models.optical_flow.raft_small(weights=None)",
         build=lambda: (torchvision.models.optical_flow.raft_small(weights=None), (img(), img()), {})),
    # --- transformers: encoders
    hf_spec("hf_bert_base", "text-encoder", "BertConfig", {}, AutoModel, ref="AutoModel.from_config(BertConfig()) = bert-base-uncased"),
    hf_spec("hf_roberta_base", "text-encoder", "RobertaConfig",
            dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1), AutoModel),
    hf_spec("hf_distilbert_base", "text-encoder", "DistilBertConfig", {}, AutoModel),
    hf_spec("hf_albert_base", "text-encoder", "AlbertConfig",
            dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072), AutoModel),
    hf_spec("hf_deberta_v3_small", "text-encoder", "DebertaV2Config",
            dict(vocab_size=128100, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, relative_attention=True,
                 position_buckets=256, pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                 norm_rel_ebd="layer_norm", share_att_key=True, type_vocab_size=0, position_biased_input=False),
            AutoModel),
    # --- transformers: decoders
    hf_spec("hf_gpt2", "text-decoder", "GPT2Config", dict(**NC), AutoModelForCausalLM, ref="AutoModelForCausalLM.from_config(GPT2Config()) = gpt2 (124M)"),
    hf_spec("hf_opt_125m", "text-decoder", "OPTConfig", dict(**NC), AutoModelForCausalLM),
    hf_spec("hf_pythia_160m", "text-decoder", "GPTNeoXConfig",
            dict(vocab_size=50304, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, rotary_pct=0.25, use_parallel_residual=True,
                 tie_word_embeddings=False, max_position_embeddings=2048, **NC), AutoModelForCausalLM),
    hf_spec("hf_tinyllama_1.1b", "text-decoder", "LlamaConfig", TINYLLAMA, AutoModelForCausalLM),
    hf_spec("hf_llama2_7b", "text-decoder", "LlamaConfig", LLAMA2_7B, AutoModelForCausalLM),
    hf_spec("hf_mistral_7b", "text-decoder", "MistralConfig",
            dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
                 sliding_window=4096, rms_norm_eps=1e-5, **NC), AutoModelForCausalLM),
    hf_spec("hf_qwen2_0.5b", "text-decoder", "Qwen2Config",
            dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                 rope_theta=1e6, tie_word_embeddings=True, rms_norm_eps=1e-6, **NC), AutoModelForCausalLM),
    hf_spec("hf_gemma_2b", "text-decoder", "GemmaConfig",
            dict(vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                 num_attention_heads=8, num_key_value_heads=1, head_dim=256, **NC), AutoModelForCausalLM),
    hf_spec("hf_phi2", "text-decoder", "PhiConfig",
            dict(vocab_size=51200, hidden_size=2560, intermediate_size=10240, num_hidden_layers=32,
                 num_attention_heads=32, partial_rotary_factor=0.4, **NC), AutoModelForCausalLM),
    hf_spec("hf_mixtral_small", "text-decoder-moe", "MixtralConfig", MIXTRAL_SMALL, AutoModelForCausalLM,
            ref="AutoModelForCausalLM.from_config(MixtralConfig(small)) [default experts_implementation]"),
    hf_spec("hf_mixtral_small_batched_mm", "text-decoder-moe", "MixtralConfig", MIXTRAL_SMALL, AutoModelForCausalLM,
            fc_kwargs={"experts_implementation": "batched_mm"}),
    hf_spec("hf_mixtral_small_eager_experts", "text-decoder-moe", "MixtralConfig", MIXTRAL_SMALL, AutoModelForCausalLM,
            fc_kwargs={"experts_implementation": "eager"}),
    hf_spec("hf_mixtral_8x7b", "text-decoder-moe", "MixtralConfig", MIXTRAL_8X7B, AutoModelForCausalLM,
            ref="AutoModelForCausalLM.from_config(MixtralConfig(8x7B)) [default experts_implementation]"),
    hf_spec("hf_mixtral_8x7b_batched_mm", "text-decoder-moe", "MixtralConfig", MIXTRAL_8X7B, AutoModelForCausalLM,
            fc_kwargs={"experts_implementation": "batched_mm"}),
    # --- transformers: encoder-decoder
    hf_spec("hf_t5_small", "text-enc-dec", "T5Config",
            dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
                 feed_forward_proj="relu", tie_word_embeddings=True, **NC), AutoModelForSeq2SeqLM, kind="seq2seq"),
    hf_spec("hf_bart_base", "text-enc-dec", "BartConfig",
            dict(vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
                 decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072,
                 max_position_embeddings=1024, **NC), AutoModelForSeq2SeqLM, kind="seq2seq"),
    hf_spec("hf_whisper_tiny", "audio-enc-dec", "WhisperConfig",
            dict(vocab_size=51865, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
                 encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536,
                 decoder_ffn_dim=1536, max_source_positions=1500, max_target_positions=448, **NC),
            AutoModelForSpeechSeq2Seq, kind="whisper"),
    # --- transformers: vision
    hf_spec("hf_vit_base", "vit", "ViTConfig", dict(num_labels=1000), AutoModelForImageClassification, kind="image"),
    hf_spec("hf_swin_tiny", "vit", "SwinConfig", dict(num_labels=1000), AutoModelForImageClassification, kind="image"),
]
BY_NAME = {s["name"]: s for s in CORPUS}

# ----------------------------------------------------------------------------- helpers


def rss_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to current RSS
    except OSError:
        pass


def short_dtype(dt):
    return {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.int64: "i64",
            torch.int32: "i32", torch.bool: "bool", torch.float64: "f64"}.get(dt, str(dt).replace("torch.", ""))


def describe(o):
    """JSON-able nested structure of an output."""
    if isinstance(o, torch.Tensor):
        return f"{short_dtype(o.dtype)}{list(o.shape)}"
    if isinstance(o, dict):
        d = {"__type__": type(o).__name__}
        d.update({str(k): describe(v) for k, v in o.items() if v is not None})
        return d
    if isinstance(o, (list, tuple)):
        return [describe(x) for x in o]
    if o is None:
        return None
    return type(o).__name__


def flat_leaves(o, prefix="out"):
    """['out.logits: f32[1, 1000]', ...] in a stable order."""
    res = []
    if isinstance(o, torch.Tensor):
        res.append(f"{prefix}: {short_dtype(o.dtype)}{list(o.shape)}")
    elif isinstance(o, dict):
        for k, v in o.items():
            if v is not None:
                res += flat_leaves(v, f"{prefix}.{k}")
    elif isinstance(o, (list, tuple)):
        for i, v in enumerate(o):
            res += flat_leaves(v, f"{prefix}[{i}]")
    elif o is not None:
        res.append(f"{prefix}: {type(o).__name__}")
    return res


USER_CODE = re.compile(r"site-packages/(timm|transformers|torchvision)/")


def err_info(e):
    tb = traceback.extract_tb(e.__traceback__)
    loc = None
    for fr in reversed(tb):
        if USER_CODE.search(fr.filename):
            loc = f"{fr.filename.split('site-packages/')[-1]}:{fr.lineno} in {fr.name}: {(fr.line or '').strip()}"
            break
    msg = str(e)
    # export errors carry the user frame in the message text
    m = None
    for mm in re.finditer(r'File "?([^",\n]*site-packages/(?:timm|transformers|torchvision)/[^",\n]+)"?, line (\d+)', msg):
        m = mm
    msg_loc = f"{m.group(1).split('site-packages/')[-1]}:{m.group(2)}" if m else None
    first = next((ln for ln in msg.splitlines() if ln.strip()), "")
    return {"type": type(e).__name__, "first_line": first[:400], "user_frame": loc, "msg_user_frame": msg_loc,
            "tail": "".join(traceback.format_exception_only(type(e), e))[-1500:]}


def op_name(target):
    if isinstance(target, torch._ops.OpOverload):
        return str(target)  # e.g. aten.convolution.default
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.name()}"
    mod = getattr(target, "__module__", "") or ""
    return f"{mod}.{getattr(target, '__name__', repr(target))}"


def in_registry(target):
    pk = getattr(target, "overloadpacket", None)
    return pk is not None and pk in flop_registry


class FlopAttr(torch.fx.Interpreter):
    """Runs an exported graph node by node, attributing FlopCounterMode flops to each graph op."""

    def __init__(self, gm, fc):
        super().__init__(gm)
        self.fc = fc
        self.flops = Counter()

    def run_node(self, n):
        if n.op != "call_function":
            return super().run_node(n)
        before = self.fc.get_total_flops()
        r = super().run_node(n)
        self.flops[op_name(n.target)] += self.fc.get_total_flops() - before
        return r


def census(ep):
    cnt = Counter()
    reg = {}
    for n in ep.graph.nodes:
        if n.op == "call_function":
            k = op_name(n.target)
            cnt[k] += 1
            reg[k] = in_registry(n.target)
    return cnt, reg


def flop_attr(ep, args, kwargs):
    flat = ep._graph_module_flat_inputs(args, kwargs)
    fc = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), fc:
        it = FlopAttr(ep.graph_module, fc)
        it.run(*flat, enable_io_processing=False)
    return fc.get_total_flops(), dict(it.flops)


def ep_param_counts(ep):
    sig = ep.graph_signature
    seen = set()
    p = 0
    for n in sig.parameters:
        t = ep.state_dict[n]
        if id(t) not in seen:
            seen.add(id(t))
            p += t.numel()
    b = 0
    for n in sig.buffers:
        t = ep.state_dict[n] if n in ep.state_dict else ep.constants[n]
        b += t.numel()
    c = sum(v.numel() for v in ep.constants.values() if isinstance(v, torch.Tensor)) - sum(
        ep.constants[n].numel() for n in sig.buffers if n in ep.constants)
    return p, len(sig.parameters), b, len(sig.buffers), c


def module_counts(m):
    p = sum(t.numel() for t in m.parameters())  # parameters() dedups tied weights
    b = sum(t.numel() for t in m.buffers())
    return p, b

# ----------------------------------------------------------------------------- stages


def run_meta(spec, send, core=True):
    t0 = time.perf_counter()
    r = {"build_mode": "meta"}
    try:
        with torch.device("meta"):
            torch.manual_seed(0)
            model, args, kwargs = spec["build"]()
    except Exception as e:  # noqa: BLE001
        # architecture computed with tensor math at __init__ (e.g. torchvision RegNet .tolist()):
        # fall back to a CPU build moved to meta; inputs are still made on meta.
        r["meta_build_error"] = err_info(e)
        r["build_mode"] = "cpu->meta (fallback)"
        torch.manual_seed(0)
        model, args, kwargs = spec["build"]()
        model = model.to("meta")
        args, kwargs = pytree.tree_map_only(torch.Tensor, lambda t: torch.empty_like(t, device="meta"), (args, kwargs))
    model.eval()
    r["build_s"] = round(time.perf_counter() - t0, 3)
    r["params"], r["buffers"] = module_counts(model)
    r["inputs"] = flat_leaves((list(args), kwargs), "in")
    send(dict(r, stage="built"))

    # eager on meta (no export): tells export-specific failures apart from model/meta ones
    try:
        fc = FlopCounterMode(display=False)
        t = time.perf_counter()
        with sdpa_kernel(SDPBackend.MATH), fc:
            out = model(*args, **kwargs)
        r["eager_meta_s"] = round(time.perf_counter() - t, 3)
        r["macs_eager_meta"] = fc.get_total_flops() // 2
        r["outputs_eager_meta"] = flat_leaves(out)
        del out
    except Exception as e:  # noqa: BLE001
        r["eager_meta_error"] = err_info(e)
    send(dict(r, stage="eager_meta"))

    t = time.perf_counter()
    try:
        ep = torch.export.export(model, tuple(args), kwargs, strict=False)
    except Exception as e:  # noqa: BLE001
        r["capture_s"] = round(time.perf_counter() - t, 3)
        r["error"] = dict(err_info(e), stage="export")
        r["peak_rss_mib"] = rss_mib("VmHWM")
        return dict(r, stage="done")
    r["capture_s"] = round(time.perf_counter() - t, 3)
    (r["params_ep"], r["n_param_tensors_ep"], r["buffers_ep"], r["n_buffer_tensors_ep"],
     r["lifted_constants_ep"]) = ep_param_counts(ep)
    r["params_ep_state_dict_sum"] = sum(ep.state_dict[n].numel() for n in ep.graph_signature.parameters)
    cnt, reg = census(ep)
    r["ops_export"] = dict(cnt)
    r["ops_export_in_registry"] = reg
    r["n_nodes_export"] = sum(cnt.values())
    send(dict(r, stage="exported"))

    try:
        fc = FlopCounterMode(display=False)
        t = time.perf_counter()
        with sdpa_kernel(SDPBackend.MATH), fc:
            out = ep.module()(*args, **kwargs)
        r["flops_s"] = round(time.perf_counter() - t, 3)
        r["flops"] = fc.get_total_flops()
        r["macs"] = r["flops"] // 2
        r["flops_by_op_dispatch"] = {str(k): v for k, v in fc.get_flop_counts().get("Global", {}).items()}
        r["outputs"] = describe(out)
        r["outputs_flat"] = flat_leaves(out)
        del out
        tot, per = flop_attr(ep, args, kwargs)
        r["flops_attr_total_export"] = tot
        r["flops_by_op_export"] = {k: v for k, v in per.items() if v}
    except Exception as e:  # noqa: BLE001
        r["error"] = dict(err_info(e), stage="flops")
    send(dict(r, stage="flops"))

    if core and "error" not in r:
        try:
            t = time.perf_counter()
            epc = ep.run_decompositions()
            r["decomp_s"] = round(time.perf_counter() - t, 3)
            cnt, reg = census(epc)
            r["ops_core"] = dict(cnt)
            r["ops_core_in_registry"] = reg
            r["n_nodes_core"] = sum(cnt.values())
            tot, per = flop_attr(epc, args, kwargs)
            r["flops_core"] = tot
            r["flops_by_op_core"] = {k: v for k, v in per.items() if v}
            del epc
        except Exception as e:  # noqa: BLE001
            r["core_error"] = err_info(e)
    r["peak_rss_mib"] = round(rss_mib("VmHWM"), 1)
    r["ru_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return dict(r, stage="done")


def run_eager(spec, send):
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model, args, kwargs = spec["build"]()
    model.eval()
    r = {"build_s": round(time.perf_counter() - t0, 3)}
    r["params"], r["buffers"] = module_counts(model)
    send(dict(r, stage="built"))
    fc = FlopCounterMode(display=False)
    t = time.perf_counter()
    with sdpa_kernel(SDPBackend.MATH), fc:
        out = model(*args, **kwargs)
    r["fwd_s"] = round(time.perf_counter() - t, 3)
    r["flops"] = fc.get_total_flops()
    r["macs"] = r["flops"] // 2
    r["outputs_flat"] = flat_leaves(out)
    r["peak_rss_mib"] = round(rss_mib("VmHWM"), 1)
    return dict(r, stage="done")


def child(name, mode, conn):
    os.makedirs(os.path.join(HERE, "logs"), exist_ok=True)
    fd = os.open(os.path.join(HERE, "logs", f"{name}.{mode}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    os.dup2(fd, 1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    reset_peak_rss()
    base = rss_mib("VmRSS")

    def send(d):
        conn.send(dict(d, base_rss_mib=round(base, 1)))
    try:
        spec = BY_NAME[name]
        res = run_meta(spec, send) if mode == "meta" else run_eager(spec, send)
        send(res)
    except Exception as e:  # noqa: BLE001
        send({"stage": "crashed", "error": dict(err_info(e), stage="build/other")})
    conn.close()
    os._exit(0)


def run_in_child(name, mode, timeout):
    ctx = mp.get_context("fork")
    parent, childc = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(name, mode, childc))
    t = time.perf_counter()
    p.start()
    childc.close()
    last = {}
    deadline = t + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            p.kill()
            last["error"] = last.get("error") or {"type": "Timeout", "first_line": f"no result within {timeout}s (last stage: {last.get('stage')})"}
            last["timed_out"] = True
            break
        if parent.poll(min(left, 1.0)):
            try:
                last.update(parent.recv())
            except EOFError:
                break
            if last.get("stage") in ("done", "crashed"):
                break
        elif not p.is_alive():
            # drain then stop
            while parent.poll(0):
                try:
                    last.update(parent.recv())
                except EOFError:
                    break
            if last.get("stage") not in ("done", "crashed"):
                last["error"] = {"type": "ChildDied", "first_line": f"exit code {p.exitcode} (last stage: {last.get('stage')})"}
            break
    p.join(5)
    if p.is_alive():
        p.kill()
        p.join()
    last["wall_s"] = round(time.perf_counter() - t, 2)
    return last

# ----------------------------------------------------------------------------- main


def versions():
    import huggingface_hub
    return {"python": sys.version.split()[0], "torch": torch.__version__, "timm": timm.__version__,
            "transformers": transformers.__version__, "torchvision": torchvision.__version__,
            "huggingface_hub": huggingface_hub.__version__}


def compare(meta, eager):
    c = {}
    c["params_equal"] = meta.get("params") == eager.get("params")
    c["params_ep_equal"] = meta.get("params_ep") == eager.get("params")
    c["macs_equal"] = meta.get("macs") == eager.get("macs")
    c["macs_eager_meta_equal"] = meta.get("macs_eager_meta") == eager.get("macs")
    c["outputs_equal"] = meta.get("outputs_flat") == eager.get("outputs_flat")
    c["identical"] = all(c[k] for k in ("params_equal", "params_ep_equal", "macs_equal", "outputs_equal"))
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--no-eager", action="store_true")
    ap.add_argument("--out", default="")
    ap.add_argument("--fresh", default="")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for s in CORPUS:
            print(s["name"], s["family"], s["source"])
        return
    if a.fresh:  # one model, in this process: RSS includes interpreter + imports
        t = time.perf_counter()
        r = run_meta(BY_NAME[a.fresh], lambda d: None, core=False)
        r["total_s_in_process"] = round(time.perf_counter() - t, 2)
        r["ru_maxrss_mib_whole_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        keep = ("params", "params_ep", "macs", "build_s", "capture_s", "flops_s", "total_s_in_process",
                "ru_maxrss_mib_whole_process", "outputs_flat", "error")
        print(json.dumps({k: r.get(k) for k in keep}, indent=1))
        return
    names = [n for n in a.only.split(",") if n] or [s["name"] for s in CORPUS]
    out_path = a.out or os.path.join(HERE, "results.json" if not a.only else "results_partial.json")
    results = {"versions": versions(), "settings": {"meta_timeout_s": META_TIMEOUT, "eager_timeout_s": EAGER_TIMEOUT,
               "eager_max_params": EAGER_MAX_PARAMS, "seq_len": SEQ, "torch_threads": torch.get_num_threads()},
               "models": {}}
    T = time.perf_counter()
    for n in names:
        spec = BY_NAME[n]
        rec = {"family": spec["family"], "source": spec["source"], "ref": spec["ref"]}
        if "cfg" in spec:
            rec["config"] = spec["cfg"]
        rec["meta"] = run_in_child(n, "meta", META_TIMEOUT)
        m = rec["meta"]
        status = "ok" if "error" not in m and m.get("stage") == "done" else "ERR"
        if (not a.no_eager and m.get("params") is not None and m["params"] <= EAGER_MAX_PARAMS
                and (spec["family"] != "detection" or status == "ok")):
            rec["eager_cpu"] = run_in_child(n, "eager", EAGER_TIMEOUT)
            if "error" not in rec["eager_cpu"] and status == "ok":
                rec["eager_vs_meta"] = compare(m, rec["eager_cpu"])
        results["models"][n] = rec
        ev = rec.get("eager_vs_meta", {}).get("identical")
        print(f"[{time.perf_counter() - T:7.1f}s] {n:40s} {status} params={m.get('params')} macs={m.get('macs')} "
              f"cap={m.get('capture_s')} rss={m.get('peak_rss_mib')} eager_identical={ev} "
              f"{(m.get('error') or {}).get('type', '')} {(m.get('error') or {}).get('first_line', '')[:120]}", flush=True)
        with open(out_path, "w") as f:
            json.dump(results, f, indent=1, default=str)
    results["total_s"] = round(time.perf_counter() - T, 1)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print("wrote", out_path, "in", results["total_s"], "s")


if __name__ == "__main__":
    main()
