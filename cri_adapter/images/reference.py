"""Image references as Kubernetes writes them, normalised as Docker does.

"busybox" -> docker.io/library/busybox:latest; "host:5000/a/b@sha256:..." keeps its digest.
"""
from __future__ import annotations

import dataclasses
import re

from ..errors import InvalidArgument

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclasses.dataclass(frozen=True)
class Reference:
    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """host/repository, what a tag or digest is attached to."""
        return f"{self.host}/{self.repository}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"


def parse(text: str) -> Reference:
    if not text or len(text) > 4096 or any(c.isspace() for c in text):
        raise InvalidArgument(f"image {text!r}: not a valid reference")
    name, digest = text, None
    if "@" in text:
        name, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"image {text!r}: digest must be sha256:<64 hex digits>")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidArgument(f"image {text!r}: bad tag {tag!r}")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", name
    if ":" in host and not host.rsplit(":", 1)[1].isdigit():
        raise InvalidArgument(f"image {text!r}: bad registry host {host!r}")
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    if not all(_COMPONENT.match(p) for p in path.split("/")):
        raise InvalidArgument(f"image {text!r}: bad repository name {path!r}")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(host, path, tag, digest)
