"""pyruntime-cri's ImageService against a real registry (Debian's docker-registry in the test's
namespace): pulls by tag and digest, status, listing, removal, and a registry that lies."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import time

from clients import REGISTRY_PORT

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
