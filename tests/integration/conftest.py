"""Fixtures for the real-client tests: a busybox OCI image, a network namespace, a registry, containerd.

They are module-scoped: starting containerd or the registry takes a second,
and the tests of one client share them the way a node would.
"""
from __future__ import annotations

import os
import subprocess

import pytest

import clients


@pytest.fixture(scope="session")
def oci_layout(rootfs_template, tmp_path_factory):
    """An OCI image layout with tags busybox and pause, made from the busybox-static rootfs."""
    # skopeo and podman keep a blob-info cache in /var/lib/containers/cache whatever
    # their other paths: remove it at the end of the session if this run made it
    with clients.removed_if_new("/var/lib/containers"):
        yield clients.build_image(os.path.join(rootfs_template, "rootfs"), str(tmp_path_factory.mktemp("image")))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("client")
    os.chmod(path, 0o755)
    return str(path)


@pytest.fixture(scope="module")
def netns(workdir):
    ns = clients.NetNS(workdir)
    yield ns
    ns.close()


@pytest.fixture(scope="module")
def registry(netns, workdir, oci_layout):
    reg = clients.Registry(netns, workdir, oci_layout)
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def containerd(netns, workdir):
    daemon = clients.Containerd(netns, workdir)
    yield daemon
    daemon.close()


@pytest.fixture(scope="module")
def podman(workdir, oci_layout):
    client = clients.Podman(workdir, oci_layout)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ctr_image(containerd, oci_layout, workdir) -> str:
    """The busybox image, imported into containerd (namespace pyrt, for ctr) from a docker-archive tarball."""
    tar = os.path.join(workdir, "busybox.tar")
    subprocess.run(["skopeo", "copy", "-q", f"oci:{oci_layout}:busybox", f"docker-archive:{tar}:busybox:latest"],
                   check=True)
    out = containerd.ctr("images", "import", tar).stdout.decode()
    assert "busybox" in out
    return "docker.io/library/busybox:latest"


@pytest.fixture(scope="module")
def cri_adapter(netns, workdir, registry):
    """pyruntime-cri in the module's namespace, its CNI bridge with host ports (portmap)."""
    adapter = clients.CriAdapter(netns, workdir, cni=clients.CNI_PORTMAP)
    yield adapter
    adapter.close()
