"""The corpus: real timm, torchvision and transformers models, randomly initialised.

Each factory takes no arguments and downloads nothing (timm `pretrained=False`,
torchvision `weights=None`, transformers models built from a config). The zoos are
imported inside the factories, so this file loads where they are not installed.
netcalc reads a factory as `tests/corpus/models.py:NAME`; test_corpus.py builds the
same model for real and compares netcalc's numbers with torch's.

`CORPUS` lists (factory name, --input values, family).
"""

from __future__ import annotations


def _timm(name: str, **kwargs):
    import timm
    return timm.create_model(name, pretrained=False, **kwargs)


def _tv(name: str, **kwargs):
    import torchvision
    return torchvision.models.get_model(name, weights=None, **kwargs)


# -- CNNs ---------------------------------------------------------------------------

def resnet18():
    return _tv("resnet18")


def resnet26d():
    return _timm("resnet26d")


def resnext50_32x4d():
    return _tv("resnext50_32x4d")


def densenet121():
    return _tv("densenet121")


def vgg11_bn():
    return _tv("vgg11_bn")


def regnet_y_400mf():
    # torchvision's RegNet computes its widths with tensors (.tolist()) in __init__
    return _tv("regnet_y_400mf")


def regnetx_002():
    return _timm("regnetx_002")


def convnext_atto():
    return _timm("convnext_atto")


def inception_v3():
    return _tv("inception_v3", aux_logits=True, init_weights=True)


def googlenet():
    return _tv("googlenet", aux_logits=False, init_weights=True)


def squeezenet1_1():
    return _tv("squeezenet1_1")


def res2net50_14w_8s():
    return _timm("res2net50_14w_8s")


def hrnet_w18_small():
    return _timm("hrnet_w18_small")


def dla34():
    return _timm("dla34")


def repvgg_a0():
    return _timm("repvgg_a0")


def nfnet_l0():
    return _timm("nfnet_l0")


def hgnetv2_b0():
    return _timm("hgnetv2_b0")


# -- mobile networks -----------------------------------------------------------------

def mobilenet_v2():
    return _tv("mobilenet_v2")


def mobilenet_v3_small():
    return _tv("mobilenet_v3_small")


def mobilenetv3_large_100():
    return _timm("mobilenetv3_large_100")


def mobilenetv4_conv_small():
    return _timm("mobilenetv4_conv_small")


def efficientnet_b0():
    return _timm("efficientnet_b0")


def tv_efficientnet_b0():
    return _tv("efficientnet_b0")


def tf_efficientnetv2_b0():
    return _timm("tf_efficientnetv2_b0")


def ghostnet_100():
    return _timm("ghostnet_100")


def mnasnet0_5():
    return _tv("mnasnet0_5")


def shufflenet_v2_x0_5():
    return _tv("shufflenet_v2_x0_5")


def rexnet_100():
    return _timm("rexnet_100")


def efficientvit_b0():
    return _timm("efficientvit_b0")


# -- vision transformers ---------------------------------------------------------------

def vit_tiny_patch16_224():
    return _timm("vit_tiny_patch16_224")


def deit_tiny_distilled_patch16_224():
    return _timm("deit_tiny_distilled_patch16_224")


def swin_tiny_patch4_window7_224():
    return _timm("swin_tiny_patch4_window7_224")


def beit_base_patch16_224_depth2():
    return _timm("beit_base_patch16_224", depth=2)


def eva02_tiny_patch14_224():
    return _timm("eva02_tiny_patch14_224")


def pit_ti_224():
    return _timm("pit_ti_224")


def xcit_nano_12_p16_224():
    return _timm("xcit_nano_12_p16_224")


def cait_xxs24_224():
    return _timm("cait_xxs24_224")


def pvt_v2_b0():
    return _timm("pvt_v2_b0")


def tv_vit_small():
    # torchvision's ViT runs nn.MultiheadAttention (its fused fast path, unless told not to)
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=224, patch_size=16, num_layers=4, num_heads=6,
                             hidden_dim=384, mlp_dim=1536, num_classes=100)


# -- hybrids -------------------------------------------------------------------------

def mobilevit_xxs():
    return _timm("mobilevit_xxs")


def levit_128s():
    return _timm("levit_128s")


def coatnet_nano_rw_224():
    return _timm("coatnet_nano_rw_224")


def maxvit_rmlp_pico_rw_256():
    return _timm("maxvit_rmlp_pico_rw_256")


def poolformer_s12():
    return _timm("poolformer_s12")


def fastvit_t8():
    return _timm("fastvit_t8")


def efficientformer_l1():
    return _timm("efficientformer_l1")


def edgenext_xx_small():
    return _timm("edgenext_xx_small")


def tiny_vit_5m_224():
    return _timm("tiny_vit_5m_224")


