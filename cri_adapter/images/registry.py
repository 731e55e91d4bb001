"""An OCI distribution (v2) client on httpx: manifests and blobs, verified as they stream.

Endpoints come from containerd's hosts.toml layout (``hosts.py``): mirrors first, each for
what its capabilities allow ("resolve": a tag to a manifest; "pull": anything by digest),
the server last, each with its own TLS settings; HTTP/2 where a registry offers it (ALPN).
Token auth (Bearer: realm, service and scope from the challenge) and Basic auth, from the
request's credentials (sent only to the image's own host) or the adapter's auth file.
A blob is written to a temporary name, hashed while it arrives, handed to a sink (the
unpacker) as it arrives, and renamed into the store only when its size and sha256 match
what the manifest said; a connection lost in the middle is resumed with a Range request.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import platform
import re
import ssl

import httpx

from ..errors import FailedPrecondition, NotFound, Unavailable
from . import hosts
from .credentials import Credentials, from_auth_file

log = logging.getLogger(__name__)

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[0], MANIFEST_TYPES[2]
MAX_MANIFEST = 4 << 20
MACHINE = platform.machine()
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm"}.get(MACHINE, MACHINE)
VARIANT = {"aarch64": "v8", "armv7l": "v7", "armv6l": "v6"}.get(MACHINE, "")
RESUMES = 5  # connections lost in the middle of one blob before the pull gives up
CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(?:\d+|\*)$")


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _ssl_context(endpoint: hosts.Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for ca in endpoint.ca:
        context.load_verify_locations(cafile=ca)
    for pair in endpoint.client:
        context.load_cert_chain(*pair)
    if endpoint.skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Client:
    def __init__(self, config, connections: int = 8):
        self.config = config
        self.connections = connections
        self.clients: dict[tuple, httpx.AsyncClient] = {}  # one per TLS setting
        self.tokens: dict[tuple[str, str], str] = {}

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def _http(self, endpoint: hosts.Endpoint) -> httpx.AsyncClient:
        client = self.clients.get(endpoint.tls)
        if client is None:
            timeout = float(self.config.registry_timeout)  # per connect, read and write: a dead registry ends a pull
            try:
                context = _ssl_context(endpoint)
            except (OSError, ssl.SSLError) as exc:
                raise FailedPrecondition(f"registry {endpoint.api}: TLS settings: {exc}") from None
            client = httpx.AsyncClient(http2=True, verify=context, timeout=httpx.Timeout(timeout),
                                       limits=httpx.Limits(max_connections=self.connections),
                                       follow_redirects=True)
            self.clients[endpoint.tls] = client
        return client

    def _credentials(self, endpoint: hosts.Endpoint, ref, creds: Credentials) -> Credentials:
        """The request's credentials go to the image's own host only (as containerd does); others
        use the auth file's."""
        own = endpoint.host in (ref.host, hosts.default_server(ref.host).split("://", 1)[1])
        if creds and own:
            return creds
        found = from_auth_file(self.config.registry_auth_file, endpoint.host)
        if not found and own:
            found = from_auth_file(self.config.registry_auth_file, ref.host)
        return found

    async def _get(self, ref, path: str, creds: Credentials, headers: dict, capability: str,
                   stream: bool = False):
        errors = []
        for endpoint in hosts.endpoints(self.config.registry_config_path, ref.host):
            if capability not in endpoint.capabilities:
                continue
            url = f"{endpoint.api}/{ref.repository}/{path}"
            try:
                response = await self._send(endpoint, url, ref, self._credentials(endpoint, ref, creds),
                                            {**dict(endpoint.headers), **headers}, stream)
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
        raise Unavailable(f"image {ref}: {'; '.join(errors) or f'no endpoint may {capability} it'}")

    async def _send(self, endpoint: hosts.Endpoint, url: str, ref, creds: Credentials, headers: dict,
                    stream: bool):
        http = self._http(endpoint)
        key = (endpoint.api, ref.repository)
        auth = dict(headers)
        if key in self.tokens:
            auth["Authorization"] = self.tokens[key]
        response = await http.send(http.build_request("GET", url, headers=auth), stream=True)
        if response.status_code == 401 and "www-authenticate" in response.headers:
            await response.aclose()
            self.tokens[key] = await self._authorize(http, response.headers["www-authenticate"], ref, creds)
            auth["Authorization"] = self.tokens[key]
            response = await http.send(http.build_request("GET", url, headers=auth), stream=True)
        if not stream and response.status_code < 400:
            await response.aread()
        return response

    async def _authorize(self, http: httpx.AsyncClient, header: str, ref, creds: Credentials) -> str:
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
        response = await http.get(params["realm"], params=query, auth=basic)
        if response.status_code != 200:
            raise FailedPrecondition(f"image {ref}: token from {params['realm']}: HTTP {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise FailedPrecondition(f"image {ref}: the token service gave no token")
        return f"Bearer {token}"

    async def manifest(self, ref, reference: str, creds: Credentials) -> tuple[str, bytes, str]:
        """(media type, bytes, digest) of a manifest or index; a digest reference is verified."""
        capability = "pull" if reference.startswith("sha256:") else "resolve"
        response = await self._get(ref, f"manifests/{reference}", creds, {"Accept": ", ".join(MANIFEST_TYPES)},
                                   capability)
        body = response.content
        if len(body) > MAX_MANIFEST:
            raise FailedPrecondition(f"image {ref}: manifest larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise FailedPrecondition(f"image {ref}: manifest digest {digest} is not the {reference} asked for")
        media = response.headers.get("content-type", "").split(";")[0]
        return media, body, digest

    async def blob(self, ref, digest: str, size: int, dest: str, creds: Credentials, budget: int,
                   sink=None) -> None:
        """Download a blob to ``dest`` (renamed into place only once verified), each chunk also
        awaited into ``sink`` as it arrives; a lost connection is resumed where it broke."""
        if size > budget:
            raise FailedPrecondition(f"image {ref}: blob {digest} is {size} bytes, over the limit of {budget}")
        tmp = f"{dest}.{os.getpid()}.partial"
        hasher, got, resumes = hashlib.sha256(), 0, 0
        try:
            with open(tmp, "wb") as f:
                while True:
                    response = await self._get(ref, f"blobs/{digest}", creds,
                                               {"Range": f"bytes={got}-"} if got else {}, "pull", stream=True)
                    try:
                        skip = _already_have(response, got, ref, digest)
                        async for chunk in response.aiter_bytes():  # as it arrives: nothing held back when a connection breaks
                            if skip:  # the registry ignored the Range: pass over what we have
                                cut = min(skip, len(chunk))
                                chunk, skip = chunk[cut:], skip - cut
                            got += len(chunk)
                            if got > size:
                                raise FailedPrecondition(f"image {ref}: blob {digest} is longer than its {size} bytes")
                            hasher.update(chunk)
                            f.write(chunk)
                            if sink is not None and chunk:
                                await sink(chunk)
                        break
                    except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
                        resumes += 1
                        if resumes > RESUMES:
                            raise
                        log.info("image %s: blob %s: connection lost at byte %d (%s); resuming", ref, digest, got,
                                 exc or type(exc).__name__)
                    finally:
                        await response.aclose()
            if got != size or "sha256:" + hasher.hexdigest() != digest:
                raise FailedPrecondition(f"image {ref}: blob {digest} does not match its digest or size "
                                         f"(got {got} bytes, sha256:{hasher.hexdigest()})")
            os.rename(tmp, dest)
        except httpx.HTTPError as exc:
            raise Unavailable(f"image {ref}: blob {digest}: {exc or type(exc).__name__}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _already_have(response, got: int, ref, digest: str) -> int:
    """How many bytes at the start of ``response`` we already hold: 0 for an answer to a Range
    request that starts where we asked, ``got`` for a whole blob sent again."""
    if not got or response.status_code == 200:
        return got
    match = CONTENT_RANGE.match(response.headers.get("content-range", ""))
    if response.status_code != 206 or not match or int(match.group(1)) != got:
        raise Unavailable(f"image {ref}: blob {digest}: asked to resume at byte {got}, got HTTP "
                          f"{response.status_code} {response.headers.get('content-range', '')!r}")
    return 0


def select_platform(index: dict, ref, arch: str = ARCH, variant: str = VARIANT) -> dict:
    """The index entry for linux on this machine's architecture and variant: the variant itself
    first, else an entry that names none (containerd's order for arm64/v8, for example)."""
    candidates = [entry for entry in index.get("manifests") or ()
                  if (entry.get("platform") or {}).get("os") == "linux"
                  and (entry.get("platform") or {}).get("architecture") == arch
                  and (entry["platform"].get("variant") or "") in {variant, ""}]
    for entry in sorted(candidates, key=lambda e: e["platform"].get("variant") != variant):
        return entry
    raise NotFound(f"image {ref}: no manifest for linux/{arch}{'/' + variant if variant else ''}")
