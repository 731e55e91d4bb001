"""The spec model: config.json in, a validated frozen ``Spec`` out.

Importing the package is free: the model classes, the validator and the
parser load only when a document is actually read (start, kill and delete
never need them).
"""
from __future__ import annotations

from pyruntime.fileio import read_bytes


def read_json(path: str, source: str):
    """Parse a JSON file; a syntax error names the line and column."""
    from pyruntime import fastjson
    from pyruntime.errors import ConfigError, from_oserror
    try:
        return fastjson.loads(read_bytes(path))
    except OSError as exc:
        raise from_oserror(exc, "open", path) from None
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        where = f"line {exc.lineno} column {exc.colno}: " if hasattr(exc, "lineno") else ""
        raise ConfigError([f"{where}invalid JSON ({getattr(exc, 'msg', exc)})"], source) from None


def load_spec(path: str, for_create: bool = True):
    """Read, validate and model a bundle's config.json; returns (Spec, document)."""
    doc = read_json(path, "config.json")
    return spec_from_dict(doc, for_create), doc


def spec_from_dict(doc: dict, for_create: bool = True):
    from pyruntime.model import parse, validate
    validate.check_schema(doc)
    spec = parse.spec(doc)
    validate.check_semantics(spec, for_create=for_create)
    return spec
