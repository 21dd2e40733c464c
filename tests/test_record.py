"""Records (netcalc/record.py) behave as the frozen dataclasses they replace."""

from __future__ import annotations

from typing import ClassVar

import pytest

from netcalc.record import MISSING, FrozenInstanceError, Record, field, fields, replace


class Point(Record):
    kind: ClassVar[str] = "point"     # a class constant, not a field
    x: int
    y: int = 0
    tags: list = field(default_factory=list)


class Point3(Point):
    z: int = 0


class Cell(Record, frozen=False):
    value: int


def test_fields_defaults_and_order_follow_the_annotations_bases_first():
    assert [(f.name, f.default) for f in fields(Point3)] == \
        [("x", MISSING), ("y", 0), ("tags", MISSING), ("z", 0)]
    assert Point3(1, z=3) == Point3(x=1, y=0, tags=[], z=3)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    assert Point(1).tags is not Point(1).tags          # a new list for each record


def test_equal_by_type_and_value_hashable_when_frozen():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert Point(1) != Point3(1)
    assert hash(Point(1, 2, ())) == hash(Point(1, 2, ()))
    with pytest.raises(TypeError):
        hash(Cell(1))                   # changeable: not hashable, as a dataclass


def test_frozen_unless_declared_otherwise():
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2
    cell = Cell(1)
    cell.value = 2
    assert cell.value == 2
    assert replace(point, y=5) == Point(1, 5) and point.y == 0


@pytest.mark.parametrize("make, words", [
    (lambda: Point(), "no value for x"),
    (lambda: Point(1, w=2), "unexpected argument 'w'"),
    (lambda: Point(1, x=2), "each once"),
    (lambda: Point(1, 2, [], 4), "each once"),
])
def test_wrong_arguments_are_type_errors(make, words):
    with pytest.raises(TypeError, match=words):
        make()
