"""pyruntime-cri's ImageService against a real registry (Debian's docker-registry in the test's
namespace): pulls by tag and digest, status, listing, removal, and a registry that lies."""
from __future__ import annotations

import base64
import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

import clients
from clients import FAKE_REGISTRY_PORT, REGISTRY_PORT, wait_for

BUSYBOX = f"127.0.0.1:{REGISTRY_PORT}/busybox:latest"


def images(cri) -> dict:
    return {i["id"]: i for i in json.loads(cri.crictl("images", "-o", "json"))["images"]}


def test_pull_status_list_and_remove(cri_adapter):
    cri = cri_adapter
    cri.crictl("pull", BUSYBOX)
    cri.crictl("pull", f"127.0.0.1:{REGISTRY_PORT}/pause:latest")
    found = images(cri)
    busybox = next(i for i in found.values() if BUSYBOX in i["repoTags"])
    digest_ref = busybox["repoDigests"][0]
    assert digest_ref.startswith(f"127.0.0.1:{REGISTRY_PORT}/busybox@sha256:")
    cri.crictl("pull", digest_ref)  # by digest: the same image
    assert len(images(cri)) == 2
    status = json.loads(cri.crictl("inspecti", "-o", "json", BUSYBOX))
    assert status["status"]["id"] == busybox["id"] and status["info"]["config"]["Cmd"] == ["sh"], status
    assert cri.crictl("images", "-q", BUSYBOX) == busybox["id"]
    layers = os.path.join(cri.dir, "root", "images", "layers")
    assert os.listdir(layers)  # the busybox and pause images share their one layer
    cri.crictl("rmi", BUSYBOX)
    cri.crictl("rmi", f"127.0.0.1:{REGISTRY_PORT}/pause:latest")
    assert images(cri) == {} and os.listdir(layers) == []
    assert os.listdir(os.path.join(cri.dir, "root", "images", "blobs", "sha256")) == []


