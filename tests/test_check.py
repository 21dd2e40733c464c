"""`netcalc check`: answers graded against the spec, with the usual mistakes named;
and every worked example of the tutorials (../shared/seeds) through `explain` and
`check`, in English and Chinese."""

from __future__ import annotations

import json

import pytest

from helpers import SPECS, run_cli

ALEXNET = str(SPECS / "alexnet.yaml")


def check(capsys, tmp_path, spec: str, answers: str, *options: str):
    path = tmp_path / "answers.yaml"
    path.write_text(answers)
    code, out, err = run_cli(capsys, "check", spec, str(path), *options)
    return code, out, err, str(path)


def test_all_right_exits_0_with_the_full_score(capsys, tmp_path):
    code, out, _, _ = check(capsys, tmp_path, ALEXNET, """\
conv1: {output: [64, 55, 55], params: 23296, macs: 70276800}
pool1: {output: 64x27x27}
fc8: {output: [1, 1000], params: "4,097,000"}
total_params: 61100840
total_macs: 714188480
""", "--lang", "en")
    assert code == 0
    assert out.splitlines()[-1] == "Score: 8 / 8 (alexnet)"
    assert all(line.startswith("✓") for line in out.splitlines()[:-1])


# (answers, the wrong item's line, its hint)
MISTAKES = {
    "forgot_bias": ("conv1: {params: 23232}\n", "✗ conv1 params  23,232  (expected 23,296)",
                    "that is the weights alone: the 64 biases (one per output channel or "
                    "feature) are parameters too"),
    "flops_not_macs": ("conv1: {macs: 140553600}\n",
                       "✗ conv1 macs  140,553,600  (expected 70,276,800)",
                       "that is FLOPs, 2 × MACs"),
    "counted_batch": ("fc6: {macs: 1207959552}\n",
                      "✗ fc6 macs  1,207,959,552  (expected 37,748,736)",
                      "that is 32 × the answer: counted for a batch of 32?"),
    "channels_last_order": ("pool5: {output: [6, 6, 256]}\n",
                            "✗ pool5 output  [6, 6, 256]  (expected [256, 6, 6])",
                            "torch orders a feature map [C, H, W]"),
    "used_unpadded": ("conv1: {output: [64, 54, 54]}\n",
                      "✗ conv1 output  [64, 54, 54]  (expected [64, 55, 55])",
                      "that is the size without the padding"),
    "ceil_not_floor": ("conv1: {output: [64, 56, 56]}\n",
                       "✗ conv1 output  [64, 56, 56]  (expected [64, 55, 55])",
                       "that rounds up; the division rounds down"),
    "forgot_plus_one": ("pool1: {output: [64, 26, 26]}\n",
                        "✗ pool1 output  [64, 26, 26]  (expected [64, 27, 27])",
                        "that leaves out the + 1"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_wrong_answer_gets_the_right_value_the_usual_mistake_and_the_working(
        mistake, capsys, tmp_path):
    answers, line, hint = MISTAKES[mistake]
    code, out, _, _ = check(capsys, tmp_path, ALEXNET, answers, "--lang", "en")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == line
    assert lines[1].strip().startswith(hint)
    assert lines[-1] == "Score: 0 / 1 (alexnet)"
    code, out, _, _ = check(capsys, tmp_path, ALEXNET, answers, "--format", "json")
    (item,) = json.loads(out)["items"]
    assert item["hint_key"] == mistake


def test_buffers_counted_as_parameters(capsys, tmp_path):
    code, out, _, _ = check(capsys, tmp_path, str(SPECS / "vgg11_bn.yaml"),
                            "stage1.conv1.bn: {params: 257}\n", "--lang", "en")
    # batch norm over 64 channels: 128 parameters; 64 + 64 + 1 buffers
    assert code == 1
    assert "✗ stage1.conv1.bn params  257  (expected 128)" in out
    assert "that counts the 129 running statistics, which are buffers, not parameters" in out
    assert "params = 2·C\n           = 2·64 = 128" in out


# (spec, the wrong answer, the item's line, the hint's key, the hint's start), each wrong
# number computed by hand the way the slip computes it
SMALL_NET = ("input: [3, 28, 28]\nlayers:\n"
             "  - {type: conv2d, name: c1, out_channels: 32, kernel_size: 3, padding: 1}\n"
             "  - {type: maxpool2d, name: p1, kernel_size: 2}\n"
             "  - {type: conv2d, name: c2, out_channels: 64, kernel_size: 3, bias: false}\n"
             "  - {type: batchnorm2d, name: b2}\n"
             "  - {type: relu, name: r2}\n"
             "  - {type: maxpool2d, name: p2, kernel_size: 2}\n"
             "  - {type: flatten, name: flat}\n"
             "  - {type: linear, name: fc, out_features: 10}\n")
GROUPED = ("input: [32, 8, 8]\nlayers:\n"
           "  - {type: conv2d, name: grouped, out_channels: 64, kernel_size: 3, groups: 4}\n"
           "  - {type: conv2d, name: depthwise, out_channels: 64, kernel_size: 3, "
           "groups: 64, padding: 1}\n"
           "  - {type: linear, name: head, out_features: 5, bias: false}\n")
UPSAMPLING = ("input: [16, 7, 7]\nlayers:\n"
              "  - {type: convtranspose2d, name: up, out_channels: 8, kernel_size: 4, "
              "stride: 2, padding: 1}\n"
              "  - {type: conv2d, name: same, out_channels: 8, kernel_size: 5, padding: 2}\n"
              "  - {type: maxpool2d, name: pool, kernel_size: 3, stride: 2}\n")
NAMED_MISTAKES = {
    # batch norm over 64 channels: γ and β, 2·64 = 128; with the running mean and var 4·64
    "counted_running_stats": (SMALL_NET, "b2: {params: 256}\n",
                              "✗ b2 params  256  (expected 128)",
                              "that counts the 128 running means and variances as parameters"),
    # 2·64 + 1: num_batches_tracked with them
    "counted_batch_count": (SMALL_NET, "b2: {params: 129}\n", "✗ b2 params  129  (expected 128)",
                            "that counts num_batches_tracked"),
    # c2 has bias: false: 3·3·32·64 = 18,432; a bias would add 64
    "bias_false_counted": (SMALL_NET, "c2: {params: 18496}\n",
                           "✗ c2 params  18,496  (expected 18,432)",
                           "this layer has bias: false, so there are no 64 biases"),
    # the flatten after p2 reads 64·6·6 = 2,304; before p2 it is 64·12·12 = 9,216
    "flatten_before_pool": (SMALL_NET, "flat: {output: [9216]}\nfc: {params: 92170}\n",
                            "✗ flat output  [9216]  (expected [2304])",
                            "that flattens the input of p2 (9,216 features)"),
    # groups 4: C_in/g = 8, so (3·3·8 + 1)·64 = 4,672; without the division (3·3·32 + 1)·64
    "groups_not_divided": (GROUPED, "grouped: {params: 18496}\n",
                           "✗ grouped params  18,496  (expected 4,672)",
                           "that gives each filter every input channel: with groups=4"),
    # depthwise, 64 groups of 1 channel: (3·3·1 + 1)·64 = 640; as a full conv (3·3·64 + 1)·64
    "depthwise_as_full": (GROUPED, "depthwise: {params: 36928}\n",
                          "✗ depthwise params  36,928  (expected 640)",
                          "that counts a full convolution: a depthwise one (groups=64)"),
    # (7 − 1)·2 − 2·1 + (4 − 1) + 1 = 14; the conv formula ⌊(7 + 2 − 4) / 2⌋ + 1 = 3
    "transposed_as_conv": (UPSAMPLING, "up: {output: [8, 3, 3]}\n",
                           "✗ up output  [8, 3, 3]  (expected [8, 14, 14])",
                           "that is the ordinary convolution's formula"),
    # 14 + 2·2 − 5 + 1 = 14; one side padded: 14 + 2 − 5 + 1 = 12
    "padded_one_side": (UPSAMPLING, "same: {output: [8, 12, 12]}\n",
                        "✗ same output  [8, 12, 12]  (expected [8, 14, 14])",
                        "that pads one side only"),
    # ⌊(14 − 3) / 2⌋ + 1 = 6; rounding up ⌈11 / 2⌉ + 1 = 7
    "ceil_not_floor": (UPSAMPLING, "pool: {output: [8, 7, 7]}\n",
                       "✗ pool output  [8, 7, 7]  (expected [8, 6, 6])",
                       "that rounds up; the division rounds down"),
}


@pytest.mark.parametrize("mistake", sorted(NAMED_MISTAKES))
def test_a_planted_mistake_gets_its_hint(mistake, capsys, tmp_path):
    spec_text, answers, line, hint = NAMED_MISTAKES[mistake]
    spec = _spec_file(tmp_path, spec_text)
    code, out, _, _ = check(capsys, tmp_path, spec, answers, "--lang", "en")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == line
    assert lines[1].strip().startswith(hint), lines[1]
    code, out, _, _ = check(capsys, tmp_path, spec, answers, "--format", "json")
    assert json.loads(out)["items"][0]["hint_key"] == mistake
    code, out, _, _ = check(capsys, tmp_path, spec, answers, "--lang", "zh")
    assert "应为" in out and "that" not in out           # the remark in Chinese too


def test_a_bias_false_linear_given_a_bias(capsys, tmp_path):
    spec = _spec_file(tmp_path, GROUPED + "  - {type: flatten, name: flat, inputs: [depthwise]}\n"
                      "  - {type: linear, name: fc, out_features: 10, bias: false}\n")
    # head: bias false on [N, 64, 6, 6]'s last dim 6: 6·5 = 30; with a bias 35
    # fc after the flatten of 64·6·6 = 2,304 features, no bias: 23,040; with one 23,050
    code, out, _, _ = check(capsys, tmp_path, spec, "head: {params: 35}\nfc: {params: 23050}\n",
                            "--lang", "en")
    assert code == 1
    assert "✗ head params  35  (expected 30)\n    this layer has bias: false, so there are " \
        "no 5 biases" in out
    assert "✗ fc params    23,050  (expected 23,040)\n    this layer has bias: false, so " \
        "there are no 10 biases" in out


def test_running_statistics_in_a_block_and_in_the_totals(capsys, tmp_path):
    # vgg11_bn's stage1.conv1 = conv (3·3·3 + 1)·64 = 1,792, bn 2·64 = 128, relu
    code, out, _, _ = check(capsys, tmp_path, str(SPECS / "vgg11_bn.yaml"),
                            "stage1.conv1: {params: 2048}\n", "--lang", "en")
    assert code == 1
    assert "✗ stage1.conv1 params  2,048  (expected 1,920)" in out
    assert "that counts the 128 running means and variances as parameters" in out
    # and the batch count with them: 1,920 + 2·64 + 1
    code, out, _, _ = check(capsys, tmp_path, str(SPECS / "vgg11_bn.yaml"),
                            "stage1.conv1: {params: 2049}\n", "--lang", "en")
    assert "that counts the 129 running statistics, which are buffers" in out
    # every batch norm counting its statistics: the 8 of vgg11_bn hold 64 + 128 + 2·256 +
    # 4·512 = 2,752 channels, 2·2,752 = 5,504 more than its 132,868,840 parameters
    code, out, _, _ = check(capsys, tmp_path, str(SPECS / "vgg11_bn.yaml"),
                            "total_params: 132874344\n", "--lang", "en")
    assert "✗ total params  132,874,344  (expected 132,868,840)" in out
    assert "that counts the 5,504 running means and variances as parameters" in out


def test_json_for_autograders_has_one_item_per_value(capsys, tmp_path):
    code, out, _, _ = check(capsys, tmp_path, ALEXNET,
                            "conv1: {output: 64x55x55, params: 23232}\ntotal_macs: 714188480\n",
                            "--format", "json", "--lang", "en")
    data = json.loads(out)
    assert code == 1
    assert data["score"] == {"correct": 2, "follow_through": 0, "total": 3, "points": 2}
    assert [(i["layer"], i["quantity"], i["given"], i["expected"], i["correct"])
            for i in data["items"]] == [
        ("conv1", "output", [64, 55, 55], [64, 55, 55], True),
        ("conv1", "params", 23232, 23296, False),
        (None, "macs", 714188480, 714188480, True)]
    assert data["items"][1]["hint"].startswith("that is the weights alone")
    assert data["items"][1]["working"] == ["(K_h·K_w·C_in + 1)·C_out = (11·11·3 + 1)·64 = 23,296"]


@pytest.mark.parametrize("answers,position,message", [
    ("- conv1\n", "1:1", "answers are a mapping"),
    ("\n", "1:1", "the answers file is empty"),
])
def test_a_bad_answers_file_gets_a_located_error(answers, position, message, capsys,
                                                 tmp_path):
    code, out, err, path = check(capsys, tmp_path, ALEXNET, answers)
    assert (code, out) == (1, "")
    assert err.startswith(f"{path}:{position}: error: "), err
    assert message in err


@pytest.mark.parametrize("answers,position,message,scored", [
    # a key that names no quantity: warned about, not scored
    ("conv1: {weights: 1}\n", "1:9", "'weights' is not something netcalc checks", False),
    ("total_param: 5\n", "1:1", "did you mean 'total_params'?", False),
    # a layer's answer that does not say which quantity it is
    ("conv1: 5\n", "1:8", "this answer for 'conv1' does not say which quantity", False),
    # a value that is no shape: the item wrong, with the reason
    ("conv1: {output: big}\n", "1:17", "an output shape is a list like [64, 55, 55]", True),
])
def test_a_bad_answer_is_one_located_warning(answers, position, message, scored, capsys,
                                             tmp_path):
    code, out, err, path = check(capsys, tmp_path, ALEXNET,
                                 answers + "conv2: {params: 307392}\n", "--lang", "en")
    assert code == 1
    assert err.startswith(f"{path}:{position}: warning: "), err
    assert message in err
    # the other answer graded all the same
    assert "✓ conv2 params" in out
    assert out.splitlines()[-1] == f"Score: 1 / {2 if scored else 1} (alexnet)"


def test_a_misspelt_layer_is_said_and_not_scored_and_the_rest_are_graded(capsys, tmp_path):
    code, out, err, path = check(capsys, tmp_path, ALEXNET,
                                 "Conv1: {params: 23296}\nconv2: {params: 307392}\n",
                                 "--lang", "zh")
    assert code == 1
    assert out.splitlines() == [
        "? Conv1 参数量  23,296  (不计分)",
        "    alexnet 中没有名为 'Conv1' 的层或模块；是不是 'conv1'？",
        "✓ conv2 参数量  307,392",
        "得分：1 / 1（alexnet）"]
    assert err.startswith(f"{path}:1:1: warning: Conv1 参数量")


def test_a_shape_with_another_batch_or_channels_last_with_the_batch(capsys, tmp_path):
    code, out, _, _ = check(capsys, tmp_path, ALEXNET, "conv1: {output: [32, 64, 55, 55]}\n"
                            "conv3: {output: [1, 13, 13, 384]}\n", "--lang", "en")
    assert code == 1
    assert "    the batch is 1 here (--batch): the rest is right" in out
    assert "    torch orders a feature map [C, H, W] (channels first), not [H, W, C]" in out


# -- the tutorials' worked examples ------------------------------------------------

SEED_EXAMPLES = {
    # 002: "输入 3*224*224, 卷积核大小为11, padding = 2 Stride = 4, 卷积核数量64 ... (64*55*55)"
    "alexnet_first_conv": (
        "input: [3, 224, 224]\nlayers:\n  - {type: conv2d, name: conv, out_channels: 64, "
        "kernel_size: 11, stride: 4, padding: 2}\n",
        "conv: {output: 64x55x55, params: 23296, macs: 70276800}\n",
        "conv: {params: 23232}\n",
        ["= ⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1 = ⌊217 / 4⌋ + 1 = 55",
         "= (11·11·3 + 1)·64 = 23,296", "= 55·55·64 · (11·11·3) = 70,276,800"],
        ("the last column of the padded input is never covered", "最后 1 列不会被任何窗口覆盖"),
        ("the 64 biases", "64 个偏置")),
    # 002: "卷出来的特征图的大小=特征图大小-卷积核大小+1 ... 零填充后图片大小为原大小加上2倍的padding"
    "4x4_image": (
        "input: [1, 4, 4]\nlayers:\n"
        "  - {type: conv2d, name: valid, out_channels: 1, kernel_size: 3, bias: false}\n"
        "  - {type: conv2d, name: padded, inputs: [input], out_channels: 1, kernel_size: 3, "
        "padding: 1, bias: false}\n",
        "valid: {output: [1, 2, 2]}\npadded: {output: [1, 4, 4]}\n",
        "padded: {output: [1, 2, 2]}\n",
        ["= ⌊(4 + 2·0 − 1·(3 − 1) − 1) / 1⌋ + 1 = ⌊1 / 1⌋ + 1 = 2",
         "= ⌊(4 + 2·1 − 1·(3 − 1) − 1) / 1⌋ + 1 = ⌊3 / 1⌋ + 1 = 4"],
        ("no bias (bias: false)", "没有偏置"),
        ("that is the size without the padding", "这是没有填充时的大小")),
    # 002: "AdaptiveAvgPool(7) ... 224*224 ... 7*7 ... 每224/7=32变成一个数"
    "adaptive_avg_pool_224_to_7": (
        "input: [512, 224, 224]\nlayers:\n  - {type: adaptiveavgpool2d, name: pool, "
        "output_size: 7}\n",
        "pool: {output: [512, 7, 7], params: 0, macs: 0}\n",
        "pool: {output: [512, 32, 32]}\n",
        ["H_out = output_size"],
        ("7 bins of 224/7 = 32 each", "7 个区域，每个 224/7 = 32"),
        (None, None)),
    # 002: "Pool(3,2) ... 第一次取1,2,3行, 第二次取3,4,5行 ... 行, 列减半"
    "pool_3_2": (
        "input: [64, 55, 55]\nlayers:\n  - {type: maxpool2d, name: pool, kernel_size: 3, "
        "stride: 2}\n",
        "pool: {output: [64, 27, 27]}\n",
        "pool: {output: [64, 26, 26]}\n",
        ["= ⌊(55 + 2·0 − 1·(3 − 1) − 1) / 2⌋ + 1 = ⌊52 / 2⌋ + 1 = 27"],
        ("52 / 2 = 26 exactly", "52 / 2 = 26，正好整除"),
        ("that leaves out the + 1", "少了 + 1")),
    # 004: "需要拟合的引数是 1.6 億 ... 瓶頸網路 ... 消耗的引数只有1300萬"
    "inception_1x1_bottleneck": (
        None,
        "direct: {macs: 160563200}\nthrough_bottleneck: {macs: 13246464}\n",
        "through_bottleneck: {macs: 26492928}\n",
        ["= 28·28·32 · (5·5·256) = 160,563,200", "= 28·28·16 · (1·1·256) = 3,211,264",
         "= 28·28·32 · (5·5·16) = 10,035,200"],
        ("adding the bias is not counted", "加偏置不计入 MACs"),
        ("that is FLOPs, 2 × MACs", "这是 FLOPs，即 2 × MACs")),
    # 002: "256*112*112的特征图 ... 参数量是256*256*3*3 ... 64*256*1*1 ... 参数量少很多"
    "resnet_bottleneck": (
        "input: [256, 112, 112]\nlayers:\n"
        "  - {type: conv2d, name: direct, out_channels: 256, kernel_size: 3, padding: 1}\n"
        "  - {type: conv2d, name: reduce, inputs: [input], out_channels: 64, kernel_size: 1}\n"
        "  - {type: conv2d, name: conv3x3, out_channels: 64, kernel_size: 3, padding: 1}\n"
        "  - {type: conv2d, name: expand, out_channels: 256, kernel_size: 1}\n",
        "direct: {params: 590080}\nreduce: {params: 16448}\nconv3x3: {params: 36928}\n"
        "expand: {params: 16640}\n",
        "direct: {params: 589824}\n",
        ["= (3·3·256 + 1)·256 = 590,080", "= (1·1·256 + 1)·64 = 16,448",
         "= (3·3·64 + 1)·64 = 36,928", "= (1·1·64 + 1)·256 = 16,640"],
        ("adding the bias is not counted", "加偏置不计入 MACs"),
        ("the 256 biases", "256 个偏置")),
}


def _spec_file(tmp_path, text: str | None) -> str:
    if text is None:
        return str(SPECS / "seeds" / "seed004_inception_bottleneck.yaml")
    path = tmp_path / "example.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("example", sorted(SEED_EXAMPLES))
def test_a_tutorial_example_through_explain_and_check(example, lang, capsys, tmp_path):
    text, right, wrong, workings, remark, hint = SEED_EXAMPLES[example]
    spec = _spec_file(tmp_path, text)
    code, out, _ = run_cli(capsys, "explain", spec, "--lang", lang)
    assert code == 0
    for working in workings:
        assert working in out, working
    assert remark[lang == "zh"] in out

    code, out, _, _ = check(capsys, tmp_path, spec, right, "--lang", lang)
    assert code == 0, out
    assert "✗" not in out

    code, out, _, _ = check(capsys, tmp_path, spec, wrong, "--lang", lang)
    assert code == 1
    assert out.startswith("✗")
    if hint[0] is not None:
        assert hint[lang == "zh"] in out


def test_a_shape_without_the_batch_is_the_batch_dim_taken_out():
    from netcalc.grading import without_batch

    assert without_batch((8, 64, 55, 55), 0) == (64, 55, 55)
    assert without_batch((2, 8, 128), 1) == (2, 128)          # an RNN's h_n: batch second
    assert without_batch((64, 55, 55), None) == (64, 55, 55)  # no batch dim


def test_a_layer_answered_without_saying_which_quantity_is_warned_of_and_the_rest_graded(
        tmp_path, capsys):
    answers = tmp_path / "a.yaml"
    # conv2 of AlexNet: (5·5·64 + 1)·192 = 307,392
    answers.write_text("conv1: [64, 55, 55]\nconv2: {params: 307392}\n")
    code, out, err = run_cli(capsys, "check", str(SPECS / "alexnet.yaml"), str(answers))
    assert code == 1                                  # an answer not scored is no pass
    assert "? conv1         [64, 55, 55]  (not scored)" in out
    assert "✓ conv2 params  307,392" in out and "Score: 1 / 1 (alexnet)" in out
    assert f"{answers}:1:8: warning: conv1: this answer for 'conv1' does not say which " \
        "quantity it is" in err
