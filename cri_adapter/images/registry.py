"""An OCI distribution (v2) client on httpx: manifests and blobs, verified as they stream.

Token auth (Bearer: realm, service and scope from the challenge) and Basic auth from
the request's credentials; plain HTTP and mirrors per host from the adapter's config.
A blob is written to a temporary name, hashed while it arrives, and renamed into the
store only when its size and sha256 match what the manifest said.
"""
from __future__ import annotations

import base64
import hashlib
import os
import platform
import re

import httpx

from ..errors import FailedPrecondition, NotFound, Unavailable
from .credentials import Credentials

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[0], MANIFEST_TYPES[2]
MAX_MANIFEST = 4 << 20
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


class Client:
    def __init__(self, config, connections: int = 8):
        self.config = config
        timeout = float(config.registry_timeout)  # per connect, read and write: a dead registry ends a pull
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout),
                                      limits=httpx.Limits(max_connections=connections),
                                      follow_redirects=True)
        self.tokens: dict[tuple[str, str], str] = {}

    async def close(self) -> None:
        await self.http.aclose()

    def _endpoints(self, host: str) -> list[str]:
        hosts = list(self.config.registry(host).mirrors) + [host]
        out = []
        for h in hosts:
            insecure = self.config.registry(h).insecure
            real = "registry-1.docker.io" if h == "docker.io" else h
            out.append(f"{'http' if insecure else 'https'}://{real}")
        return out

    async def _get(self, ref, path: str, creds: Credentials, headers: dict, stream: bool = False):
        errors = []
        for base in self._endpoints(ref.host):
            url = f"{base}/v2/{ref.repository}/{path}"
            try:
                response = await self._send(url, ref, creds, headers, stream)
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {exc or type(exc).__name__}")
                continue
            if response.status_code == 404:
                await response.aclose()
                errors.append(f"{url}: not found")
                continue
            if response.status_code >= 400:
                await response.aclose()
                errors.append(f"{url}: HTTP {response.status_code}")
                continue
            return response
        if errors and all(e.endswith("not found") for e in errors):
            raise NotFound(f"image {ref}: {errors[-1]}")
        raise Unavailable(f"image {ref}: {'; '.join(errors)}")

    async def _send(self, url: str, ref, creds: Credentials, headers: dict, stream: bool):
        key = (ref.host, ref.repository)
        auth = dict(headers)
        if key in self.tokens:
            auth["Authorization"] = self.tokens[key]
        request = self.http.build_request("GET", url, headers=auth)
        response = await self.http.send(request, stream=True)
        if response.status_code == 401 and "www-authenticate" in response.headers:
            await response.aclose()
            self.tokens[key] = await self._authorize(response.headers["www-authenticate"], ref, creds)
            auth["Authorization"] = self.tokens[key]
            response = await self.http.send(self.http.build_request("GET", url, headers=auth), stream=True)
        if not stream and response.status_code < 400:
            await response.aread()
        return response

    async def _authorize(self, header: str, ref, creds: Credentials) -> str:
        scheme, params = _challenge(header)
        basic = httpx.BasicAuth(creds.username, creds.password) if creds.username else None
        if scheme == "basic":
            if basic is None:
                raise FailedPrecondition(f"image {ref}: the registry asks for a user name and password")
            return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if scheme != "bearer" or "realm" not in params:
            raise FailedPrecondition(f"image {ref}: unsupported authentication {header!r}")
        if creds.token:
            return f"Bearer {creds.token}"
        query = {"service": params.get("service", ""), "scope": params.get("scope") or
                 f"repository:{ref.repository}:pull"}
        response = await self.http.get(params["realm"], params=query, auth=basic)
        if response.status_code != 200:
            raise FailedPrecondition(f"image {ref}: token from {params['realm']}: HTTP {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise FailedPrecondition(f"image {ref}: the token service gave no token")
        return f"Bearer {token}"

    async def manifest(self, ref, reference: str, creds: Credentials) -> tuple[str, bytes, str]:
        """(media type, bytes, digest) of a manifest or index; a digest reference is verified."""
        response = await self._get(ref, f"manifests/{reference}", creds, {"Accept": ", ".join(MANIFEST_TYPES)})
        body = response.content
        if len(body) > MAX_MANIFEST:
            raise FailedPrecondition(f"image {ref}: manifest larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise FailedPrecondition(f"image {ref}: manifest digest {digest} is not the {reference} asked for")
        media = response.headers.get("content-type", "").split(";")[0]
        return media, body, digest

    async def blob(self, ref, digest: str, size: int, dest: str, creds: Credentials, budget: int) -> None:
        """Download a blob to ``dest`` (renamed into place only once verified)."""
        if size > budget:
            raise FailedPrecondition(f"image {ref}: blob {digest} is {size} bytes, over the limit of {budget}")
        tmp = f"{dest}.{os.getpid()}.partial"
        response = await self._get(ref, f"blobs/{digest}", creds, {}, stream=True)
        hasher, got = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in response.aiter_bytes(1 << 16):
                    got += len(chunk)
                    if got > size:
                        raise FailedPrecondition(f"image {ref}: blob {digest} is longer than its {size} bytes")
                    hasher.update(chunk)
                    f.write(chunk)
            if got != size or "sha256:" + hasher.hexdigest() != digest:
                raise FailedPrecondition(f"image {ref}: blob {digest} does not match its digest or size "
                                         f"(got {got} bytes, sha256:{hasher.hexdigest()})")
            os.rename(tmp, dest)
        except httpx.HTTPError as exc:
            raise Unavailable(f"image {ref}: blob {digest}: {exc or type(exc).__name__}") from None
        finally:
            await response.aclose()
            if os.path.exists(tmp):
                os.unlink(tmp)


def select_platform(index: dict, ref) -> dict:
    """The index entry for linux on this machine's architecture."""
    for entry in index.get("manifests") or ():
        p = entry.get("platform") or {}
        if p.get("os") == "linux" and p.get("architecture") == ARCH:
            return entry
    raise NotFound(f"image {ref}: no manifest for linux/{ARCH}")
