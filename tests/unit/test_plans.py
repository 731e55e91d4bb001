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
    return make_plan(spec_from_dict(doc), CreateOptions(id="c1", bundle="/b", **{"console_provided": True, **options}), HOST)


def test_default_spec_plan():
    p = plan_for(default_spec())
    assert p.rootfs == "/b/rootfs" and p.cgroup_path == "/pyruntime/c1"
    assert p.ns.create_flags == FLAGS["pid"] | FLAGS["network"] | FLAGS["ipc"] | FLAGS["uts"] \
        | FLAGS["mount"] | FLAGS["cgroup"]
    assert not p.ns.new_user and p.ns.join == ()
    assert p.root_propagation == 0  # nothing after pivot_root: the tree stays rslave
    kinds = [(type(s).__name__, getattr(s, "target", getattr(s, "path", ""))) for s in p.mounts]
    assert kinds[:8] == [("FsMount", "/proc"), ("FsMount", "/dev"), ("FsMount", "/dev/pts"),
                         ("FsMount", "/dev/shm"), ("FsMount", "/dev/mqueue"), ("FsMount", "/sys"),
                         ("EnterCgroup", ""), ("CgroupMount", "/sys/fs/cgroup")]
    assert kinds.count(("EnterCgroup", "")) == 1
    devices = [s.device.path for s in p.mounts if isinstance(s, rp.MakeDevice)]
    assert devices == ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom", "/dev/random"]
    assert all(not s.bind for s in p.mounts if isinstance(s, rp.MakeDevice))
    assert ("Symlink", "/dev/ptmx") in [(type(s).__name__, getattr(s, "path", "")) for s in p.mounts]
    masked = [s.path for s in p.mounts if isinstance(s, rp.MaskPath)]
    assert masked[0] == "/proc/acpi" and len(masked) == 10
    sysfs = p.mounts[5]
    assert sysfs.o.flags == m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV | m.MS_RDONLY
    assert p.process.caps.bounding == p.process.caps.effective == (1 << 29) | (1 << 5) | (1 << 10)


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
    make_plan(spec, CreateOptions(id="x", bundle="/b", console_provided=True), host)


def test_without_a_cgroup_mount_the_cgroup_is_entered_after_every_mount_step():
    doc = default_spec()
    doc["mounts"] = [mnt for mnt in doc["mounts"] if mnt["type"] != "cgroup"]
    steps = plan_for(doc).mounts
    assert isinstance(steps[-1], rp.EnterCgroup)
    assert sum(isinstance(s, rp.EnterCgroup) for s in steps) == 1


def test_the_plan_carries_decisions_not_the_config():
    """What the init and exec act on is in the plan (the issue: the plan carried the whole spec,
    read 27 times after planning)."""
    from pyruntime.model.config import Spec
    from pyruntime.startup.dataclass import fields
    p = plan_for(default_spec())
    assert not [f.name for f in fields(p) if isinstance(getattr(p, f.name), Spec)]
    assert p.hostname == "pyruntime" and p.root_readonly is True
    # the device rules every container needs are decided here, and kept apart for update
    assert p.cgroup_resources.devices[-len(p.cgroup_base_devices):] == p.cgroup_base_devices
    assert p.cgroup_resources.devices[0].allow is False  # the config's deny-all comes first
    # how the init resolves paths is the host's fact, handed on
    old_kernel = HostFacts(HOST.layout, 40, openat2=False)
    assert make_plan(spec_from_dict(default_spec()), CreateOptions(id="c1", bundle="/b", console_provided=True), old_kernel).openat2 is False


def _checked(change, host=HOST, **options):
    from pyruntime.lifecycle import plan as lp
    from pyruntime.namespaces import plan as nsplan
    doc = default_spec()
    change(doc)
    spec = spec_from_dict(doc)
    return {check.__name__: check(spec, CreateOptions(id="c1", bundle="/b", **{"console_provided": True, **options}), host,
                                  nsplan.plan(spec.linux)) for check in lp.CHECKS}


def _without(kind):
    def change(doc):
        doc["linux"]["namespaces"] = [n for n in doc["linux"]["namespaces"] if n["type"] != kind]
    return change


