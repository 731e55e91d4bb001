"""The spec model: config.json in, a validated frozen ``Spec`` out.

Importing the package is free: the model classes, the validator and the
parser load only when a document is actually read (start, kill and delete
never need them).
"""
from __future__ import annotations

from pyruntime.fileio import read_bytes


# runc (Go's decoder) reads documents nested 10,000 deep; Python's default limit
# (1,000) would end such a document in a RecursionError
MAX_DEPTH = 5000


def read_json(path: str, source: str):
    """Parse a JSON file a person wrote (strictly: no NaN, no key twice); a syntax error
    names the line and column, and every string must be one the kernel can take."""
    import sys
    from pyruntime.startup import fastjson
    from pyruntime.errors import ConfigError, from_oserror
    try:
        data = read_bytes(path)
    except OSError as exc:
        raise from_oserror(exc, "open", path) from None
    if sys.getrecursionlimit() < MAX_DEPTH + 100:
        sys.setrecursionlimit(MAX_DEPTH + 100)
    try:
        doc = fastjson.loads(data, strict=True)
    except RecursionError:
        raise ConfigError([f"invalid JSON (nested more than {MAX_DEPTH} deep)"], source) from None
    except ValueError as exc:  # JSONDecodeError, bytes that are not UTF-8, NaN, a key twice
        where = f"line {exc.lineno} column {exc.colno}: " if hasattr(exc, "lineno") else ""
        raise ConfigError([f"{where}invalid JSON ({getattr(exc, 'msg', exc)})"], source) from None
    if b"\\u" in data:  # only an escape can put NUL or a lone surrogate in a string
        from pyruntime.model.validate import string_problems
        problems = string_problems(doc)
        if problems:
            raise ConfigError(problems, source)
    return doc


def load_spec(path: str, for_create: bool = True):
    """Read, validate and model a bundle's config.json; returns (Spec, document)."""
    doc = read_json(path, "config.json")
    return spec_from_dict(doc, for_create), doc


def spec_from_dict(doc: dict, for_create: bool = True):
    from pyruntime.model import parse, validate
    spec = parse.spec(doc)
    validate.check_semantics(spec, for_create=for_create)
    return spec