def test_an_unknown_image_is_not_found(cri_adapter):
    proc = subprocess.run(cri_adapter.crictl_argv("pull", f"127.0.0.1:{REGISTRY_PORT}/nothing:here"),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "code = NotFound" in proc.stderr


def test_a_registry_that_is_not_there_fails_in_bounded_time(cri_adapter):
    start = time.monotonic()
    proc = subprocess.run(cri_adapter.crictl_argv("pull", "127.0.0.1:1/busybox:latest"), capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "code = Unavailable" in proc.stderr
    assert time.monotonic() - start < 30


def test_a_blob_that_does_not_match_its_digest_is_refused(cri_adapter, registry, workdir):
    """The registry serves a layer whose bytes were changed: the pull fails and stores nothing of it."""
    cri = cri_adapter
    blobs = glob.glob(os.path.join(workdir, "registry", "docker", "registry", "v2", "blobs", "sha256", "*", "*",
                                   "data"))
    layer = max(blobs, key=os.path.getsize)  # the busybox layer, by far the largest blob
    with open(layer, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    try:
        proc = subprocess.run(cri.crictl_argv("pull", f"127.0.0.1:{REGISTRY_PORT}/httpd:latest"),
                              capture_output=True, text=True)
        assert proc.returncode != 0 and "does not match its digest" in proc.stderr, proc.stderr
        stored = os.listdir(os.path.join(cri.dir, "root", "images", "blobs", "sha256"))
        assert os.path.basename(os.path.dirname(layer)) not in stored
        assert not [n for n in stored if n.endswith(".partial")]
    finally:
        with open(layer, "r+b") as f:
            f.seek(1000)
            f.write(byte)


# a registry that misbehaves on purpose (tests/integration/data/fake_registry.py) ---------------------------

class FakeRegistry:
    def __init__(self, netns, workdir: str):
        self.dir = os.path.join(workdir, "fake-registry")
        os.makedirs(self.dir)
        self.routes_file = os.path.join(self.dir, "routes.json")
        self.routes: dict = {}
        self.save()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fake_registry.py")
        self.proc = subprocess.Popen(netns.cmd(sys.executable, script, "127.0.0.1", str(FAKE_REGISTRY_PORT),
                                               self.routes_file))
        probe = f"import socket; socket.create_connection(('127.0.0.1', {FAKE_REGISTRY_PORT}), 1).close()"
        wait_for(lambda: subprocess.run(netns.cmd(sys.executable, "-c", probe), capture_output=True).returncode == 0,
                 "the fake registry")

    def save(self) -> None:
        with open(self.routes_file + ".tmp", "w") as f:
            json.dump(self.routes, f)
        os.rename(self.routes_file + ".tmp", self.routes_file)

    def blob(self, data: bytes, **route) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = os.path.join(self.dir, digest[7:])
        with open(path, "wb") as f:
            f.write(data)
        return {"digest": digest, "size": len(data), "path": path, "route": route}

    def image(self, name: str, layers: list[dict], media: str = "application/vnd.oci.image.layer.v1.tar+gzip",
              config: dict | None = None, serve: bool = True, **manifest_route) -> dict:
        """Serve an image at <name>:latest; each layer is a blob() (its "size" may be made to lie)."""
        cfg = self.blob(json.dumps({"architecture": "amd64", "os": "linux",
                                    "config": config or {"Cmd": ["sh"]},
                                    "rootfs": {"type": "layers", "diff_ids": [diff_id(l) for l in layers]}}).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg["digest"],
                               "size": cfg["size"]},
                    "layers": [{"mediaType": media, "digest": l["digest"], "size": l["size"]} for l in layers]}
        doc = self.blob(json.dumps(manifest).encode())
        for b in [cfg] + layers:
            self.routes[f"/v2/{name}/blobs/{b['digest']}"] = {"body": b["path"], **b["route"], **manifest_route}
        if serve:
            self.routes[f"/v2/{name}/manifests/latest"] = {
                "body": doc["path"], "headers": {"Content-Type": manifest["mediaType"]}, **manifest_route}
            self.save()
        return doc

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def diff_id(layer: dict) -> str:
    """The digest of a layer's uncompressed tar (what makes two images' configs differ)."""
    with open(layer["path"], "rb") as f:
        data = f.read()
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError):
        try:
            import zstandard
            data = zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError:
            pass
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def fake(netns, workdir):
    registry = FakeRegistry(netns, workdir)
    yield registry
    registry.close()


def tar_layer(*entries: tuple, compress=gzip.compress) -> bytes:
    """A layer from (name, type, data or linkname) entries."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755
            if kind == tarfile.REGTYPE:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload or ""
                tar.addfile(info)
    return compress(raw.getvalue())


def stored(cri) -> tuple[list, list]:
    base = os.path.join(cri.dir, "root", "images")
    return sorted(os.listdir(os.path.join(base, "blobs", "sha256"))), sorted(os.listdir(os.path.join(base, "layers")))


def pull(cri, name: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(cri.crictl_argv("pull", *flags, f"127.0.0.1:{FAKE_REGISTRY_PORT}/{name}:latest"),
                          capture_output=True, text=True, timeout=120)


def test_zstd_layer_with_whiteouts_and_hard_links(cri_adapter, fake):
    import zstandard
    layer = fake.blob(tar_layer(("bin/tool", tarfile.REGTYPE, b"#!/bin/sh\n"), ("bin/alias", tarfile.LNKTYPE, "bin/tool"),
                                ("etc/.wh.gone", tarfile.REGTYPE, b""),
                                compress=zstandard.ZstdCompressor().compress))
    fake.image("zstd", [layer], media="application/vnd.oci.image.layer.v1.tar+zstd")
    proc = pull(cri_adapter, "zstd")
    assert proc.returncode == 0, proc.stderr
    unpacked = os.path.join(cri_adapter.dir, "root", "images", "layers", layer["digest"][7:])
    assert os.stat(unpacked + "/bin/alias").st_ino == os.stat(unpacked + "/bin/tool").st_ino
    assert os.stat(unpacked + "/etc/gone").st_rdev == 0
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/zstd:latest")


def test_a_manifest_that_lies_about_a_size_is_refused(cri_adapter, fake):
    layer = fake.blob(tar_layer(("a", tarfile.REGTYPE, b"x" * 5000)))
    fake.image("liar", [dict(layer, size=layer["size"] - 10)])
    before = stored(cri_adapter)
    proc = pull(cri_adapter, "liar")
    assert proc.returncode != 0 and "longer than its" in proc.stderr, proc.stderr
    assert "code = FailedPrecondition" in proc.stderr and stored(cri_adapter) == before


def test_a_truncated_gzip_stream_is_refused_and_nothing_stored(cri_adapter, fake):
    whole = tar_layer(*((f"f{i}", tarfile.REGTYPE, os.urandom(4096)) for i in range(8)))
    fake.image("truncated", [fake.blob(whole[:len(whole) // 2])])
    before = stored(cri_adapter)
    proc = pull(cri_adapter, "truncated")
    assert proc.returncode != 0 and "layer" in proc.stderr, proc.stderr
    assert stored(cri_adapter) == before


def test_a_registry_answering_500_or_nothing(cri_adapter, fake):
    fake.routes["/v2/broken/manifests/latest"] = {"status": 500}
    fake.routes["/v2/silent/manifests/latest"] = {"hang": True}
    fake.save()
    proc = pull(cri_adapter, "broken")
    assert proc.returncode != 0 and "code = Unavailable" in proc.stderr and "HTTP 500" in proc.stderr
    start = time.monotonic()
    proc = pull(cri_adapter, "silent")
    assert proc.returncode != 0 and "code = Unavailable" in proc.stderr
    assert time.monotonic() - start < 20  # the adapter's registry_timeout (5 s here), not forever


def test_a_multi_arch_index_gives_this_machines_manifest(cri_adapter, fake):
    amd64 = fake.image("multi", [fake.blob(tar_layer(("amd64", tarfile.REGTYPE, b"x")))], serve=False)
    arm64 = fake.image("multi", [fake.blob(tar_layer(("arm64", tarfile.REGTYPE, b"x")))], serve=False)
    for ref in (amd64, arm64):
        fake.routes[f"/v2/multi/manifests/{ref['digest']}"] = {
            "body": ref["path"], "headers": {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64["digest"], "size": arm64["size"],
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd64["digest"], "size": amd64["size"],
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    doc = fake.blob(json.dumps(index).encode())
    fake.routes["/v2/multi/manifests/latest"] = {"body": doc["path"],
                                                 "headers": {"Content-Type": index["mediaType"]}}
    arm_only = fake.blob(json.dumps(dict(index, manifests=index["manifests"][:1])).encode())
    fake.routes["/v2/armonly/manifests/latest"] = {"body": arm_only["path"],
                                                   "headers": {"Content-Type": index["mediaType"]}}
    fake.save()
    proc = pull(cri_adapter, "multi")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(cri_adapter.crictl("inspecti", "-o", "json", f"127.0.0.1:{FAKE_REGISTRY_PORT}/multi:latest"))
    layers = status["info"]["layers"]
    assert len(layers) == 1 and os.path.exists(os.path.join(cri_adapter.dir, "root", "images", "layers",
                                                            layers[0][7:], "amd64"))
    proc = pull(cri_adapter, "armonly")
    assert proc.returncode != 0 and "code = NotFound" in proc.stderr and "linux/amd64" in proc.stderr
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/multi:latest")


def test_token_and_basic_auth(cri_adapter, fake):
    token = fake.blob(b'{"token": "tok-123"}')
    fake.routes["/token"] = {"body": token["path"], "headers": {"Content-Type": "application/json"}}
    fake.image("private", [fake.blob(tar_layer(("p", tarfile.REGTYPE, b"x")))], auth="bearer tok-123")
    proc = pull(cri_adapter, "private")
    assert proc.returncode == 0, proc.stderr
    fake.image("basic", [fake.blob(tar_layer(("b", tarfile.REGTYPE, b"y")))], auth="basic user:secret")
    proc = pull(cri_adapter, "basic")
    assert proc.returncode != 0 and "asks for a user name and password" in proc.stderr
    proc = pull(cri_adapter, "basic", "--creds", "user:secret")
    assert proc.returncode == 0, proc.stderr
    for name in ("private", "basic"):
        cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/{name}:latest")


def test_the_same_image_pulled_twice_at_once_is_fetched_once(cri_adapter, fake):
    layer = fake.blob(tar_layer(*((f"f{i}", tarfile.REGTYPE, os.urandom(65536)) for i in range(16))))
    fake.image("twice", [layer])
    log = fake.routes_file + ".log"
    pulls = [subprocess.Popen(cri_adapter.crictl_argv("pull", f"127.0.0.1:{FAKE_REGISTRY_PORT}/twice:latest"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in pulls:
        assert p.wait(120) == 0, p.stderr.read()
    with open(log) as f:
        fetched = [line for line in f.read().split() if line == f"/v2/twice/blobs/{layer['digest']}"]
    assert len(fetched) == 1
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/twice:latest")


def test_imagefsinfo_counts_images_and_what_containers_wrote(cri_adapter):
    cri = cri_adapter
    cri.crictl("pull", BUSYBOX)
    info = json.loads(cri.crictl("imagefsinfo", "-o", "json"))["status"]
    assert int(info["imageFilesystems"][0]["usedBytes"]["value"]) > 500_000  # the busybox layer, unpacked
    pod_file = os.path.join(cri.dir, "fsinfo-pod.json")
    with open(pod_file, "w") as f:
        json.dump({"metadata": {"name": "fsinfo", "namespace": "default", "uid": "fsinfo"}}, f)
    ctr_file = os.path.join(cri.dir, "fsinfo-ctr.json")
    with open(ctr_file, "w") as f:
        json.dump({"metadata": {"name": "writer"}, "image": {"image": BUSYBOX},
                   "command": ["sh", "-c", "head -c 3000000 /dev/zero > /big; sleep 1000"]}, f)
    pod = cri.crictl("runp", pod_file)
    cid = cri.crictl("create", pod, ctr_file, pod_file)
    cri.crictl("start", cid)

    def written() -> int:
        status = json.loads(cri.crictl("imagefsinfo", "-o", "json"))["status"]
        return int(status["containerFilesystems"][0]["usedBytes"]["value"])
    wait_for(lambda: written() >= 3_000_000, "the container's 3 MB in its writable layer")
    cri.crictl("rmp", "-f", pod)
    cri.crictl("rmi", BUSYBOX)


def test_a_lost_connection_is_resumed_where_it_broke(cri_adapter, fake):
    """The registry closes the connection halfway through a layer: the pull asks for the rest
    (a Range request from the byte it had) and the layer is whole."""
    payload = os.urandom(1 << 20)
    layer = fake.blob(tar_layer(("data", tarfile.REGTYPE, payload)), drop_after=600_000)
    fake.image("dropped", [layer])
    proc = pull(cri_adapter, "dropped")
    assert proc.returncode == 0, proc.stderr
    with open(fake.routes_file + ".log") as f:
        requests = [line.split() for line in f if line.startswith(f"/v2/dropped/blobs/{layer['digest']}")]
    assert [r[1:] for r in requests] == [[], ["bytes=600000-"]], requests  # nothing received is fetched again
    with open(os.path.join(cri_adapter.dir, "root", "images", "layers", layer["digest"][7:], "data"), "rb") as f:
        assert f.read() == payload
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/dropped:latest")


def test_a_layer_is_unpacked_while_it_streams(cri_adapter, fake, tmp_path):
    """The registry holds back the second half of a layer: its first file is already unpacked
    (into the layer's temporary directory, unused until the digest is checked)."""
    release = tmp_path / "release"
    layer = fake.blob(tar_layer(("first", tarfile.REGTYPE, b"early\n"), ("rest", tarfile.REGTYPE, os.urandom(1 << 20)),
                                compress=lambda raw: raw),
                      hold_after=500_000, release=str(release))
    fake.image("streamed", [layer], media="application/vnd.oci.image.layer.v1.tar")
    puller = subprocess.Popen(cri_adapter.crictl_argv("pull", f"127.0.0.1:{FAKE_REGISTRY_PORT}/streamed:latest"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    layers = os.path.join(cri_adapter.dir, "root", "images", "layers")
    try:
        wait_for(lambda: os.path.exists(os.path.join(layers, f".tmp-{layer['digest'][7:]}", "first")),
                 "the layer's first file, unpacked before the layer has arrived")
        assert not os.path.exists(os.path.join(layers, layer["digest"][7:]))  # not in use before it is verified
    finally:
        release.touch()
    assert puller.wait(60) == 0, puller.stderr.read()
    with open(os.path.join(layers, layer["digest"][7:], "first")) as f:
        assert f.read() == "early\n"
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/streamed:latest")


def write_hosts(cri, host: str, text: str) -> str:
    path = os.path.join(os.path.dirname(cri.dir), "certs.d", host)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "hosts.toml"), "w") as f:
        f.write(text)
    return path


def test_a_mirror_from_hosts_toml(cri_adapter, fake):
    """mirror.invalid cannot be reached; its hosts.toml names the fake registry as a mirror. A
    mirror that may only "pull" (by digest) is not asked to resolve a tag."""
    fake.image("mirrored", [fake.blob(tar_layer(("m", tarfile.REGTYPE, b"x")))])
    hosts_dir = write_hosts(cri_adapter, "mirror.invalid",
                            f'server = "https://mirror.invalid"\n[host."http://127.0.0.1:{FAKE_REGISTRY_PORT}"]\n'
                            f'capabilities = ["pull", "resolve"]\n')
    try:
        cri_adapter.crictl("pull", "mirror.invalid/mirrored:latest")
        assert images(cri_adapter)  # listed under the name asked for
        status = json.loads(cri_adapter.crictl("inspecti", "-o", "json", "mirror.invalid/mirrored:latest"))
        assert status["status"]["repoTags"] == ["mirror.invalid/mirrored:latest"]
        cri_adapter.crictl("rmi", "mirror.invalid/mirrored:latest")
        write_hosts(cri_adapter, "mirror.invalid", f'server = "https://mirror.invalid"\n'
                                                   f'[host."http://127.0.0.1:{FAKE_REGISTRY_PORT}"]\n'
                                                   f'capabilities = ["pull"]\n')
        proc = subprocess.run(cri_adapter.crictl_argv("pull", "mirror.invalid/mirrored:latest"), capture_output=True,
                              text=True)
        assert proc.returncode != 0 and "https://mirror.invalid/v2/mirrored/manifests/latest" in proc.stderr
        assert f"127.0.0.1:{FAKE_REGISTRY_PORT}" not in proc.stderr, proc.stderr
    finally:
        shutil.rmtree(hosts_dir)


def test_credentials_from_the_auth_file(cri_adapter, fake):
    """A pull that brings no credentials uses the Docker config.json the adapter is given."""
    fake.image("filed", [fake.blob(tar_layer(("f", tarfile.REGTYPE, b"y")))], auth="basic filer:s3cret")
    proc = pull(cri_adapter, "filed")
    assert proc.returncode != 0 and "asks for a user name and password" in proc.stderr
    auth_file = os.path.join(cri_adapter.dir, "auth.json")
    with open(auth_file, "w") as f:
        json.dump({"auths": {f"127.0.0.1:{FAKE_REGISTRY_PORT}": {"auth": base64.b64encode(b"filer:s3cret").decode()}}},
                  f)
    try:
        proc = pull(cri_adapter, "filed")
        assert proc.returncode == 0, proc.stderr
    finally:
        os.unlink(auth_file)
    cri_adapter.crictl("rmi", f"127.0.0.1:{FAKE_REGISTRY_PORT}/filed:latest")


TLS_REGISTRY_PORT = 5057


def test_https_registry_speaks_http2_with_the_ca_from_hosts_toml(cri_adapter, netns, workdir, oci_layout, tmp_path):
    """Debian's docker-registry over TLS: trusted through hosts.toml's ca, the pull goes over
    HTTP/2 (the registry's access log says so); without the ca, the certificate is refused."""
    host = f"127.0.0.1:{TLS_REGISTRY_PORT}"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=registry",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/store\n"
                      f"http:\n  addr: {host}\n  tls:\n    certificate: {cert}\n    key: {key}\n")
    access_log = open(tmp_path / "registry.log", "w")
    server = subprocess.Popen(netns.cmd("docker-registry", "serve", str(config)), stdout=access_log,
                              stderr=subprocess.STDOUT)
    hosts_dir = None
    try:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {TLS_REGISTRY_PORT}), 1).close()"
        wait_for(lambda: subprocess.run(netns.cmd(sys.executable, "-c", probe), capture_output=True).returncode == 0,
                 "the TLS registry")
        subprocess.run(netns.cmd("skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{oci_layout}:busybox",
                                 f"docker://{host}/secure:latest"), check=True)
        proc = subprocess.run(cri_adapter.crictl_argv("pull", f"{host}/secure:latest"), capture_output=True, text=True)
        assert proc.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in proc.stderr, proc.stderr
        hosts_dir = write_hosts(cri_adapter, host, f'server = "https://{host}"\nca = "{cert}"\n')
        cri_adapter.crictl("pull", f"{host}/secure:latest")
        access_log.flush()
        pulls = [line for line in (tmp_path / "registry.log").read_text().splitlines() if "GET /v2/secure/" in line]
        assert pulls and all("HTTP/2.0" in line for line in pulls), pulls
        cri_adapter.crictl("rmi", f"{host}/secure:latest")
    finally:
        server.terminate()
        server.wait(10)
        access_log.close()
        if hosts_dir:
            shutil.rmtree(hosts_dir)