# -- MLP mixers ------------------------------------------------------------------------

def mixer_s16_224():
    return _timm("mixer_s16_224")


def resmlp_12_224():
    return _timm("resmlp_12_224")


def gmlp_ti16_224():
    return _timm("gmlp_ti16_224")


# -- segmentation (torchvision; they return a dict: {'out': ...}) -------------------------

def fcn_resnet50():
    return _tv("fcn_resnet50", weights_backbone=None)


def deeplabv3_mobilenet_v3_large():
    return _tv("deeplabv3_mobilenet_v3_large", weights_backbone=None)


def lraspp_mobilenet_v3_large():
    return _tv("lraspp_mobilenet_v3_large", weights_backbone=None)


# -- video (torchvision; input channels x frames x height x width) -----------------------

def r3d_18():
    return _tv("r3d_18")


def r2plus1d_18():
    return _tv("r2plus1d_18")


# -- text encoders ----------------------------------------------------------------------

def bert_mlm():
    # the masked-LM head's decoder is tied to the word embeddings
    from transformers import BertConfig, BertForMaskedLM
    return BertForMaskedLM(BertConfig(hidden_size=256, num_hidden_layers=4,
                                      num_attention_heads=4, intermediate_size=1024))


def distilbert():
    from transformers import DistilBertConfig, DistilBertModel
    return DistilBertModel(DistilBertConfig(dim=256, n_layers=3, n_heads=4, hidden_dim=1024))


def roberta_classifier():
    from transformers import RobertaConfig, RobertaForSequenceClassification
    return RobertaForSequenceClassification(RobertaConfig(
        hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
        num_labels=3))


def albert():
    # one layer's weights, shared by all four
    from transformers import AlbertConfig, AlbertModel
    return AlbertModel(AlbertConfig(embedding_size=128, hidden_size=256, num_hidden_layers=4,
                                    num_attention_heads=4, intermediate_size=1024))


def deberta_v2():
    from transformers import DebertaV2Config, DebertaV2Model
    return DebertaV2Model(DebertaV2Config(
        hidden_size=256, num_hidden_layers=2, num_attention_heads=4, intermediate_size=1024,
        vocab_size=32000, relative_attention=True, position_buckets=64,
        pos_att_type=["p2c", "c2p"]))


def electra():
    from transformers import ElectraConfig, ElectraModel
    return ElectraModel(ElectraConfig(embedding_size=128, hidden_size=256, num_hidden_layers=3,
                                      num_attention_heads=4, intermediate_size=1024))


# -- decoders -------------------------------------------------------------------------

def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=256, n_head=4, n_positions=256))


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512))


def qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    return Qwen2ForCausalLM(Qwen2Config(
        vocab_size=32000, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True))


def opt():
    from transformers import OPTConfig, OPTForCausalLM
    return OPTForCausalLM(OPTConfig(
        vocab_size=32000, hidden_size=256, ffn_dim=1024, num_hidden_layers=2,
        num_attention_heads=4, word_embed_proj_dim=256, max_position_embeddings=512))


def gpt_neox():
    from transformers import GPTNeoXConfig, GPTNeoXModel
    return GPTNeoXModel(GPTNeoXConfig(
        vocab_size=32000, hidden_size=256, intermediate_size=1024, num_hidden_layers=2,
        num_attention_heads=4, rotary_pct=0.25, max_position_embeddings=512))


def mistral():
    from transformers import MistralConfig, MistralForCausalLM
    return MistralForCausalLM(MistralConfig(
        vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=512,
        sliding_window=64))


# -- encoder-decoders -----------------------------------------------------------------

def t5():
    from transformers import T5Config, T5ForConditionalGeneration
    return T5ForConditionalGeneration(T5Config(
        vocab_size=32128, d_model=256, d_kv=32, d_ff=1024, num_layers=2, num_decoder_layers=2,
        num_heads=4))


def bart():
    from transformers import BartConfig, BartForConditionalGeneration
    return BartForConditionalGeneration(BartConfig(
        vocab_size=32000, d_model=256, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=1024,
        decoder_ffn_dim=1024, max_position_embeddings=512))


# -- transformers vision ------------------------------------------------------------------

def hf_vit():
    from transformers import ViTConfig, ViTForImageClassification
    return ViTForImageClassification(ViTConfig(
        hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=768,
        image_size=224, patch_size=16, num_labels=10))


# -- more, each for something the others lack ------------------------------------------

def crossvit_tiny_240():
    # two branches at two patch sizes, fused by cross-attention
    return _timm("crossvit_tiny_240")


def convit_tiny():
    return _timm("convit_tiny")


def twins_svt_small():
    return _timm("twins_svt_small")


