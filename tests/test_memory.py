"""Memory: inference's peak (each tensor freed after its last reader) and what
training holds when backward begins, against hand counts and against what torch's
autograd keeps (saved_tensors_hooks)."""

from __future__ import annotations

import json

import pytest

from helpers import SPECS, run_cli, summarize, summarize_text

F32 = 4


def test_a_chain_holds_two_maps_at_once_and_in_place_ops_none():
    s = summarize_text("""
input: [3, 8, 8]
layers:
  - {type: conv2d, name: a, out_channels: 4, kernel_size: 3, padding: 1}   # 4·8·8
  - {type: relu, name: r, inplace: true}                                   # a's storage
  - {type: conv2d, name: b, out_channels: 2, kernel_size: 3, padding: 1}   # 2·8·8
  - {type: flatten, name: f}                                               # b's storage
""")
    # the input lives throughout; while b runs, a's output is alive too
    assert s.memory.peak_activation_bytes == (3 * 64 + 4 * 64 + 2 * 64) * F32
    assert s.memory.inference_bytes == s.totals.param_bytes + s.memory.peak_activation_bytes


def test_a_branch_keeps_its_input_alive_until_the_merge():
    chain = "input: [4, 8, 8]\nlayers:\n" + "".join(
        f"  - {{type: conv2d, name: {name}, out_channels: 4, kernel_size: 1}}\n"
        for name in "abc")
    s = summarize_text(chain + "  - {type: add, name: s, inputs: [c, a]}\n")
    # when c runs: input, a (kept for the add), b (c reads it), c; a 4·8·8 map each
    assert s.memory.peak_activation_bytes == 4 * (4 * 64) * F32
    freed = summarize_text(chain)
    assert freed.memory.peak_activation_bytes == 3 * (4 * 64) * F32    # a freed before c


@pytest.mark.parametrize("optimizer,states", [("sgd", 0), ("momentum", 1), ("adam", 2),
                                              ("adamw", 2)])
def test_training_holds_weights_gradients_and_the_optimizers_state(optimizer, states):
    s = summarize(SPECS / "resnet18.yaml", optimizer=optimizer)
    m = s.memory
    params = 11_689_512
    assert (m.weight_bytes, m.gradient_bytes, m.optimizer_bytes) == \
        (params * F32, params * F32, states * params * F32)
    assert m.training_bytes == m.weight_bytes + m.gradient_bytes + m.optimizer_bytes \
        + s.totals.buffer_bytes + m.saved_activation_bytes
    amp = summarize(SPECS / "resnet18.yaml", optimizer=optimizer, amp=True).memory
    # float32 master weights and autocast's half copies; float32 gradients; half activations
    assert (amp.weight_bytes, amp.gradient_bytes) == (params * 6, params * F32)
    assert amp.saved_activation_bytes < m.saved_activation_bytes


def test_the_footer_and_json_carry_each_figure(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--format", "json",
                           "--optimizer", "sgd")
    memory = json.loads(out)["memory"]
    assert code == 0
    assert memory["optimizer"] == "sgd" and memory["optimizer_bytes"] == 0
    assert memory["inference_bytes"] == 244_403_360 + memory["peak_activation_bytes"]
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--depth", "1")
    assert "Memory   inference " in out and "\n         training (adam) " in out


# -- against torch -------------------------------------------------------------------

def _kept_by_autograd(model, shape) -> int:
    """Bytes of the distinct storages autograd saves in a training forward pass, the
    parameters' and buffers' aside."""
    import torch

    from torch_measure import saved_by_autograd

    with saved_by_autograd(model.train()) as kept:
        model(torch.randn(shape))
    return sum(kept.values())


def _references():
    import reference_cnns as cnns
    import reference_mobile as mobile
    import reference_models as models
    return {"resnet18": models.resnet18, "alexnet": models.TorchvisionAlexNet,
            "vgg11_bn": models.vgg11_bn, "mobilenet_v2": mobile.MobileNetV2,
            "squeezenet1_0": cnns.squeezenet1_0, "googlenet": cnns.GoogLeNet,
            "densenet121": cnns.densenet121, "convnext_tiny": mobile.ConvNeXtTiny,
            "vit_b_16": mobile.vit_b_16}


@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet18", "alexnet", "vgg11_bn", "mobilenet_v2",
                                  "squeezenet1_0", "googlenet", "densenet121", "convnext_tiny",
                                  "vit_b_16"])
def test_what_training_keeps_for_backward_is_what_autograd_keeps(name):
    import torch

    torch.manual_seed(0)
    torch_bytes = _kept_by_autograd(_references()[name](), (1, 3, 224, 224))
    assert summarize(SPECS / f"{name}.yaml").memory.saved_activation_bytes == torch_bytes


@pytest.mark.torch
@pytest.mark.parametrize("name, blocks, pattern", [
    ("resnet18", ("layer2", "layer3"), ("layer2", "layer3")),
    ("vit_b_16", ("encoder.layers",), ("encoder.layers.*",)),
])
def test_checkpointing_keeps_what_torch_utils_checkpoint_keeps(name, blocks, pattern):
    """Each copy of the blocks run under torch.utils.checkpoint: autograd keeps the rest's
    saved tensors and each copy's input, and backward recomputes one copy at a time,
    holding what that copy saves: the largest copy's on top."""
    import torch
    from torch.utils.checkpoint import checkpoint

    from torch_measure import saved_by_autograd

    torch.manual_seed(0)
    model = _references()[name]().train()
    copies: list[tuple] = []             # (block, its input)

    class Checkpointed(torch.nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            copies.append((self.block, x))
            return checkpoint(self.block, x, use_reentrant=False)

    for path in blocks:
        container = model.get_submodule(path)
        for child_name, child in list(container.named_children()):
            setattr(container, child_name, Checkpointed(child))

    with saved_by_autograd(model) as kept:
        model(torch.randn(1, 3, 224, 224))
    for _, x in copies:                       # checkpoint holds each copy's input
        kept[x.untyped_storage().data_ptr()] = x.untyped_storage().nbytes()
    largest = 0
    for block, x in copies:                   # one copy's own, as backward recomputes it
        with saved_by_autograd(model) as inside:
            block(x.detach().requires_grad_())
        inside.pop(x.untyped_storage().data_ptr(), None)
        largest = max(largest, sum(inside.values()))
    torch_bytes = sum(kept.values()) + largest
    ours = summarize(SPECS / f"{name}.yaml", checkpoint=pattern).memory
    assert ours.saved_activation_bytes == torch_bytes
    assert ours.saved_activation_bytes < summarize(SPECS / f"{name}.yaml").memory \
        .saved_activation_bytes
