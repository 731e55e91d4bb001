"""``dataclass``, ``field`` and ``replace`` for pyruntime, made cheap to import.

Every module that defines dataclasses imports them from here. Two measured
start-up costs of the standard module, and what this does about them:

1. ``import dataclasses`` imports ``inspect`` (~8 ms: ast, dis, tokenize),
   used only to write a docstring for classes without one. Ours all have
   one, so ``inspect`` is registered as a deferred module that imports the
   real one on first attribute access (what importlib's LazyLoader does,
   except that LazyLoader already loads when the import system reads
   ``__spec__``).
2. ``@dataclass`` compiles each generated method (__init__, __eq__,
   __setattr__ ...) from source with ``exec``: ~0.5 ms per frozen class.
   ``dataclasses`` looks ``exec`` up as a module global, so it gets one that
   keeps compiled code in marshal files under <venv>/var/cache/pyruntime (the
   interpreter's prefix, known even under -S; not the package directory,
   which pip must be able to remove),
   one per defining module, keyed by the exact source text: same text, same
   code object, so classes are identical to uncached ones, and a changed class
   just misses.
   Files are written at install (``python -m pyruntime._dataclasses``) and
   refreshed by any run that compiled something new.
"""
from __future__ import annotations

import builtins
import marshal
import os
import sys

_CACHE_DIR = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "var", "cache", "pyruntime")
_TAG = sys.implementation.cache_tag
_by_module: dict[str, dict] = {}
_new: set[str] = set()


class _DeferredModule(type(sys)):
    """Stands in for a module until one of its attributes is used."""

    __spec__ = None  # read by the import system; must not trigger the load

    def __getattr__(self, name):
        del sys.modules[self.__name__]
        real = __import__(self.__name__)
        sys.modules[self.__name__] = real
        return getattr(real, name)


def _cache_path(module: str) -> str:
    return os.path.join(_CACHE_DIR, f"{module}.dataclasses.{_TAG}.marshal")


def _codes_for(module: str) -> dict:
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
    return codes


def _cached_exec(source, globals_=None, locals_=None):
    """``exec`` as dataclasses calls it, compiling each distinct source once."""
    if isinstance(source, str) and globals_ is not None:
        module = globals_.get("__name__", "")
        codes = _codes_for(module)
        code = codes.get(source)
        if code is None:
            code = codes[source] = compile(source, "<dataclass>", "exec")
            _new.add(module)
        source = code
    return builtins.exec(source, globals_, locals_)


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


if "inspect" not in sys.modules and "dataclasses" not in sys.modules:
    sys.modules["inspect"] = _DeferredModule("inspect")

import dataclasses  # noqa: E402

dataclasses.exec = _cached_exec
dataclass = dataclasses.dataclass
field = dataclasses.field
replace = dataclasses.replace
asdict = dataclasses.asdict
fields = dataclasses.fields


def warm() -> int:
    """Import every module of the package (defining its classes), then save."""
    import importlib
    import pkgutil
    import pyruntime
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
    print(f"pyruntime: {installed.warm()} dataclass methods precompiled")
