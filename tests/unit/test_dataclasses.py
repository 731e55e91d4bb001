"""pyruntime.startup.dataclass behaves like the standard module for the subset the code uses."""
from __future__ import annotations

import dataclasses as std

import pytest

from pyruntime.startup import dataclass as ours


def shapes(mod):
    """The same classes, made by one module or the other."""

    @mod.dataclass(frozen=True)
    class Point:
        """A frozen class with a default and a factory."""
        x: int
        y: int = 0
        tags: dict = mod.field(default_factory=dict)

    @mod.dataclass
    class Box:
        """A mutable class."""
        name: str
        items: list = mod.field(default_factory=list)
        size: tuple = mod.field(default=())

    @mod.dataclass(frozen=True)
    class Empty:
        """No fields at all."""

    return Point, Box, Empty


@pytest.fixture(params=[std, ours], ids=["std", "ours"])
def mod(request):
    return request.param


@pytest.fixture
def classes(mod):
    return shapes(mod)


def test_init_defaults_and_factories(classes):
    Point, Box, Empty = classes
    p = Point(1)
    assert (p.x, p.y, p.tags) == (1, 0, {})
    assert Point(1).tags is not Point(1).tags  # a fresh value per instance
    assert Point(x=1, y=2, tags={"a": 1}).tags == {"a": 1}
    assert Box("b").items == [] and Box("b").size == ()
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, 2, {}, 4)
    Empty()


def test_equality_hash_and_repr_match_the_standard_module():
    (sp, sb, se), (op, ob, oe) = shapes(std), shapes(ours)
    for s, o in ((sp(1, 2), op(1, 2)), (sb("n", [1]), ob("n", [1])), (se(), oe())):
        assert repr(s) == repr(o)
        assert (s == s.__class__(*[getattr(s, f.name) for f in std.fields(s)]))
        assert (o == o.__class__(*[getattr(o, f.name) for f in ours.fields(o)]))
    assert op(1, 2) == op(1, 2) and op(1, 2) != op(1, 3) and op(1) != (1, 0, {})
    assert hash(op(1, 2, ())) == hash(op(1, 2, ()))
    assert {op(1, 2, ()), op(1, 2, ())} == {op(1, 2, ())}
    with pytest.raises(TypeError):
        hash(ob("n"))  # eq without frozen: unhashable, as in the standard module
    assert std.is_dataclass(sp) and list(ours.fields(op(1))) and op.__match_args__ == ("x", "y", "tags")


def test_frozen_refuses_assignment(classes):
    Point, Box, _ = classes
    p = Point(1)
    with pytest.raises(AttributeError):
        p.x = 2
    with pytest.raises(AttributeError):
        del p.y
    b = Box("b")
    b.name = "c"
    assert b.name == "c"
    assert issubclass(ours.FrozenInstanceError, AttributeError)


def test_replace(mod, classes):
    Point, _, _ = classes
    q = mod.replace(Point(1, 2), y=5)
    assert (q.x, q.y) == (1, 5)
    with pytest.raises(TypeError):
        mod.replace(Point(1), z=1)


def test_definition_errors():
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @ours.dataclass
        class Bad:
            """Wrong order."""
            a: int = 0
            b: int
    with pytest.raises(ValueError, match="mutable default"):
        @ours.dataclass
        class Mutable:
            """A shared list."""
            a: list = []


def test_model_classes_are_ours():
    """The spec model is built with this module (not the standard one, whose import it avoids)."""
    from pyruntime.model import config
    assert config.Spec.__init__.__qualname__ == "Spec.__init__"
    assert not hasattr(config.Spec, "__dataclass_params__")  # the standard module's marker
    spec = config.Spec(oci_version="1.3.0")
    assert ours.replace(spec, hostname="h").hostname == "h" and spec.hostname != "h"
