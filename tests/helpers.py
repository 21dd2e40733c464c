"""Small helpers shared by the tests."""

from __future__ import annotations

import ast
import math
import re
from fractions import Fraction
from pathlib import Path

from netcalc.analyze import analyze
from netcalc.cli import main
from netcalc.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
# specs/exercises holds exercise templates, not specs: `netcalc exercise` fills their
# draws (tests/test_exercise.py runs each)
ALL_SPECS = sorted(path for path in [*SPECS.rglob("*.yaml"), *SPECS.rglob("*.py")]
                   if "exercises" not in path.relative_to(SPECS).parts)

# Specs whose real forward pass takes a second or more on 2 cores, each a larger
# sibling of one the default run keeps (vgg11 and vgg11_bn, resnet50): the tests
# that compute with real tensors take them under `pytest --thorough` only.
HEAVY_SPECS = {"vgg13.yaml", "vgg16.yaml", "vgg19.yaml", "vgg16_bn.yaml",
               "seeds/seed002_vgg.yaml", "resnet101.yaml", "resnet152.yaml",
               "wide_resnet50_2.yaml", "resnext50_32x4d.yaml", "gpt2.yaml", "bert_base.yaml"}
# Specs whose weights alone outgrow these machines' memory (27 to 187 GB in float32):
# never built with real tensors; tests/test_llm_specs.py checks them on the meta device
# and at small configurations.
TOO_LARGE_TO_RUN = {"llama2_7b.yaml", "mistral_7b.yaml", "mixtral_8x7b.yaml"}


def spec_cases(*, heavy_is_slow: bool = False) -> list:
    """Every spec in specs/ as a pytest parameter named by its path there; with
    `heavy_is_slow` (for tests that compute with real tensors), HEAVY_SPECS are marked
    slow and TOO_LARGE_TO_RUN left out."""
    import pytest

    cases = []
    for path in ALL_SPECS:
        name = str(path.relative_to(SPECS))
        if heavy_is_slow and name in TOO_LARGE_TO_RUN:     # real tensors: no room for them
            continue
        slow = heavy_is_slow and name in HEAVY_SPECS
        cases.append(pytest.param(path, id=name, marks=[pytest.mark.slow] if slow else []))
    return cases


def summarize(path, **options):
    return analyze(load_spec(path), **options)


def summarize_text(text: str, file: str = "test.yaml", **options):
    return analyze(parse_spec(text, file), **options)


# Published figures (torchvision's models; the table), batch 1, 224×224
# unless noted.
PUBLISHED = {
    "lenet5": (61_706, 416_520),
    "alexnet": (61_100_840, 714_188_480),
    "vgg11": (132_863_336, 7_609_090_048),
    "vgg13": (133_047_848, 11_308_466_176),
    "vgg16": (138_357_544, 15_470_264_320),
    "vgg19": (143_667_240, 19_632_062_464),
    "vgg11_bn": (132_868_840, 7_609_090_048),
    "vgg16_bn": (138_365_992, 15_470_264_320),
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet34": (21_797_672, 3_663_761_408),
    "resnet50": (25_557_032, 4_089_184_256),
    "resnet101": (44_549_160, 7_801_405_440),
    "resnet152": (60_192_808, 11_513_626_624),
    "resnext50_32x4d": (25_028_904, 4_230_479_872),
    "wide_resnet50_2": (68_883_240, 11_398_021_120),
    "squeezenet1_0": (1_248_424, 818_924_576),
    "squeezenet1_1": (1_235_496, 349_151_936),
    "densenet121": (7_978_856, 2_834_161_664),
    "densenet169": (14_149_480, 3_359_843_328),
    "googlenet": (6_624_904, 1_498_376_192),
    "mobilenet_v2": (3_504_872, 300_774_272),
    "mnasnet1_0": (4_383_312, 314_415_872),
    "mobilenet_v3_small": (2_542_856, 56_510_400),
    "mobilenet_v3_large": (5_483_032, 216_589_760),
    "efficientnet_b0": (5_288_548, 385_814_752),
    "regnet_y_400mf": (4_344_144, 401_842_848),
    "inception_v3": (23_834_568, 5_713_216_096),      # at 299×299
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992),
    "convnext_tiny": (28_589_128, 4_455_531_264),
    # attention counted: the 11,271,124,992 is FlopCounterMode on torch's fused
    # attention kernel, which it cannot see (test_cli checks the difference)
    "vit_b_16": (86_567_656, 17_563_828_224),
    # sequence models of a course's size, equal to the torch models in tests/test_recurrent.py
    # (their MACs: the recurrent gate matmuls, FlopCounterMode's count with oneDNN's fused
    # LSTM kernel off; with it on, torch counts 0 for the LSTM)
    "lstm_text": (4_928_514, 471_860_224),
    "seq2seq_gru": (13_717_312, 288_030_720),
    # language models: transformers' classes from their configs (tests/test_llm_specs.py),
    # MACs at the length each spec states (1,024, 512 and 4,096 tokens)
    "gpt2": (124_439_808, 145_824_153_600),
    "bert_base": (109_482_240, 48_318_971_904),
    "llama2_7b": (6_738_415_616, 31_460_635_443_200),
    "mistral_7b": (7_241_732_096, 33_522_219_745_280),
    "mixtral_8x7b": (46_702_792_704, 56_616_258_895_872),
}

# vit_b_16 as FlopCounterMode counts it under no_grad, where nn.MultiheadAttention runs
# one fused op it has no formula for: the figure in the table.
VIT_B_16_FUSED_ATTENTION_MACS = 11_271_124_992


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """`netcalc ARGS` in this process: exit code, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# The board's symbols as Python: ⌊x⌋ and ⌈x⌉ become calls, `/` stays exact (Fraction).
BOARD_TO_PYTHON = str.maketrans({"·": "*", "×": "*", "−": "-", "⌊": "floor(", "⌋": ")",
                                 "⌈": "ceil(", "⌉": ")"})
BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
          ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}
ROUNDING = {"floor": math.floor, "ceil": math.ceil}


def evaluate(text: str, **letters: int) -> Fraction:
    """`⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1` -> 55: integers, + − · /, ⌊⌋ ⌈⌉ and the
    given letters; anything else is an error (an ast walk, never eval)."""
    plain = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)          # 23,296 -> 23296
    return _walk(ast.parse(plain.translate(BOARD_TO_PYTHON), mode="eval").body, letters)


def _walk(node, letters) -> Fraction:
    match node:
        case ast.Constant(value=int(value)):
            return Fraction(value)
        case ast.Name(id=letter) if letter in letters:
            return Fraction(letters[letter])
        case ast.BinOp(left=left, op=op, right=right) if type(op) in BINARY:
            return BINARY[type(op)](_walk(left, letters), _walk(right, letters))
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_walk(operand, letters)
        case ast.Call(func=ast.Name(id=rounding), args=[argument]) if rounding in ROUNDING:
            return Fraction(ROUNDING[rounding](_walk(argument, letters)))
    raise ValueError(f"not board arithmetic: {ast.unparse(node)}")


def break_rule(monkeypatch, type_name: str, rule: str, replacement) -> None:
    """Give a layer type a wrong rule for one test (what a bug in netcalc would do), and
    start analyze with no memory of the numbers its right rule gave."""
    import netcalc.analyze
    from netcalc.layers.registry import lookup

    monkeypatch.setattr(lookup(type_name), rule, replacement)
    monkeypatch.setattr(netcalc.analyze, "_EVALUATED", {})
