"""Layer type name -> class. Names are torch.nn class names, lower-cased."""

from __future__ import annotations


from ..errors import SpecError, closest

REGISTRY: dict[str, type] = {}


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


def lookup(type_name: str):
    """The class for a spec's `type`, matched case-insensitively; None if unknown."""
    return REGISTRY.get(type_name.lower())


# Other libraries' names for torch's layers, for suggestions.
_TYPE_NAMES_ELSEWHERE = {"dense": "linear", "fc": "linear", "fullyconnected": "linear",
              "innerproduct": "linear", "conv": "conv2d", "convolution": "conv2d",
              "deconv": "convtranspose2d", "bn": "batchnorm2d", "pool": "maxpool2d",
              "globalaveragepooling2d": "adaptiveavgpool2d", "concatenate": "concat",
              "lrn": "localresponsenorm", "swish": "silu"}


def suggest(type_name: str, extra: list[str] = ()) -> str:
    """'; did you mean ...?' for an unknown type (block names included)."""
    squashed = _squash(type_name)
    ranked = [f"{squashed}{r}d" for r in (1, 2, 3) if f"{squashed}{r}d" in REGISTRY]
    if ranked:                   # `maxpool`: which rank is the input's business
        return f"; did you mean {', '.join(repr(n) for n in ranked[:-1])} or {ranked[-1]!r}?"
    if squashed in _TYPE_NAMES_ELSEWHERE:
        return f"; torch calls it '{_TYPE_NAMES_ELSEWHERE[squashed]}'"
    candidates = {_squash(n): n for n in [*REGISTRY, *extra]}
    match = squashed if squashed in candidates else closest(squashed, candidates)
    return f"; did you mean '{candidates[match]}'?" if match else ""


def unknown_type(type_name: str, block_names: list[str] = ()) -> SpecError:
    return SpecError(f"unknown layer type '{type_name}'{suggest(type_name, list(block_names))} "
                     "(`netcalc layers` lists them)")


def catalog() -> list[dict]:
    """Every layer type with its family, aliases and arguments (for `netcalc layers`)."""
    from ..record import MISSING, fields

    entries: dict[type, dict] = {}
    for name, cls in REGISTRY.items():
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
