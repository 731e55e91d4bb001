"""Small pure parts of pyruntime-cri: its config, image references, CNI config loading and results."""
from __future__ import annotations

import base64
import json
import re

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


# registry hosts (containerd's hosts.toml) and the auth file -------------------------------------

def test_hosts_toml_endpoints_in_containerds_order(tmp_path):
    from cri_adapter.images import hosts
    assert hosts.endpoints(str(tmp_path), "docker.io") == [hosts.Endpoint("https://registry-1.docker.io/v2")]
    assert hosts.endpoints("", "quay.io") == [hosts.Endpoint("https://quay.io/v2")]
    (tmp_path / "_default").mkdir()
    (tmp_path / "_default" / "hosts.toml").write_text('[host."mirror:5000"]\ncapabilities = ["pull"]\n')
    (tmp_path / "quay.io").mkdir()
    (tmp_path / "quay.io" / "hosts.toml").write_text(
        'server = "http://quay.io:8080"\nskip_verify = true\n'
        '[host."https://m.example/base"]\noverride_path = true\nca = "/ca.pem"\nclient = "/c.pem"\n'
        '[host."https://m.example/base".header]\nx-a = ["1", "2"]\n')
    found = hosts.endpoints(str(tmp_path), "quay.io")
    assert found == [hosts.Endpoint("https://m.example/base", ca=("/ca.pem",), client=(("/c.pem",),),
                                    headers=(("x-a", "1, 2"),)),
                     hosts.Endpoint("http://quay.io:8080/v2", skip_verify=True)]
    assert hosts.endpoints(str(tmp_path), "other.io") == [  # no directory of its own: _default's
        hosts.Endpoint("https://mirror:5000/v2", capabilities=frozenset({"pull"})), hosts.Endpoint("https://other.io/v2")]
    # a host name never names a directory outside the config path: "..", like any unknown host, gets _default's
    assert hosts.endpoints(str(tmp_path), "..")[0] == hosts.endpoints(str(tmp_path), "other.io")[0]


@pytest.mark.parametrize("text, message", [
    ('servers = "x"', "unknown key 'servers'"),
    ('[host."ftp://m"]', "is not an http(s) URL"),
    ('[host."m"]\ncapabilities = ["fly"]', "capabilities"),
    ('[host."m"]\nskip = true', "unknown key 'skip'"),
    ('server = ', "hosts.toml"),
])
def test_hosts_toml_mistakes_are_named(tmp_path, text, message):
    from cri_adapter.errors import InvalidArgument
    from cri_adapter.images import hosts
    (tmp_path / "r.io").mkdir()
    (tmp_path / "r.io" / "hosts.toml").write_text(text)
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        hosts.endpoints(str(tmp_path), "r.io")


def test_auth_file_credentials_by_host(tmp_path):
    from cri_adapter.errors import InvalidArgument
    from cri_adapter.images.credentials import Credentials, from_auth_file
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw:with:colons").decode()},
        "r.io:5000": {"username": "u", "password": "p"},
        "http://t.io": {"registrytoken": "tok"}}}))
    assert from_auth_file(str(path), "docker.io") == Credentials("hub", "pw:with:colons")
    assert from_auth_file(str(path), "registry-1.docker.io") == Credentials("hub", "pw:with:colons")
    assert from_auth_file(str(path), "r.io:5000") == Credentials("u", "p")
    assert from_auth_file(str(path), "t.io") == Credentials(token="tok")
    assert not from_auth_file(str(path), "r.io")
    assert not from_auth_file(str(tmp_path / "absent.json"), "r.io") and not from_auth_file("", "r.io")
    path.write_text('{"auths": {"r.io": {"auth": "not base64!"}}}')
    with pytest.raises(InvalidArgument, match="not base64"):
        from_auth_file(str(path), "r.io")


# CRI metrics ------------------------------------------------------------------------------------