@pytest.mark.parametrize("check,change,problems", [
    ("check_mounts_need_mount_namespace", lambda d: (_without("mount")(d), d["linux"].update(rootfsPropagation="shared")),
     ["linux.maskedPaths: needs a mount namespace (it would change the host's mounts)",
      "linux.readonlyPaths: needs a mount namespace (it would change the host's mounts)",
      "root.readonly: needs a mount namespace (it would change the host's mounts)",
      "linux.rootfsPropagation: needs a mount namespace (it would change the host's mounts)"]),
    ("check_cgroup_writes", lambda d: d["linux"].update(resources={"memory": {"swappiness": 500}}),
     ["linux.resources.memory.swappiness: must be 0-100, got 500"]),
    ("check_names_need_uts_namespace", lambda d: (_without("uts")(d), d.update(domainname="example")),
     ["hostname: setting it needs a uts namespace", "domainname: setting it needs a uts namespace"]),
    ("check_lsm_labels", lambda d: d["process"].update(apparmorProfile="x", selinuxLabel="y"),
     ["process.apparmorProfile: 'x' requested but AppArmor is not enabled on this host",
      "process.selinuxLabel: 'y' requested but SELinux is not enabled on this host"]),
    ("check_host_features", lambda d: d["linux"].update(intelRdt={"closID": "g"}, netDevices={"eth1": {}}),
     ["linux.intelRdt: no resctrl filesystem is mounted (it needs a CPU with Intel RDT or AMD PQoS and "
      "`mount -t resctrl resctrl /sys/fs/resctrl`)",
      "linux.netDevices: not supported by pyruntime (see `pyruntime features`)"]),
])
def test_each_refusal_is_a_named_check(check, change, problems):
    """Each check finds its own problems and no other check does; the default config passes all."""
    host = HostFacts(HOST.layout, 40, apparmor=False, selinux=False)
    assert not any(_checked(lambda d: None, host).values())
    found = _checked(change, host)
    assert found.pop(check) == problems
    assert not any(found.values()), found


def test_a_terminal_needs_somewhere_for_its_pty():
    """create's --console-socket, or run in the foreground, which holds the pty itself."""
    problem = ["process.terminal is true but no --console-socket was given (where its pty master goes)"]
    found = _checked(lambda d: None, console_provided=False)
    assert found.pop("check_console") == problem and not any(found.values())
    assert _checked(lambda d: None, console_provided=False, console_socket="/run/s")["check_console"] == []
    assert _checked(lambda d: d["process"].update(terminal=False), console_provided=False)["check_console"] == []


def test_every_problem_of_every_check_is_reported_at_once():
    doc = default_spec()
    doc["linux"]["namespaces"] = [n for n in doc["linux"]["namespaces"] if n["type"] not in ("uts", "mount")]
    doc["linux"]["resources"] = {"memory": {"swappiness": 500}}
    with pytest.raises(ConfigError) as info:
        plan_for(doc)
    # three fields that need a mount namespace, the cgroup write, the hostname
    assert len(info.value.problems) == 5, info.value.problems


def test_an_idmap_mount_takes_the_user_namespace_mappings_or_is_refused_by_the_plan():
    doc = default_spec()
    doc["mounts"].append({"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"]})
    with pytest.raises(ConfigError) as info:
        plan_for(doc)
    assert info.value.problems == [f"config.json: mounts[{len(doc['mounts']) - 1}].options: idmap needs uidMappings/gidMappings "
                                   "on the mount or a user namespace with mappings"]
    doc["linux"]["namespaces"].append({"type": "user"})
    doc["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    doc["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 10}]
    step = [s for s in plan_for(doc).mounts if getattr(s, "target", "") == "/data"][0]
    assert (step.uid_mappings[0].host_id, step.gid_mappings[0].host_id) == (1000, 2000)


def test_the_process_plan_holds_what_the_kernel_takes():
    doc = default_spec()
    doc["process"].update(ioPriority={"class": "IOPRIO_CLASS_IDLE", "priority": 7},
                          scheduler={"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
                          execCPUAffinity={"initial": "0-2,5", "final": "1"})
    doc["linux"].update(personality={"domain": "LINUX32"},
                        memoryPolicy={"mode": "MPOL_BIND", "nodes": "0,2-3", "flags": ["MPOL_F_STATIC_NODES"]})
    pp = plan_for(doc).process
    assert pp.io_priority == 3 << 13 | 7
    assert pp.scheduler == (3, 1, 5, 0, 0, 0, 0)
    assert pp.persona == 0x0008
    assert pp.memory_policy == (2 | 1 << 15, (0, 2, 3))
    assert pp.affinity == ({0, 1, 2, 5}, {1})


@pytest.mark.parametrize("nodes", ["x", "3-1", "1-", "-1", "1,,a"])
def test_a_memory_policy_node_list_that_is_not_one_is_a_config_error(nodes):
    doc = default_spec()
    doc["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": nodes}
    with pytest.raises(ConfigError) as info:
        plan_for(doc)
    assert info.value.problems == [f"config.json: linux.memoryPolicy.nodes: {nodes!r} is not a list like 0-2,5"]