def coat_lite_tiny():
    return _timm("coat_lite_tiny")


def sequencer2d_s_shallow():
    # bidirectional LSTMs over rows and columns; a block a stage (the full model's 18
    # take netcalc ~15 s to capture: each LSTM step is ops of its own)
    return _timm("sequencer2d_s", layers=[1, 1, 1, 1])


def gcvit_xxtiny():
    return _timm("gcvit_xxtiny")


def tv_swin_t():
    return _tv("swin_t")


def tv_maxvit_t():
    return _tv("maxvit_t")


def tv_convnext_tiny():
    return _tv("convnext_tiny")


def mc3_18():
    return _tv("mc3_18")


def s3d():
    return _tv("s3d")


def bloom():
    # ALiBi position biases, not embeddings
    from transformers import BloomConfig, BloomForCausalLM
    return BloomForCausalLM(BloomConfig(vocab_size=32000, hidden_size=256, n_layer=2, n_head=4))


def falcon():
    from transformers import FalconConfig, FalconForCausalLM
    return FalconForCausalLM(FalconConfig(
        vocab_size=32000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
        new_decoder_architecture=True, num_kv_heads=2, max_position_embeddings=512))


def phi():
    from transformers import PhiConfig, PhiForCausalLM
    return PhiForCausalLM(PhiConfig(
        vocab_size=32000, hidden_size=256, intermediate_size=1024, num_hidden_layers=2,
        num_attention_heads=4, partial_rotary_factor=0.5, max_position_embeddings=512))


def gemma():
    from transformers import GemmaConfig, GemmaForCausalLM
    return GemmaForCausalLM(GemmaConfig(
        vocab_size=32000, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=64,
        max_position_embeddings=512))


def whisper():
    # a Conv1d front end on log-mel features, then an encoder-decoder
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    return WhisperForConditionalGeneration(WhisperConfig(
        vocab_size=32000, num_mel_bins=80, d_model=256, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=1024,
        decoder_ffn_dim=1024, max_source_positions=200, max_target_positions=128,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1))


