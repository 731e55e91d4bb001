"""``dataclass``, ``field`` and ``replace``: the part of the standard module pyruntime uses, at a fraction of its start-up cost.

Every module that defines dataclasses imports them from here. The standard
``dataclasses`` cost `create` about a fifth of its time: importing it pulls in
re, enum, copy, inspect and more, and ``@dataclass`` runs generic machinery
and ``exec`` of freshly generated source for every class. pyruntime's classes
use a small subset: plain or ``frozen=True``, defaults and
``field(default=..., default_factory=...)``, no inheritance between
dataclasses, no ClassVar/InitVar/__post_init__; and ``replace()``. This module
implements that subset and generates the methods the standard module would:
``__init__``, ``__repr__``, ``__eq__``, and for frozen classes ``__hash__``
plus a ``__setattr__``/``__delattr__`` that raise ``FrozenInstanceError``
(an AttributeError); non-frozen classes are unhashable, as there.
``tests/unit/test_dataclasses.py`` holds it to the standard module's
behaviour.

Each class's methods are one piece of generated source; its compiled code is
kept in a marshal file per defining module under <venv>/var/cache/pyruntime
(the interpreter's prefix, known even under -S; not the package directory,
which pip must be able to remove), keyed by the exact source text, so a
changed class just misses (and is compiled, at a small cost, until the next
install). Files are written at install (``python -m pyruntime._dataclasses``).
"""
from __future__ import annotations

import marshal
import os
import sys

_CACHE_DIR = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "var", "cache", "pyruntime")
_TAG = sys.implementation.cache_tag
_by_module: dict[str, dict] = {}
_new: set[str] = set()


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


def _source(fields_: list[Field], frozen: bool) -> str:
    """The methods of one class; defaults are names in its globals, so the text depends only on the shape."""
    params, body = [], []
    for f in fields_:
        n = f.name
        if f.default_factory is not MISSING:
            params.append(f"{n}=_MISSING")
            value = f"_factory_{n}() if {n} is _MISSING else {n}"
        elif f.default is not MISSING:
            params.append(f"{n}=_default_{n}")
            value = n
        else:
            params.append(n)
            value = n
        body.append(f"    _set(self, {n!r}, {value})" if frozen else f"    self.{n} = {value}")
    names = [f.name for f in fields_]
    values = "".join(f"self.{n}," for n in names)
    others = "".join(f"other.{n}," for n in names)
    shown = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    text = (f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
            f"def __repr__(self):\n    return f\"{{self.__class__.__qualname__}}({shown})\"\n"
            f"def __eq__(self, other):\n"
            f"    if other.__class__ is self.__class__:\n        return ({values}) == ({others})\n"
            f"    return NotImplemented\n")
    if frozen:
        text += (f"def __hash__(self):\n    return hash(({values}))\n"
                 "def __setattr__(self, name, value):\n"
                 "    raise _FrozenInstanceError(f'cannot assign to field {name!r}')\n"
                 "def __delattr__(self, name):\n"
                 "    raise _FrozenInstanceError(f'cannot delete field {name!r}')\n")
    return text


def _process(cls, frozen: bool):
    fields_ = _collect_fields(cls)
    namespace = {"_MISSING": MISSING, "_set": object.__setattr__, "_FrozenInstanceError": FrozenInstanceError,
                 "__name__": cls.__module__}
    for f in fields_:
        if f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
        elif f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
    exec(_compiled(cls.__module__, _source(fields_, frozen)), namespace)
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
        fn = namespace.get(name)
        if fn is not None and name not in cls.__dict__:
            fn.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, fn)
    if not frozen and "__hash__" not in cls.__dict__:
        cls.__hash__ = None  # eq without frozen: unhashable, as the standard module makes it
    cls.__dataclass_fields__ = {f.name: f for f in fields_}
    cls.__match_args__ = tuple(f.name for f in fields_)
    return cls


def _cache_path(module: str) -> str:
    return os.path.join(_CACHE_DIR, f"{module}.dataclasses.{_TAG}.marshal")


def _compiled(module: str, source: str):
    codes = _by_module.get(module)
    if codes is None:
        codes = {}
        if module.startswith("pyruntime."):
            try:
                with open(_cache_path(module), "rb") as f:
                    codes = marshal.load(f)
            except (OSError, EOFError, ValueError, TypeError):
                pass
        _by_module[module] = codes
    code = codes.get(source)
    if code is None:
        code = codes[source] = compile(source, f"<dataclass {module}>", "exec")
        _new.add(module)
    return code


def save() -> None:
    """Write the caches that gained entries (best effort: a read-only install stays uncached)."""
    for module in list(_new):
        if not module.startswith("pyruntime."):
            continue
        path = _cache_path(module)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}"
            with open(tmp, "wb") as f:
                marshal.dump(_by_module[module], f)
            os.rename(tmp, path)
        except OSError:
            pass
    _new.clear()


def warm() -> int:
    """Rebuild the caches: drop the old files, import every module of the package, save."""
    import glob
    import importlib
    import pkgutil
    import pyruntime
    for old in glob.glob(os.path.join(_CACHE_DIR, f"pyruntime.*.dataclasses.{_TAG}.marshal")):
        os.unlink(old)
    _by_module.clear()
    for info in pkgutil.walk_packages(pyruntime.__path__, "pyruntime."):
        if "_build" in info.name:
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            pass
    save()
    return sum(len(c) for c in _by_module.values())


if __name__ == "__main__":
    from pyruntime import _dataclasses as installed  # the copy other modules import
    print(f"pyruntime: {installed.warm()} dataclasses precompiled")
