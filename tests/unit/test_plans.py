"""Golden tests of the create plan for sample bundles (pure: no root needed)."""
from __future__ import annotations

import pytest

from pyruntime.cgroups.layout import Layout
from pyruntime.cli.verb_spec import default_spec
from pyruntime.errors import ConfigError
from pyruntime.kernel import mount as m
from pyruntime.lifecycle.plan import CreateOptions, HostFacts, make_plan
from pyruntime.model import spec_from_dict
from pyruntime.namespaces.plan import FLAGS
from pyruntime.rootfs import plan as rp

HOST = HostFacts(Layout("hybrid", {"memory": "/sys/fs/cgroup/memory"}, "/sys/fs/cgroup/unified"), 40)


def plan_for(doc, **options):
    return make_plan(spec_from_dict(doc), CreateOptions(id="c1", bundle="/b", **options), HOST)


def test_default_spec_plan():
    p = plan_for(default_spec())
    assert p.rootfs == "/b/rootfs" and p.cgroup_path == "/pyruntime/c1"
    assert p.ns.create_flags == FLAGS["pid"] | FLAGS["network"] | FLAGS["ipc"] | FLAGS["uts"] \
        | FLAGS["mount"] | FLAGS["cgroup"]
    assert not p.ns.new_user and p.ns.join == ()
    assert p.root_propagation == 0  # nothing after pivot_root: the tree stays rslave
    kinds = [(type(s).__name__, getattr(s, "target", getattr(s, "path", ""))) for s in p.mounts]
    assert kinds[:7] == [("FsMount", "/proc"), ("FsMount", "/dev"), ("FsMount", "/dev/pts"),
                         ("FsMount", "/dev/shm"), ("FsMount", "/dev/mqueue"), ("FsMount", "/sys"),
                         ("CgroupMount", "/sys/fs/cgroup")]
    devices = [s.device.path for s in p.mounts if isinstance(s, rp.MakeDevice)]
    assert devices == ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom", "/dev/random"]
    assert all(not s.bind for s in p.mounts if isinstance(s, rp.MakeDevice))
    assert ("Symlink", "/dev/ptmx") in [(type(s).__name__, getattr(s, "path", "")) for s in p.mounts]
    masked = [s.path for s in p.mounts if isinstance(s, rp.MaskPath)]
    assert masked[0] == "/proc/acpi" and len(masked) == 10
    sysfs = p.mounts[5]
    assert sysfs.o.flags == m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV | m.MS_RDONLY
    assert p.caps.bounding == p.caps.effective == (1 << 29) | (1 << 5) | (1 << 10)


def test_user_namespace_plan_binds_devices_and_maps():
    doc = default_spec()
    doc["linux"]["namespaces"].append({"type": "user"})
    doc["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    doc["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 10}]
    p = plan_for(doc)
    assert p.ns.new_user and p.ns.uid_map == "0 1000 10\n" and p.ns.gid_map == "0 2000 10\n"
    assert not p.ns.create_flags & FLAGS["user"]
    assert all(s.bind for s in p.mounts if isinstance(s, rp.MakeDevice))


def test_joined_namespaces_order_user_first_mount_last():
    doc = default_spec()
    doc["linux"]["namespaces"] = [{"type": "mount", "path": "/proc/1/ns/mnt"},
                                  {"type": "network", "path": "/run/netns/x"},
                                  {"type": "user", "path": "/proc/1/ns/user"}, {"type": "pid"}]
    doc.pop("hostname")
    p = plan_for(doc)
    assert [k for k, _ in p.ns.join] == ["user", "network", "mount"]
    assert p.ns.create_flags == FLAGS["pid"]


def test_bind_mount_sources_resolve_against_bundle_and_proc_is_guarded():
    doc = default_spec()
    doc["mounts"].append({"destination": "/data", "type": "bind", "source": "vol", "options": ["rbind", "ro"]})
    p = plan_for(doc)
    bind = [s for s in p.mounts if isinstance(s, rp.BindMount)][0]
    assert bind.source == "/b/vol" and bind.o.recursive_bind and bind.o.flags & m.MS_RDONLY
    import pytest
    from pyruntime.errors import ConfigError
    doc["mounts"].append({"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["bind"]})
    with pytest.raises(ConfigError, match="only a proc filesystem may be mounted on /proc"):
        plan_for(doc)


def test_undo_runs_back_and_reports_a_failed_step():
    from pyruntime.errors import PyruntimeError
    from pyruntime.lifecycle.undo import Undo
    done = []

    def stuck():
        raise OSError("busy")

    with pytest.raises(PyruntimeError) as info:
        with Undo() as undo:
            undo.callback(done.append, "first")
            undo.callback(stuck)
            undo.callback(done.append, "last")
            raise PyruntimeError("create failed")
    assert done == ["last", "first"]  # reverse order, and past the failing step
    assert str(info.value) == "create failed (and undoing it failed: busy)"
    with Undo() as undo:
        undo.callback(done.append, "kept")
        undo.pop_all()
    assert "kept" not in done


@pytest.mark.parametrize("resources,problem", [
    ({"memory": {"swappiness": 500}}, "linux.resources.memory.swappiness: must be 0-100, got 500"),
    ({"unified": {"memory.high": "1"}}, "linux.resources.unified: raw cgroup v2 keys need a cgroup v2 host"),
    ({"pids": {"limit": 10}}, "linux.resources.pids.limit: the pids controller is not mounted on this host"),
])
def test_cgroup_refusals_are_made_by_the_plan(resources, problem):
    """Before any state directory or cgroup exists: the plan runs the cgroup write tables
    against this host's layout (HOST has only a memory hierarchy)."""
    doc = default_spec()
    doc["linux"]["resources"] = resources
    with pytest.raises(ConfigError) as info:
        plan_for(doc)
    assert any(problem in line for line in info.value.problems), info.value.problems


def test_a_v2_host_takes_unified_keys():
    doc = default_spec()
    doc["linux"]["resources"] = {"unified": {"memory.high": "1"}}
    host = HostFacts(Layout("v2", {}, "/sys/fs/cgroup"), 40)
    spec = spec_from_dict(doc)
    make_plan(spec, CreateOptions(id="x", bundle="/b"), host)
