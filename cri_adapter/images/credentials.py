"""What a pull authenticates with: the request's AuthConfig, else the adapter's auth file (Docker's
config.json shape, as kubelet, podman and CRI-O's global_auth_file use it). Kept apart from the
registry client so that the adapter imports httpx only when it first pulls."""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json

from ..errors import InvalidArgument

# the names Docker Hub's credentials are kept under
DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io")
MAX_AUTH_FILE = 1 << 20


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    token: str = ""

    def __bool__(self) -> bool:
        return bool(self.username or self.token)


def _host_of(key: str) -> str:
    """A config.json key ("https://index.docker.io/v1/", "host:5000", "http://host") as a host."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in DOCKER_HUB_KEYS else host


def from_auth_file(path: str, host: str) -> Credentials:
    """The credentials ``path`` (a Docker config.json) holds for ``host``; none when it has none."""
    if not path:
        return Credentials()
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read(MAX_AUTH_FILE))
    except FileNotFoundError:
        return Credentials()
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"registry_auth_file {path}: {exc}") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    for key, entry in (auths or {}).items():
        if _host_of(key) != ("docker.io" if host in DOCKER_HUB_KEYS else host) or not isinstance(entry, dict):
            continue
        if entry.get("registrytoken"):
            return Credentials(token=str(entry["registrytoken"]))
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise InvalidArgument(f"registry_auth_file {path}: auths.{key}.auth is not base64 of user:password") \
                    from None
            return Credentials(user, password)
        return Credentials(str(entry.get("username", "")), str(entry.get("password", "")))
    return Credentials()
