"""``dataclass``, ``field`` and ``replace``: the part of the standard module pyruntime uses, at a fraction of its start-up cost.

Every module that defines dataclasses imports them from here. The standard
``dataclasses`` cost `create` about a fifth of its time: importing it pulls in
re, enum, copy, inspect and more, and ``@dataclass`` runs generic machinery
and ``exec`` of freshly generated source for every class. pyruntime's classes
use a small subset: plain or ``frozen=True``, defaults and
``field(default=..., default_factory=...)``, no inheritance between
dataclasses, no ClassVar/InitVar/__post_init__; and ``replace()``. This module
implements that subset with the methods the standard module gives:
``__init__``, ``__repr__``, ``__eq__``, and for frozen classes ``__hash__``
plus a ``__setattr__``/``__delattr__`` that raise ``FrozenInstanceError``
(an AttributeError); non-frozen classes are unhashable, as there.
``tests/unit/test_dataclasses.py`` holds it to the standard module's
behaviour.

Only ``__init__`` is generated per class (it is the one method on a hot path);
the others are shared functions that read ``__match_args__``. The generated
code is compiled at install into pyruntime's code file (see ``codeblob``),
keyed by the class's shape (frozen, field names and kinds of default), which
is all the source depends on, so a changed class just misses and is compiled
on the spot.
"""
from __future__ import annotations


_by_module: dict[str, dict] = {}  # module -> {__init__ source: code}
# where compiled __init__ methods are kept: codeblob.install() says (no import of it here)
_stored = None


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen dataclass (the standard module's name)."""


class Field:
    """One field: its name, and its default or default factory (MISSING when none)."""

    __slots__ = ("name", "default", "default_factory")

    def __init__(self, default=MISSING, default_factory=MISSING):
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default, self.default_factory = default, default_factory

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def field(*, default=MISSING, default_factory=MISSING) -> Field:
    return Field(default, default_factory)


def dataclass(cls=None, /, *, frozen: bool = False):
    """``@dataclass`` or ``@dataclass(frozen=True)``."""
    def wrap(c):
        return _process(c, frozen)
    return wrap if cls is None else wrap(cls)


def fields(obj) -> tuple[Field, ...]:
    return tuple(obj.__dataclass_fields__.values())


def replace(obj, /, **changes):
    """A copy of ``obj`` with some fields changed (through ``__init__``, as the standard one)."""
    for name in obj.__dataclass_fields__:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)


def _collect_fields(cls) -> list[Field]:
    out = []
    for name in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            f = value
            if f.default is MISSING:
                delattr(cls, name)  # a factory or required field leaves no class attribute
            else:
                setattr(cls, name, f.default)
        else:
            if isinstance(value, (list, dict, set)):
                raise ValueError(f"{cls.__qualname__}.{name}: mutable default {type(value).__name__}: "
                                 "use field(default_factory=...)")
            f = Field(default=value)
        f.name = name
        out.append(f)
    for before, after in zip(out, out[1:]):
        if after.default is MISSING and after.default_factory is MISSING and (
                before.default is not MISSING or before.default_factory is not MISSING):
            raise TypeError(f"{cls.__qualname__}: non-default argument {after.name!r} follows default argument")
    return out


REQUIRED, DEFAULT, FACTORY = 0, 1, 2


def _shape(fields_: list[Field], frozen: bool) -> tuple:
    """What ``__init__`` depends on: frozen, and each field's name and kind of default."""
    return (frozen, *[(f.name, FACTORY if f.default_factory is not MISSING else
                       DEFAULT if f.default is not MISSING else REQUIRED) for f in fields_])


def _init_source(shape: tuple) -> str:
    """``__init__``; defaults are names in its globals, so the text depends only on the shape."""
    frozen, params, body = shape[0], [], []
    for n, kind in shape[1:]:
        if kind == FACTORY:
            params.append(f"{n}=_MISSING")
            value = f"_factory_{n}() if {n} is _MISSING else {n}"
        elif kind == DEFAULT:
            params.append(f"{n}=_default_{n}")
            value = n
        else:
            params.append(n)
            value = n
        body.append(f"    _set(self, {n!r}, {value})" if frozen else f"    self.{n} = {value}")
    return f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"


def _values(self) -> tuple:
    return tuple([getattr(self, n) for n in self.__match_args__])


def _repr(self) -> str:
    shown = ", ".join([f"{n}={getattr(self, n)!r}" for n in self.__match_args__])
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self, other):
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _hash(self) -> int:
    return hash(_values(self))


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


_SHARED = {"__repr__": _repr, "__eq__": _eq}
_SHARED_FROZEN = {**_SHARED, "__hash__": _hash, "__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr}


def _process(cls, frozen: bool):
    fields_ = _collect_fields(cls)
    namespace = {"_MISSING": MISSING, "_set": object.__setattr__, "__name__": cls.__module__}
    for f in fields_:
        if f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
        elif f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
    exec(_compiled(cls.__module__, _shape(fields_, frozen)), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    for name, fn in (("__init__", init), *(_SHARED_FROZEN if frozen else _SHARED).items()):
        if name not in cls.__dict__:
            setattr(cls, name, fn)
    if not frozen and "__hash__" not in cls.__dict__:
        cls.__hash__ = None  # eq without frozen: unhashable, as the standard module makes it
    cls.__dataclass_fields__ = {f.name: f for f in fields_}
    cls.__match_args__ = tuple([f.name for f in fields_])
    return cls


def _compiled(module: str, shape: tuple):
    codes = _by_module.get(module)
    if codes is None:
        codes = _by_module[module] = _stored(module) if _stored is not None else {}
    code = codes.get(shape)
    if code is None:
        code = codes[shape] = compile(_init_source(shape), f"<dataclass {module}>", "exec")
    return code


def compiled_by_module() -> dict[str, dict]:
    """Every ``__init__`` made so far, for ``codeblob.build``."""
    return _by_module


def use_stored(lookup) -> None:
    """``lookup(module)``: the compiled ``__init__`` methods of ``module``, by shape (codeblob's)."""
    global _stored
    _stored = lookup
