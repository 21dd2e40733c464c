"""Records: classes declared like dataclasses, made without generated code.

`@dataclass(frozen=True)` compiles __init__, __repr__, __eq__, __hash__,
__setattr__ and __delattr__ from generated source for each class, about
0.5 ms a class, and importing `dataclasses` brings `inspect` (~8 ms). netcalc
declares over a hundred classes (one per layer type, and the results); made
that way they cost start-up more than summarizing ResNet-50 does. A Record
subclass lists its fields as annotations with defaults, as a dataclass does;
its methods are these, shared by every record.

    class Step(Record):
        symbol: str
        remarks: list = field(default_factory=list)

Frozen by default; `class Group(Record, frozen=False)` may be assigned to.
"""

from __future__ import annotations


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()    # a field without a default


class FrozenInstanceError(AttributeError):
    """An assignment to a frozen record's field."""


class Field:
    """One field: its name, annotation (as written) and default or default factory."""

    __slots__ = ("name", "type", "default", "default_factory")

    def __init__(self, name: str, type: str, default=MISSING, default_factory=MISSING):
        self.name, self.type = name, type
        self.default, self.default_factory = default, default_factory

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.type!r}, default={self.default!r})"


def field(*, default_factory):
    """A field whose default is made anew for each record (a list, a dict)."""
    return Field("", "", default_factory=default_factory)


def fields(record_or_class) -> tuple[Field, ...]:
    return record_or_class._fields


def replace(record, **changes):
    """A copy of the record with these fields changed."""
    return type(record)(**{**{name: getattr(record, name) for name in record._names}, **changes})


def _is_class_var(annotation) -> bool:
    return isinstance(annotation, str) and \
        annotation.startswith(("ClassVar", "typing.ClassVar"))


class Record:
    """Base of a record: subclass it and annotate the fields."""

    __slots__ = ()
    _fields: tuple[Field, ...] = ()
    _names: tuple[str, ...] = ()
    _name_set: frozenset = frozenset()
    _defaults: dict = {}
    _factories: tuple = ()            # (name, default_factory) pairs

    def __init_subclass__(cls, frozen: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = {f.name: f for f in cls._fields}      # the bases' fields come first
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_class_var(annotation):
                continue
            default = cls.__dict__.get(name, MISSING)
            if isinstance(default, Field):             # field(default_factory=...)
                declared[name] = Field(name, annotation, default_factory=default.default_factory)
                delattr(cls, name)
            else:
                declared[name] = Field(name, annotation, default)
        cls._fields = tuple(declared.values())
        cls._names = tuple(declared)
        cls._name_set = frozenset(declared)
        cls._defaults = {f.name: f.default for f in cls._fields if f.default is not MISSING}
        cls._factories = tuple((f.name, f.default_factory) for f in cls._fields
                               if f.default_factory is not MISSING)
        if not frozen:
            cls.__setattr__ = object.__setattr__
            cls.__delattr__ = object.__delattr__
            cls.__hash__ = None        # equal by value and changeable: not hashable

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
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")
