"""Each namespace kind is really new, or really joined; hostname; id maps; time offsets."""
from __future__ import annotations

import os

import pytest

from helpers import host_ns, run_container

KINDS = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
         "cgroup": "cgroup", "time": "time", "user": "user"}


def ns_inodes_inside(runtime, bundle) -> dict[str, int]:
    script = "for n in pid net ipc uts mnt cgroup time user; do echo $n $(readlink /proc/self/ns/$n); done"
    code, out, err = run_container(runtime, bundle, "sh", "-c", script)
    assert code == 0, err
    return {line.split()[0]: int(line.split()[1].split("[")[1].rstrip("]")) for line in out.splitlines()}


def with_namespaces(bundle, kinds, **linux):
    bundle.edit(lambda c: c["linux"].update(namespaces=[{"type": k} for k in kinds], **linux))
    if "uts" not in kinds:
        bundle.edit(lambda c: c.pop("hostname", None))


USERNS = dict(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
              gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}])


def test_every_kind_is_new(runtime, bundle):
    with_namespaces(bundle, KINDS, **USERNS)
    inside = ns_inodes_inside(runtime, bundle)
    for kind, name in KINDS.items():
        assert inside[name] != host_ns(name), f"{kind} namespace is the host's"


def test_only_requested_kinds_are_new(runtime, bundle):
    with_namespaces(bundle, ["mount", "pid"])
    inside = ns_inodes_inside(runtime, bundle)
    assert inside["mnt"] != host_ns("mnt") and inside["pid"] != host_ns("pid")
    for name in ("net", "ipc", "uts", "cgroup", "time", "user"):
        assert inside[name] == host_ns(name), f"{name} should be shared with the host"


def test_pid_one_and_hostname(runtime, bundle):
    bundle.edit(lambda c: c.update(hostname="box", domainname="example.test"))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "echo $$ $(hostname) $(cat /proc/sys/kernel/domainname)")
    assert code == 0, err
    assert out.split() == ["1", "box", "example.test"]


def test_network_namespace_has_only_lo_and_it_is_up(runtime, bundle):
    code, out, err = run_container(runtime, bundle, "sh", "-c", "ls /sys/class/net; ip link show lo")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "lo" and "<LOOPBACK,UP" in lines[1]


def test_cgroup_namespace_root(runtime, bundle):
    code, out, err = run_container(runtime, bundle, "cat", "/proc/self/cgroup")
    assert code == 0, err
    assert all(line.endswith(":/") for line in out.splitlines()), out


def test_user_namespace_mappings(runtime, bundle):
    with_namespaces(bundle, ["pid", "mount", "user", "uts", "ipc", "network"],
                    uidMappings=[{"containerID": 0, "hostID": 100000, "size": 1000},
                                 {"containerID": 1000, "hostID": 200000, "size": 10}],
                    gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}])
    bundle.edit(lambda c: [m.update(options=[o for o in m.get("options", []) if o != "gid=5"])
                           for m in c["mounts"] if m["type"] == "devpts"])
    code, out, err = run_container(runtime, bundle, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    assert code == 0, err
    rows = [line.split() for line in out.strip().splitlines()]
    assert rows[0] == ["0", "100000", "1000"] and rows[1] == ["1000", "200000", "10"]
    assert rows[2] == ["0", "100000", "65536"]
    assert rows[3] == ["0"]


def test_time_namespace_offsets(runtime, bundle):
    with_namespaces(bundle, ["pid", "mount", "time"],
                    timeOffsets={"boottime": {"secs": 86400 * 365, "nanosecs": 0},
                                 "monotonic": {"secs": 86400, "nanosecs": 0}})
    code, out, err = run_container(runtime, bundle, "cat", "/proc/uptime")
    assert code == 0, err
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert float(out.split()[0]) - host_uptime > 86400 * 365 - 60


def test_join_namespaces_by_path(runtime, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    holder = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, holder, check=True)
    pid = runtime.state(holder)["pid"]
    bundle.edit(lambda c: c["linux"].update(namespaces=[
        {"type": "mount"}, {"type": "pid"},
        {"type": "network", "path": f"/proc/{pid}/ns/net"},
        {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
        {"type": "ipc", "path": f"/proc/{pid}/ns/ipc"}]))
    bundle.edit(lambda c: c.pop("hostname", None))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "for n in net uts ipc; do readlink /proc/self/ns/$n; done")
    assert code == 0, err
    assert out.split() == [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("net", "uts", "ipc")]
    runtime.run("delete", "--force", holder, check=True)


@pytest.mark.parametrize("path,message", [
    ("/tmp", "is not a namespace"),
    ("/proc/self/ns/uts", "is not a network namespace"),
    ("/does/not/exist", "cannot open /does/not/exist"),
])
def test_bad_namespace_path(runtime, bundle, path, message):
    bundle.edit(lambda c: c["linux"]["namespaces"].__setitem__(
        1, {"type": "network", "path": path}))
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    assert proc.returncode == 1
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and message in lines[0] and "linux.namespaces[1].path" in lines[0], lines
    assert not os.path.exists(os.path.join(runtime.root, cid))
