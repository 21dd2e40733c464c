"""Frozen records, declared like dataclasses and made without generated code.

`@dataclass(frozen=True)` writes __init__, __repr__, __eq__, __hash__,
__setattr__ and __delattr__ for each class by compiling generated source:
about 0.5 ms a class. netcalc declares over a hundred (one per layer type,
and the results), which cost start-up more than summarizing ResNet-50 does.
A `Record` subclass is still a dataclass (`dataclasses.fields`, `replace` and
`asdict` work on it); its methods are these, shared by every record.
"""

from __future__ import annotations

import dataclasses

_MISSING = dataclasses.MISSING


class Record:
    """Base of a frozen record: subclass it and annotate the fields, as for a dataclass."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _name_set: frozenset = frozenset()
    _defaults: dict = {}
    _factories: tuple = ()            # (name, default_factory) pairs

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_doc = cls.__dict__.get("__doc__")
        cls.__doc__ = own_doc or cls.__name__  # dataclass would compute a signature for it
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        fields = dataclasses.fields(cls)
        cls._names = tuple(f.name for f in fields)
        cls._name_set = frozenset(cls._names)
        cls._defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
        cls._factories = tuple((f.name, f.default_factory) for f in fields
                               if f.default_factory is not _MISSING)
        if not own_doc:
            cls.__doc__ = f"{cls.__name__}({', '.join(cls._names)})"

    def __init__(self, *args, **kwargs):
        names = self._names
        values = dict(self._defaults)
        for name, factory in self._factories:
            if name not in kwargs:
                values[name] = factory()
        if args:
            if len(args) > len(names) or not kwargs.keys().isdisjoint(names[:len(args)]):
                raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments, "
                                f"each once: {args}, {kwargs}")
            values.update(zip(names, args))
        values.update(kwargs)
        if len(values) != len(names) or not self._name_set.issuperset(kwargs):
            unknown = sorted(set(kwargs).difference(names))
            missing = [name for name in names if name not in values]
            raise TypeError(f"{type(self).__name__}() got " + (
                f"an unexpected argument {unknown[0]!r}" if unknown
                else f"no value for {', '.join(missing)}"))
        self.__dict__.update(values)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._names)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
