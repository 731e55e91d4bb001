"""One file with the compiled code of every pyruntime module, read once at start-up.

The normal import system costs each module a search along ``sys.path``
(several ``stat`` calls), a ``.pyc`` open, read and validation: about a
third of ``create``'s import time across the ~60 modules a container start
needs. ``install()`` (called by the launcher install.sh writes) puts a finder
first on ``sys.meta_path`` that serves pyruntime's modules from one marshal
file made at install (install.sh calls ``main()``): an index, read
at start, then each module's marshalled code, read with one ``pread`` when
it is imported, so the ~40 modules a container start does not need cost
neither reading nor memory (and every page of memory a command touches is a
page fault, and a page copied when it forks). The file also holds each
module's dataclass ``__init__`` code (see ``dataclass``), made by
importing every module once at build time. Its descriptor stays open
(close-on-exec) in the runtime's own process; a child that enters a container
closes it first (``close``, from ``lifecycle.boundary``), so no container
ever reaches the file through /proc/<pid>/fd.

Staleness cannot serve old code: every entry records its source's
``(mtime_ns, size)`` and a module whose source differs (an editable install
being edited, a package replaced without running install.sh) is left to the
normal import system. Anything not in the file (extension modules, the
standard library) is too.
"""
from __future__ import annotations

import marshal
import os
import sys

import _frozen_importlib  # ModuleSpec without importing importlib.util (and contextlib, types...)

PATH = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "var", "cache", "pyruntime",
                    f"modules.{sys.implementation.cache_tag}.marshal")
# Never imported at run time: the cffi build scripts.
_LEFT_OUT = ("pyruntime._build", "pyruntime.seccomp._build")

# name -> (origin, stamp, is_pkg, code (offset, size), dataclass inits (offset, size));
# offsets count from the end of the index
_entries: dict[str, tuple] = {}
_fd, _base, _path = -1, 0, ""
_HEADER = 8  # the index's length, little-endian


def _read(extent: tuple[int, int]) -> bytes:
    offset, size = extent
    return os.pread(_fd, size, _base + offset)


class _Loader:
    @staticmethod
    def create_module(spec):
        return None  # the default module object

    @staticmethod
    def exec_module(module) -> None:
        exec(marshal.loads(_read(_entries[module.__spec__.name][3])), module.__dict__)


def dataclass_codes(module: str) -> dict:
    """The compiled dataclass ``__init__`` methods of ``module``, by shape ({} when none)."""
    entry = _entries.get(module)
    return marshal.loads(_read(entry[4])) if entry is not None and entry[4][1] else {}


class _Finder:
    @staticmethod
    def find_spec(name: str, path=None, target=None):
        entry = _entries.get(name)
        if entry is None:
            return None
        origin, stamp, is_pkg = entry[:3]
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_size) != stamp:
            return None
        spec = _frozen_importlib.ModuleSpec(name, _Loader, origin=origin, is_package=is_pkg)
        spec.has_location = True  # sets __file__, which a few modules use to find their data
        spec.cached = _path  # where the compiled code is (and saves working out a .pyc name)
        if is_pkg:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    @staticmethod
    def invalidate_caches() -> None:
        pass


def install(path: str = PATH, package: str = "pyruntime") -> bool:
    """Serve ``package``'s modules from ``path``; False (and nothing changed) when it can't be
    read or was made for another copy of the package than the one imported."""
    global _fd, _base, _path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        size = int.from_bytes(os.pread(fd, _HEADER, 0), "little")
        entries = marshal.loads(os.pread(fd, size, _HEADER))
        # a file cut short (a full disk at install) would fail imports half-way: refuse it whole
        end = max((offset + length for e in entries.values() for offset, length in e[3:5]), default=0)
        if os.fstat(fd).st_size != _HEADER + size + end:
            raise ValueError("truncated")
    except (OSError, EOFError, ValueError, TypeError):
        os.close(fd)
        return False
    imported = sys.modules.get(package)  # the launcher imports it first: never mix two copies
    if imported is not None and entries.get(package, ("",))[0] != imported.__file__:
        os.close(fd)
        return False
    _fd, _base, _path = fd, _HEADER + size, path
    _entries.update(entries)
    sys.meta_path.insert(0, _Finder)
    from pyruntime.startup import dataclass
    dataclass.use_stored(dataclass_codes)
    return True


def close() -> None:
    """Stop serving modules and close the file (a forked child, before it enters a container)."""
    global _fd
    if _Finder in sys.meta_path:
        sys.meta_path.remove(_Finder)
    _entries.clear()
    if _fd >= 0:
        os.close(_fd)
        _fd = -1


def build(package_dir: str, path: str = PATH) -> int:
    """Compile every module under ``package_dir`` (the ``pyruntime`` directory) into ``path``."""
    from pyruntime.startup import dataclass
    names = _module_names(package_dir)
    for name in names:
        if not name.startswith(_LEFT_OUT):
            try:
                __import__(name)  # runs every @dataclass, so its __init__ is compiled
            except ImportError:
                pass  # an optional dependency missing: its code is still compiled below
    inits = dataclass.compiled_by_module()
    entries, payload = {}, bytearray()

    def add(data: bytes) -> tuple[int, int]:
        payload.extend(data)
        return len(payload) - len(data), len(data)

    for name, (origin, is_pkg) in names.items():
        if name.startswith(_LEFT_OUT):
            continue
        with open(origin, "rb") as f:
            source = f.read()
        st = os.stat(origin)
        code = compile(source, origin, "exec", dont_inherit=True, optimize=2)
        init_codes = marshal.dumps(inits[name]) if inits.get(name) else b""
        entries[name] = (origin, (st.st_mtime_ns, st.st_size), is_pkg,
                         add(marshal.dumps(code)), add(init_codes))
    index = marshal.dumps(entries)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(index).to_bytes(_HEADER, "little") + index + payload)
    os.rename(tmp, path)
    return len(entries)


def _module_names(package_dir: str) -> dict[str, tuple[str, bool]]:
    """Module name -> (source path, is a package), for every .py under package_dir."""
    out = {}
    top = os.path.dirname(package_dir)
    for directory, _, files in os.walk(package_dir):
        for filename in sorted(files):
            if not filename.endswith(".py"):
                continue
            origin = os.path.join(directory, filename)
            name = os.path.relpath(origin, top)[:-3].replace(os.sep, ".")
            is_pkg = filename == "__init__.py"
            if is_pkg:
                name = name[: -len(".__init__")]
            out[name] = (origin, is_pkg)
    return out


def main() -> None:
    """Build the file for the installed package (install.sh runs this)."""
    import pyruntime
    count = build(os.path.dirname(os.path.abspath(pyruntime.__file__)))
    print(f"pyruntime: {count} modules compiled into {PATH}")
