"""Make the CUDA-built torchvision wheel importable on the CPU-only torch build.

torchvision/_C.so links libtorch_cuda.so/libc10_cuda.so, so on torch+cpu its
torch.ops.load_library() raises OSError, which torchvision.extension swallows
(_has_ops() -> False). All meta registrations then become no-ops EXCEPT two
unconditional `@torch.library.register_fake("torchvision::nms"/"qnms")`
decorators in torchvision/_meta_registrations.py, which raise
`RuntimeError: operator torchvision::nms does not exist` and abort the import
(of torchvision AND of timm, which imports torchvision.models.feature_extraction).
Catching the error does not help: the half-imported package is dropped from
sys.modules and the next import fails the same way.

Fix: define the two op schemas (same signatures as torchvision's C++ TORCH_LIBRARY)
before torchvision is imported. The Library object must stay referenced (module
global). Import this module before timm / torchvision. The pure-Python model
definitions then work; the C++ ops (nms, roi_align, deform_conv2d, ...) still
raise "Couldn't load custom C++ ops" if called.
"""
import torch

try:
    torch.ops.torchvision.nms  # noqa: B018  present if torchvision's _C really loaded
    _TV_LIB = None
except (AttributeError, RuntimeError):
    _TV_LIB = torch.library.Library("torchvision", "DEF")
    _TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _TV_LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