def test_metrics_from_runc_format_stats_match_their_descriptors():
    from cri_adapter import metrics
    from cri_adapter._proto import cri_pb2 as pb
    stats = {"cpu": {"usage": {"total": 3_500_000_000, "user": 2_000_000_000, "kernel": 1_500_000_000},
                     "throttling": {"periods": 10, "throttled_periods": 2, "throttled_time": 4_000_000_000}},
             "memory": {"cache": 100, "usage": {"usage": 5000, "max": 6000, "failcnt": 1},
                        "swap": {"usage": 7000}, "kernel": {"usage": 40},
                        "raw": {"total_rss": 300, "total_inactive_file": 1000, "total_mapped_file": 20,
                                "pgfault": 5, "total_pgfault": 6, "pgmajfault": 1, "total_pgmajfault": 2}},
             "pids": {"current": 3, "limit": 100},
             "blkio": {"ioServiceBytesRecursive": [{"major": 8, "minor": 0, "op": op, "value": 4096}
                                                   for op in ("Read", "Write")],
                       "ioServicedRecursive": [{"major": 8, "minor": 0, "op": op, "value": 9}
                                               for op in ("Read", "Write")]}}
    facts = metrics.Facts(labels=("c1", "main", "busybox"), now_ns=5 * 10**9, started_ns=2 * 10**9, stats=stats,
                          resources=pb.LinuxContainerResources(cpu_period=100000, cpu_shares=512,
                                                               memory_limit_in_bytes=1 << 26),
                          processes=2, file_descriptors=9, sockets=1, oom_events=1, fs_device="0:42", fs_used=123,
                          fs_limit=1000, fs_inodes=50, fs_inodes_free=40)
    found = metrics.container_metrics(facts)
    net = metrics.network_metrics(("p1", "POD", "pause"), 5 * 10**9,
                                  "Inter-|   Receive\n face |bytes\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n"
                                  "  eth0: 100 2 0 1 0 0 0 0 300 4 0 0 0 0 0 0\n")
    values = {(m.name, tuple(m.label_values[3:])): m.value.value for m in found + net}
    assert values[("container_cpu_usage_seconds_total", ("total",))] == 3
    assert values[("container_cpu_cfs_throttled_seconds_total", ())] == 4
    assert values[("container_memory_working_set_bytes", ())] == 4000  # usage less inactive file pages
    assert values[("container_memory_swap", ())] == 2000  # v1's memsw counts memory too
    assert values[("container_memory_failures_total", ("pgfault", "container"))] == 5
    assert values[("container_memory_failures_total", ("pgfault", "hierarchy"))] == 6
    assert values[("container_fs_reads_bytes_total", ("8:0",))] == 4096
    assert values[("container_fs_writes_total", ("8:0",))] == 9
    assert values[("container_threads_max", ())] == 100 and values[("container_sockets", ())] == 1
    assert values[("container_spec_memory_limit_bytes", ())] == 1 << 26
    assert values[("container_start_time_seconds", ())] == 2
    assert values[("container_network_receive_packets_dropped_total", ("eth0",))] == 1
    assert values[("container_network_transmit_bytes_total", ("eth0",))] == 300
    assert not [k for k in values if k[1] == ("lo",)]
    keys = {d.name: len(d.label_keys) for d in metrics.descriptors()}
    assert all(d.help and d.label_keys for d in metrics.descriptors())
    # every metric has a descriptor, with as many labels; every descriptor is filled
    assert all(len(m.label_values) == keys[m.name] for m in found + net)
    assert set(keys) == {m.name for m in found + net}


def test_platform_selection_by_os_architecture_and_variant():
    from cri_adapter.errors import NotFound
    from cri_adapter.images.registry import select_platform

    def entry(arch, variant="", os_="linux"):
        return {"digest": f"{os_}/{arch}/{variant}", "platform": {"os": os_, "architecture": arch,
                                                                   **({"variant": variant} if variant else {})}}
    index = {"manifests": [entry("amd64", os_="windows"), entry("arm", "v6"), entry("arm64"), entry("arm64", "v8"),
                           entry("arm", "v7"), entry("amd64")]}
    assert select_platform(index, "r", "amd64", "")["digest"] == "linux/amd64/"
    assert select_platform(index, "r", "arm64", "v8")["digest"] == "linux/arm64/v8"  # the variant before none
    assert select_platform({"manifests": index["manifests"][:3]}, "r", "arm64", "v8")["digest"] == "linux/arm64/"
    assert select_platform(index, "r", "arm", "v7")["digest"] == "linux/arm/v7"
    with pytest.raises(NotFound, match="linux/arm/v5"):
        select_platform(index, "r", "arm", "v5")
    with pytest.raises(NotFound, match="linux/s390x"):
        select_platform(index, "r", "s390x", "")
