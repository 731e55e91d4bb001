"""Small pure parts of pyruntime-cri: its config, image references, CNI config loading and results."""
from __future__ import annotations

import json

import pytest

from cri_adapter import cni, config
from cri_adapter.errors import InvalidArgument
from cri_adapter.images import reference


def test_config_defaults_flags_and_refusals(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('root = "/srv/cri"\n[runtimes.runc]\npath = "/usr/sbin/runc"\n')
    loaded = config.load(str(path), {"socket": "/tmp/s.sock", "log_level": None})
    assert loaded.root == "/srv/cri" and loaded.socket == "/tmp/s.sock" and loaded.log_level == "info"
    assert loaded.runtime("runc")[1].root == "/run/pyruntime-cri/runtimes/runc"
    assert loaded.runtime("")[0] == "pyruntime"
    for text, message in (('colour = "blue"\n', "unknown key 'colour'"),
                          ('stream_port = "80"\n', "stream_port: expected int"),
                          ('[cni]\nbinaries = []\n', "cni: unknown key"),
                          ('default_runtime = "kata"\n', "'kata' is not configured"),
                          ('root = \n', "c.toml")):
        path.write_text(text)
        with pytest.raises(InvalidArgument, match=message):
            config.load(str(path), {})
    with pytest.raises(InvalidArgument, match="'gvisor' is not configured"):
        config.from_dict({}).runtime("gvisor")


@pytest.mark.parametrize("text,expected", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("library/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("127.0.0.1:5055/pause", "127.0.0.1:5055/pause:latest"),
    ("localhost/team/app:v2", "localhost/team/app:v2"),
    ("registry.k8s.io/pause@sha256:" + "a" * 64, "registry.k8s.io/pause@sha256:" + "a" * 64),
])
def test_references_are_normalised_as_docker_does(text, expected):
    assert str(reference.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "UPPER/case", "a b", "busybox@sha256:short", "busybox:bad/tag", "x" * 5000])
def test_bad_references_are_refused(text):
    with pytest.raises(InvalidArgument):
        reference.parse(text)


def test_cni_network_readiness_and_results(tmp_path):
    network, why = cni.load(str(tmp_path / "missing"), ("/usr/lib/cni",))
    assert network is None and "no network config" in why
    network, why = cni.load(str(tmp_path), ("/usr/lib/cni",))
    assert network is None and "no network config found" in why
    (tmp_path / "10-a.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "a",
                                                        "plugins": [{"type": "bridge"}, {"type": "portmap"}]}))
    (tmp_path / "20-b.conf").write_text(json.dumps({"cniVersion": "1.0.0", "name": "b", "type": "bridge"}))
    network, why = cni.load(str(tmp_path), ("/usr/lib/cni",))
    assert network.name == "a" and [p["type"] for p in network.plugins] == ["bridge", "portmap"] and why == ""
    result = {"ips": [{"address": "10.1.0.5/24"}, {"address": "fd00::5/64"}, {"address": "10.1.0.5/24"}]}
    assert cni.addresses(result) == ["10.1.0.5", "fd00::5"]