def pipes(pid: int) -> int:
    return sum(1 for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"))


def test_a_corrupt_download_is_named_as_such_though_the_unpacker_fails_first(cri_adapter, fake, tmp_path):
    """The layer's bytes are damaged early, so the unpacker (reading as it streams) fails long before
    the blob ends: the pull still reports that the blob does not match its digest, the cause."""
    good = tar_layer(*((f"f{i}", tarfile.REGTYPE, os.urandom(65536)) for i in range(16)), compress=lambda raw: raw)
    layer = fake.blob(good, hold_after=300_000, release=str(tmp_path / "release"))
    with open(layer["path"], "r+b") as f:  # served damaged (the first header's checksum), under the good digest
        f.seek(148)
        f.write(b"99999999")
    fake.image("damaged", [layer], media="application/vnd.oci.image.layer.v1.tar")
    before = pipes(cri_adapter.proc.pid)
    puller = subprocess.Popen(cri_adapter.crictl_argv("pull", f"127.0.0.1:{FAKE_REGISTRY_PORT}/damaged:latest"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # the registry has sent the damaged start and holds the rest back; the download's pipe to the
        # unpacker (made before the download began) is gone: the unpacker failed and closed it
        wait_for(lambda: (tmp_path / "release.holding").exists(), "the registry to hold the layer's rest back")
        wait_for(lambda: pipes(cri_adapter.proc.pid) == before, "the unpacker to give up on the layer")
    finally:
        (tmp_path / "release").touch()
    assert puller.wait(60) != 0
    assert "does not match its digest" in puller.stderr.read()


# images the real registry serves, written by hand as OCI layouts (what umoci does not make) ---------------

class HandLayout:
    """An OCI image layout written blob by blob: indexes, zstd layers, layers of chosen entries."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}

    def blob(self, data: bytes, media: str) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.path, "blobs", "sha256", digest[7:]), "wb") as f:
            f.write(data)
        return {"mediaType": media, "digest": digest, "size": len(data)}

    def read(self, desc: dict) -> bytes:
        with open(os.path.join(self.path, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
            return f.read()

    def image(self, layers: list[tuple[bytes, bytes, str]], arch: str = "amd64") -> dict:
        """A manifest of (blob, its uncompressed tar, media type) layers; its descriptor."""
        config = self.blob(json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"], "Env": [
            "PATH=/bin"]}, "rootfs": {"type": "layers", "diff_ids": [
                "sha256:" + hashlib.sha256(tar).hexdigest() for _, tar, _ in layers]}}).encode(),
            "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
                    "layers": [self.blob(blob, media) for blob, _, media in layers]}
        desc = self.blob(json.dumps(manifest).encode(), manifest["mediaType"])
        return dict(desc, platform={"os": "linux", "architecture": arch})

    def tag(self, desc: dict, name: str) -> None:
        self.index["manifests"].append(dict(desc, annotations={"org.opencontainers.image.ref.name": name}))
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump(self.index, f)


def busybox_layer(oci_layout: str) -> tuple[bytes, bytes, str]:
    with open(os.path.join(oci_layout, "index.json")) as f:
        desc = next(m for m in json.load(f)["manifests"]
                    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "busybox")

    def blob(d: dict) -> bytes:
        with open(os.path.join(oci_layout, "blobs", "sha256", d["digest"][7:]), "rb") as f:
            return f.read()
    layer = json.loads(blob(desc))["layers"][0]
    return blob(layer), gzip.decompress(blob(layer)), layer["mediaType"]


def test_a_real_registry_serves_a_multi_arch_index_of_zstd_layers_with_whiteouts_and_hard_links(
        cri_adapter, registry, oci_layout, tmp_path):
    """docker-registry holds an index (amd64 and arm64) whose amd64 image stacks busybox, a gzip layer
    and a zstd layer that whites out a file, makes a directory opaque and hard-links two names: a
    container of it sees the result overlayfs makes of the layers as unpacked."""
    import zstandard
    hand = HandLayout(str(tmp_path / "layout"))

    def layer(compress, media, *entries):
        tar = tar_layer(*entries, compress=lambda raw: raw)
        return compress(tar), tar, media
    gz, zst = "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd"
    base = layer(gzip.compress, gz, ("data/keep", tarfile.REGTYPE, b"kept\n"), ("data/gone", tarfile.REGTYPE, b"x"),
                 ("data/dir/old", tarfile.REGTYPE, b"old\n"))
    top = layer(zstandard.ZstdCompressor().compress, zst, ("data/.wh.gone", tarfile.REGTYPE, b""),
                ("data/dir/.wh..wh..opq", tarfile.REGTYPE, b""), ("data/dir/new", tarfile.REGTYPE, b"new\n"),
                ("data/orig", tarfile.REGTYPE, b"linked\n"), ("data/hard", tarfile.LNKTYPE, "data/orig"))
    arm = layer(gzip.compress, gz, ("data/arm64", tarfile.REGTYPE, b"arm\n"))
    busybox = busybox_layer(oci_layout)
    amd64, arm64 = hand.image([busybox, base, top]), hand.image([busybox, arm], arch="arm64")
    hand.tag(hand.blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                   "manifests": [arm64, amd64]}).encode(),
                       "application/vnd.oci.image.index.v1+json"), "layered")
    registry.push(hand.path, "layered", "layered:latest", "--all")
    image = f"127.0.0.1:{REGISTRY_PORT}/layered:latest"
    cri_adapter.crictl("pull", image)
    status = json.loads(cri_adapter.crictl("inspecti", "-o", "json", image))
    assert status["info"]["layers"] == [json.loads(hand.read(amd64))["layers"][i]["digest"] for i in range(3)]
    pod_file = os.path.join(cri_adapter.dir, "layered-pod.json")
    with open(pod_file, "w") as f:
        json.dump({"metadata": {"name": "layered", "namespace": "default", "uid": "layered"}}, f)
    ctr_file = os.path.join(cri_adapter.dir, "layered-ctr.json")
    with open(ctr_file, "w") as f:
        json.dump({"metadata": {"name": "main"}, "image": {"image": image}, "command": ["sleep", "1000"]}, f)
    pod = cri_adapter.crictl("runp", pod_file)
    try:
        cid = cri_adapter.crictl("create", pod, ctr_file, pod_file)
        cri_adapter.crictl("start", cid)
        out = cri_adapter.crictl("exec", cid, "sh", "-c", "ls /data; echo --; ls /data/dir; echo --; "
                                                          "stat -c %i /data/hard /data/orig")
        listing, inner, inodes = out.split("--\n")
        assert listing.split() == ["dir", "hard", "keep", "orig"]  # "gone" whited out, no arm64 file
        assert inner.split() == ["new"]  # the opaque directory hides "old"
        assert len(set(inodes.split())) == 1, inodes  # one file, two names
    finally:
        cri_adapter.crictl("rmp", "-f", pod)
    cri_adapter.crictl("rmi", image)


TOKEN_PORT, TOKEN_REGISTRY_PORT = 5058, 5059


def test_a_real_registry_behind_token_auth(cri_adapter, registry, netns, oci_layout, tmp_path):
    """docker-registry with distribution's token auth and a token server that signs RS256 JWTs: a pull
    with the right credentials gets a token and the image; without, the token server says no."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=token-issuer", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    host = f"127.0.0.1:{TOKEN_REGISTRY_PORT}"
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/store\n"
                      f"http:\n  addr: {host}\nauth:\n  token:\n    realm: http://127.0.0.1:{TOKEN_PORT}/token\n"
                      f"    service: pyruntime-test\n    issuer: pyruntime-test-issuer\n"
                      f"    rootcertbundle: {cert}\n")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "token_server.py")
    tokens = subprocess.Popen(netns.cmd(sys.executable, script, "127.0.0.1", str(TOKEN_PORT), str(key), str(cert),
                                        "pyruntime-test", "puller:s3cret"))
    server = subprocess.Popen(netns.cmd("docker-registry", "serve", str(config)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    hosts_dir = write_hosts(cri_adapter, host, f'server = "http://{host}"\n')
    try:
        for port in (TOKEN_PORT, TOKEN_REGISTRY_PORT):
            probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()"
            wait_for(lambda: subprocess.run(netns.cmd(sys.executable, "-c", probe), capture_output=True).returncode
                     == 0, f"port {port}")
        registry.push(oci_layout, "busybox", "guarded:latest", "--dest-creds", "puller:s3cret", address=host)
        proc = subprocess.run(cri_adapter.crictl_argv("pull", f"{host}/guarded:latest"), capture_output=True,
                              text=True)
        assert proc.returncode != 0 and "code = FailedPrecondition" in proc.stderr and "HTTP 401" in proc.stderr, \
            proc.stderr
        cri_adapter.crictl("pull", "--creds", "puller:s3cret", f"{host}/guarded:latest")
        assert any(f"{host}/guarded:latest" in i["repoTags"] for i in images(cri_adapter).values())
        cri_adapter.crictl("rmi", f"{host}/guarded:latest")
    finally:
        for proc in (server, tokens):
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(hosts_dir)


def pull_workers(daemon_pid: int) -> list[int]:
    """The daemon's pull worker processes."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == daemon_pid and b"cri_adapter.images.worker" in argv:
            found.append(int(entry))
    return found


def mapped(pid: int, library: str) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return library in f.read()


def held_pull(cri, fake, name: str, release) -> tuple[subprocess.Popen, dict]:
    """A pull of ``name`` whose layer the registry holds back halfway until ``release`` exists."""
    layer = fake.blob(tar_layer(("data", tarfile.REGTYPE, os.urandom(1 << 20))), hold_after=300_000,
                      release=str(release))
    fake.image(name, [layer])
    puller = subprocess.Popen(cri.crictl_argv("pull", f"127.0.0.1:{FAKE_REGISTRY_PORT}/{name}:latest"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: os.path.exists(f"{release}.holding"), "the registry holding the layer back")
    return puller, layer


def test_pulls_run_in_a_worker_process_that_ends_when_idle(netns, workdir, registry, fake, tmp_path):
    """The registry client and OpenSSL live in the pull worker, never in the daemon; the worker ends once no pull is under way (pull_worker_idle = 0)."""
    cri = clients.CriAdapter(netns, workdir, name="worker", extra="pull_worker_idle = 0")
    try:
        daemon = cri.proc.pid
        release = tmp_path / "release"
        puller, layer = held_pull(cri, fake, "in-worker", release)
        workers = pull_workers(daemon)
        assert len(workers) == 1
        assert mapped(workers[0], "libcrypto")  # httpx's TLS
        release.touch()
        assert puller.wait(60) == 0, puller.stderr.read()
        wait_for(lambda: not pull_workers(daemon), "the idle pull worker ending")
        assert layer["digest"][7:] in stored(cri)[1]
        assert not mapped(daemon, "libcrypto") and not mapped(daemon, "libssl")
        # a second pull starts a new worker
        cri.crictl("pull", BUSYBOX)
        assert any(BUSYBOX in i["repoTags"] for i in images(cri).values())
    finally:
        cri.close()


def test_a_killed_daemon_takes_its_pull_worker_and_the_half_pulled_layer_with_it(netns, workdir, fake, tmp_path):
    cri = clients.CriAdapter(netns, workdir, name="worker-killed")
    try:
        release = tmp_path / "release"
        puller, layer = held_pull(cri, fake, "orphaned", release)
        [worker] = pull_workers(cri.proc.pid)
        cri.kill()
        wait_for(lambda: not os.path.exists(f"/proc/{worker}"), "the pull worker ending with its daemon")
        puller.wait(30)
        release.touch()
        cri.start()
        assert stored(cri) == ([], [])  # the partial blob and the half-unpacked layer are gone
    finally:
        cri.close()
