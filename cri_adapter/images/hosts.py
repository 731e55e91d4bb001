"""Where an image's registry host is reached: containerd's hosts.toml, read the way containerd reads it.

    <registry_config_path>/<host>/hosts.toml       (or <registry_config_path>/_default/hosts.toml)

    server = "https://registry.example"      # the host itself (default https://<host>; docker.io's API host)
    capabilities = ["pull", "resolve"]       # what the server is used for
    skip_verify = false
    ca = "/etc/ssl/registry-ca.pem"          # a file, or a list of files

    [host."http://127.0.0.1:5000"]           # mirrors, tried in file order before the server
    capabilities = ["pull", "resolve"]       # resolve: tags to digests; pull: content by digest
    skip_verify = false
    ca = ["/etc/ssl/mirror-ca.pem"]
    client = [["/etc/ssl/client.crt", "/etc/ssl/client.key"]]
    override_path = false                    # true: the URL's path is the API root (no "/v2" added)
    [host."http://127.0.0.1:5000".header]
    x-custom = "value"

The same directory can serve containerd (`config_path`) and pyruntime-cri. Pure: read and
parsed at each pull (so an edit takes effect without a restart, as with containerd).
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import urllib.parse

from ..errors import InvalidArgument

CAPABILITIES = frozenset({"pull", "resolve", "push"})
DOCKER_HUB = "docker.io"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    api: str                                   # the API root URL, e.g. "https://host:5000/v2"
    capabilities: frozenset[str] = CAPABILITIES
    skip_verify: bool = False
    ca: tuple[str, ...] = ()
    client: tuple[tuple[str, ...], ...] = ()   # (cert, key) pairs, or (cert-with-key,)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.api).netloc

    @property
    def tls(self) -> tuple:
        """What decides the TLS client this endpoint needs (one HTTP client per distinct value)."""
        return self.skip_verify, self.ca, self.client


def default_server(host: str) -> str:
    return "https://registry-1.docker.io" if host == DOCKER_HUB else f"https://{host}"


def endpoints(config_dir: str, host: str) -> list[Endpoint]:
    """The endpoints for ``host``, in the order they are tried: mirrors first, the server last."""
    path = _hosts_file(config_dir, host)
    if path is None:
        return [Endpoint(default_server(host) + "/v2")]
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    return parse(doc, host, path)


def _hosts_file(config_dir: str, host: str) -> str | None:
    if not config_dir:
        return None
    for name in (host, "_default"):
        if "/" in name or name in (".", ".."):
            continue  # a host name never names another directory
        path = os.path.join(config_dir, name, "hosts.toml")
        if os.path.isfile(path):
            return path
    return None


def parse(doc: dict, host: str, source: str) -> list[Endpoint]:
    doc = dict(doc)
    mirrors = doc.pop("host", {})
    if not isinstance(mirrors, dict):
        raise InvalidArgument(f"{source}: host: expected a table of hosts")
    out = [_endpoint(url, dict(table), f"{source}: host.{url!r}") for url, table in mirrors.items()]
    server = doc.pop("server", default_server(host))
    server_table = {k: doc.pop(k) for k in ("capabilities", "skip_verify", "ca", "client", "override_path",
                                            "header") if k in doc}
    if doc:
        raise InvalidArgument(f"{source}: unknown key {sorted(doc)[0]!r}")
    out.append(_endpoint(server, server_table, f"{source}: server"))
    return out


def _endpoint(url: str, table: dict, where: str) -> Endpoint:
    if "://" not in url:
        url = "https://" + url  # containerd's default scheme
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"{where}: {url!r} is not an http(s) URL")
    path = parts.path.rstrip("/")
    if not table.pop("override_path", False):
        path += "/v2"
    capabilities = table.pop("capabilities", sorted(CAPABILITIES))
    if not isinstance(capabilities, list) or not set(capabilities) <= CAPABILITIES:
        raise InvalidArgument(f"{where}: capabilities: expected a list of {sorted(CAPABILITIES)}")
    ca = table.pop("ca", [])
    client = table.pop("client", [])
    headers = table.pop("header", {})
    skip_verify = table.pop("skip_verify", False)
    if table:
        raise InvalidArgument(f"{where}: unknown key {sorted(table)[0]!r}")
    if not isinstance(skip_verify, bool) or not isinstance(headers, dict):
        raise InvalidArgument(f"{where}: skip_verify is a boolean and header a table")
    client = [client] if isinstance(client, str) else client
    return Endpoint(api=f"{parts.scheme}://{parts.netloc}{path}", capabilities=frozenset(capabilities),
                    skip_verify=skip_verify, ca=tuple([ca] if isinstance(ca, str) else ca),
                    client=tuple(tuple([c] if isinstance(c, str) else c) for c in client),
                    headers=tuple((str(k), ", ".join(v) if isinstance(v, list) else str(v))
                                  for k, v in sorted(headers.items())))
