"""Layer type name -> class. Names are torch.nn class names, lower-cased."""

from __future__ import annotations

from importlib import import_module
from typing import Callable

from ..errors import SpecError, closest
from .base import made

REGISTRY: dict[str, type] = {}     # the types of the modules loaded so far

# Which module declares each type name: a spec loads only the modules of the types
# it uses (making the layer dataclasses of every module costs start-up time).
# tests/test_registry.py checks this against what the modules register.
MODULE_OF = {name: module for module, names in {
    "activation": "relu relu6 leakyrelu elu selu silu mish sigmoid tanh hardswish hardsigmoid "
                  "softplus softsign tanhshrink gelu logsigmoid hardtanh threshold celu softmax "
                  "logsoftmax softmin prelu dropout alphadropout featurealphadropout dropout1d "
                  "dropout2d dropout3d stochasticdepth droppath",
    "attention": "multiheadattention transformerencoderlayer",
    "conv": "conv1d convtranspose1d conv2d convtranspose2d conv3d convtranspose3d",
    "linear": "linear embedding positionembedding positionalembedding",
    "matmul": "matmul bmm scaleddotproductattention sdpa",
    "norm": "batchnorm1d batchnorm2d batchnorm3d instancenorm1d instancenorm2d instancenorm3d "
            "layernorm rmsnorm groupnorm localresponsenorm",
    "parameter": "parameter learnedtensor",
    "pointwise": "scalar pointwise",
    "pool": "maxpool1d maxpool2d maxpool3d avgpool1d avgpool2d avgpool3d adaptiveavgpool1d "
            "adaptiveavgpool2d adaptiveavgpool3d adaptivemaxpool1d adaptivemaxpool2d "
            "adaptivemaxpool3d",
    "recurrent": "rnn gru lstm",
    "resize": "upsample upsamplingnearest2d upsamplingbilinear2d pixelshuffle pixelunshuffle "
              "zeropad1d zeropad2d zeropad3d constantpad1d constantpad2d constantpad3d "
              "reflectionpad1d reflectionpad2d reflectionpad3d replicationpad1d "
              "replicationpad2d replicationpad3d circularpad1d circularpad2d circularpad3d",
    "tensor": "identity contiguous squeeze unsqueeze expand flatten unflatten reshape view "
              "permute transpose",
    "slicing": "narrow select slice chunk split",
    "combine": "mean sum add mul sub div concat cat",
    "transformer": "attention gatedmlp moe mixtureofexperts",
}.items() for name in names.split()}


def register(*names: str):
    """Class decorator: the first name is the type's own, the rest are aliases."""

    def add(cls):
        cls.type_name = names[0]
        for name in names:
            if name in REGISTRY:
                raise RuntimeError(f"layer type '{name}' registered twice")
            REGISTRY[name] = cls
        return cls

    return add


def register_ranked(base: type, torch_name: str, rank: int, channels_last: bool) -> type:
    """Register `torch_name` (Conv2d, ...): `base` for inputs of `rank` spatial dims.

    `channels_last`: torch's kernel keeps a channels-last input's layout.
    """
    namespace = {"rank": rank, "__module__": base.__module__}
    if channels_last:
        namespace["layout"] = "channels_last"
    return register(torch_name.lower())(type(torch_name, (base,), namespace))


def _squash(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


# Types a module declares in one line (activation.py's), made when first looked up:
# type name -> the function that makes and registers the class
_RECIPES: dict[str, Callable[[], type]] = {}


def register_recipe(name: str, make: Callable[[], type]) -> None:
    _RECIPES[name] = make


def lookup(type_name: str):
    """The class for a spec's `type`, matched case-insensitively; None if unknown."""
    name = type_name.lower()
    if name not in REGISTRY:
        if name in MODULE_OF:
            import_module(f"{__package__}.{MODULE_OF[name]}")
        if name in _RECIPES:
            _RECIPES.pop(name)()
    cls = REGISTRY.get(name)
    return made(cls) if cls is not None else None


def all_types() -> dict[str, type]:
    """Every type name -> class, every module loaded (for suggestions and listings)."""
    for module in set(MODULE_OF.values()):
        import_module(f"{__package__}.{module}")
    for name in list(_RECIPES):
        lookup(name)
    for cls in REGISTRY.values():
        made(cls)
    return REGISTRY


# Other libraries' names for torch's layers, for suggestions.
_TYPE_NAMES_ELSEWHERE = {"dense": "linear", "fc": "linear", "fullyconnected": "linear",
              "innerproduct": "linear", "conv": "conv2d", "convolution": "conv2d",
              "deconv": "convtranspose2d", "bn": "batchnorm2d", "pool": "maxpool2d",
              "globalaveragepooling2d": "adaptiveavgpool2d", "concatenate": "concat",
              "lrn": "localresponsenorm", "swish": "silu"}


def suggest(type_name: str, extra: list[str] = ()) -> str:
    """'; did you mean ...?' for an unknown type (block names included)."""
    squashed = _squash(type_name)
    ranked = [f"{squashed}{r}d" for r in (1, 2, 3) if f"{squashed}{r}d" in MODULE_OF]
    if ranked:                   # `maxpool`: which rank is the input's business
        return f"; did you mean {', '.join(repr(n) for n in ranked[:-1])} or {ranked[-1]!r}?"
    if squashed in _TYPE_NAMES_ELSEWHERE:
        return f"; torch calls it '{_TYPE_NAMES_ELSEWHERE[squashed]}'"
    candidates = {_squash(n): n for n in [*MODULE_OF, *extra]}
    match = squashed if squashed in candidates else closest(squashed, candidates)
    return f"; did you mean '{candidates[match]}'?" if match else ""


def unknown_type(type_name: str, block_names: list[str] = ()) -> SpecError:
    return SpecError(f"unknown layer type '{type_name}'{suggest(type_name, list(block_names))} "
                     "(`netcalc layers` lists them)")


def catalog() -> list[dict]:
    """Every layer type with its family, aliases and arguments (for `netcalc layers`)."""
    from dataclasses import MISSING, fields

    entries: dict[type, dict] = {}
    for name, cls in all_types().items():
        entry = entries.get(cls)
        if entry is None:
            arguments = []
            for f in fields(cls):
                required = f.default is MISSING
                arguments.append({"name": f.name, "kind": str(f.type), "required": required,
                                  "default": None if required else f.default})
            entries[cls] = entry = {"type": cls.type_name, "family": cls.family,
                                    "aliases": [], "arguments": arguments}
        if name != cls.type_name:
            entry["aliases"].append(name)
    return sorted(entries.values(), key=lambda e: (e["family"], e["type"]))