def clip():
    # two towers, two inputs, nested outputs
    from transformers import CLIPConfig, CLIPModel
    return CLIPModel(CLIPConfig(
        text_config={"vocab_size": 32000, "hidden_size": 256, "intermediate_size": 1024,
                     "num_hidden_layers": 2, "num_attention_heads": 4,
                     "max_position_embeddings": 77, "pad_token_id": 0, "bos_token_id": 1,
                     "eos_token_id": 2},
        vision_config={"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "image_size": 224, "patch_size": 32},
        projection_dim=128))


def mbart():
    from transformers import MBartConfig, MBartForConditionalGeneration
    return MBartForConditionalGeneration(MBartConfig(
        vocab_size=32000, d_model=256, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=1024,
        decoder_ffn_dim=1024, max_position_embeddings=512))


def hf_swin():
    from transformers import SwinConfig, SwinForImageClassification
    return SwinForImageClassification(SwinConfig(
        image_size=224, embed_dim=48, depths=[2, 2, 2, 2], num_heads=[2, 4, 8, 16],
        num_labels=10))


def hf_convnext():
    from transformers import ConvNextConfig, ConvNextForImageClassification
    return ConvNextForImageClassification(ConvNextConfig(
        hidden_sizes=[48, 96, 192, 384], depths=[2, 2, 2, 2], num_labels=10))


IMAGE = ("3x224x224",)
TEXT = ("input_ids=128",)
SEQ2SEQ = ("input_ids=128", "decoder_input_ids=32")

CORPUS = [
    ("resnet18", IMAGE, "cnn"),
    ("resnet26d", IMAGE, "cnn"),
    ("resnext50_32x4d", IMAGE, "cnn"),
    ("densenet121", IMAGE, "cnn"),
    ("vgg11_bn", IMAGE, "cnn"),
    ("regnet_y_400mf", IMAGE, "cnn"),
    ("regnetx_002", IMAGE, "cnn"),
    ("convnext_atto", IMAGE, "cnn"),
    ("inception_v3", ("3x299x299",), "cnn"),
    ("googlenet", IMAGE, "cnn"),
    ("squeezenet1_1", IMAGE, "cnn"),
    ("res2net50_14w_8s", IMAGE, "cnn"),
    ("hrnet_w18_small", IMAGE, "cnn"),
    ("dla34", IMAGE, "cnn"),
    ("repvgg_a0", IMAGE, "cnn"),
    ("nfnet_l0", IMAGE, "cnn"),
    ("hgnetv2_b0", IMAGE, "cnn"),
    ("mobilenet_v2", IMAGE, "mobile"),
    ("mobilenet_v3_small", IMAGE, "mobile"),
    ("mobilenetv3_large_100", IMAGE, "mobile"),
    ("mobilenetv4_conv_small", IMAGE, "mobile"),
    ("efficientnet_b0", IMAGE, "mobile"),
    ("tv_efficientnet_b0", IMAGE, "mobile"),
    ("tf_efficientnetv2_b0", IMAGE, "mobile"),
    ("ghostnet_100", IMAGE, "mobile"),
    ("mnasnet0_5", IMAGE, "mobile"),
    ("shufflenet_v2_x0_5", IMAGE, "mobile"),
    ("rexnet_100", IMAGE, "mobile"),
    ("efficientvit_b0", IMAGE, "mobile"),
    ("vit_tiny_patch16_224", IMAGE, "vit"),
    ("deit_tiny_distilled_patch16_224", IMAGE, "vit"),
    ("swin_tiny_patch4_window7_224", IMAGE, "vit"),
    ("beit_base_patch16_224_depth2", IMAGE, "vit"),
    ("eva02_tiny_patch14_224", IMAGE, "vit"),
    ("pit_ti_224", IMAGE, "vit"),
    ("xcit_nano_12_p16_224", IMAGE, "vit"),
    ("cait_xxs24_224", IMAGE, "vit"),
    ("pvt_v2_b0", IMAGE, "vit"),
    ("tv_vit_small", IMAGE, "vit"),
    ("mobilevit_xxs", ("3x256x256",), "hybrid"),
    ("levit_128s", IMAGE, "hybrid"),
    ("coatnet_nano_rw_224", IMAGE, "hybrid"),
    ("maxvit_rmlp_pico_rw_256", ("3x256x256",), "hybrid"),
    ("poolformer_s12", IMAGE, "hybrid"),
    ("fastvit_t8", ("3x256x256",), "hybrid"),
    ("efficientformer_l1", IMAGE, "hybrid"),
    ("edgenext_xx_small", ("3x256x256",), "hybrid"),
    ("tiny_vit_5m_224", IMAGE, "hybrid"),
    ("mixer_s16_224", IMAGE, "mlp"),
    ("resmlp_12_224", IMAGE, "mlp"),
    ("gmlp_ti16_224", IMAGE, "mlp"),
    ("fcn_resnet50", ("3x128x128",), "segmentation"),
    ("deeplabv3_mobilenet_v3_large", IMAGE, "segmentation"),
    ("lraspp_mobilenet_v3_large", IMAGE, "segmentation"),
    ("r3d_18", ("3x8x112x112",), "video"),
    ("r2plus1d_18", ("3x8x112x112",), "video"),
    ("bert_mlm", ("input_ids=128", "attention_mask=128"), "text-encoder"),
    ("distilbert", TEXT, "text-encoder"),
    ("roberta_classifier", TEXT, "text-encoder"),
    ("albert", TEXT, "text-encoder"),
    ("deberta_v2", TEXT, "text-encoder"),
    ("electra", TEXT, "text-encoder"),
    ("gpt2", TEXT, "decoder"),
    ("llama", TEXT, "decoder"),
    ("qwen2", TEXT, "decoder"),
    ("opt", TEXT, "decoder"),
    ("gpt_neox", TEXT, "decoder"),
    ("mistral", TEXT, "decoder"),
    ("t5", SEQ2SEQ, "encoder-decoder"),
    ("bart", SEQ2SEQ, "encoder-decoder"),
    ("hf_vit", ("pixel_values=3x224x224",), "hf-vision"),
    ("crossvit_tiny_240", ("3x240x240",), "vit"),
    ("convit_tiny", IMAGE, "vit"),
    ("twins_svt_small", IMAGE, "vit"),
    ("coat_lite_tiny", IMAGE, "vit"),
    ("gcvit_xxtiny", IMAGE, "hybrid"),
    ("sequencer2d_s_shallow", IMAGE, "mlp"),
    ("tv_swin_t", IMAGE, "vit"),
    ("tv_maxvit_t", IMAGE, "hybrid"),
    ("tv_convnext_tiny", IMAGE, "cnn"),
    ("mc3_18", ("3x8x112x112",), "video"),
    ("s3d", ("3x16x224x224",), "video"),
    ("bloom", TEXT, "decoder"),
    ("falcon", TEXT, "decoder"),
    ("phi", TEXT, "decoder"),
    ("gemma", TEXT, "decoder"),
    ("whisper", ("input_features=80x400", "decoder_input_ids=32"), "encoder-decoder"),
    ("clip", ("input_ids=77", "pixel_values=3x224x224"), "hf-vision"),
    ("mbart", SEQ2SEQ, "encoder-decoder"),
    ("hf_swin", ("pixel_values=3x224x224",), "hf-vision"),
    ("hf_convnext", ("pixel_values=3x224x224",), "hf-vision"),
]
