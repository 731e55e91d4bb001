"""The process section: capabilities, no_new_privs, rlimits, identity, OOM score,
personality, scheduling, I/O priority, memory policy, CPU affinity, LSM refusal."""
from __future__ import annotations

import json
import os

import pytest

from helpers import run_container
from pyruntime.model.names import capability_number


def status_fields(out: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def mask(*names) -> int:
    return sum(1 << capability_number(n) for n in names)


def test_capability_sets_seen_inside(runtime, bundle):
    caps = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
            "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]}
    bundle.edit(lambda c: c["process"].update(capabilities=caps))
    code, out, err = run_container(runtime, bundle, "grep", "^Cap", "/proc/self/status")
    assert code == 0, err
    f = status_fields(out)
    # after execve: effective = permitted = ambient-derived for a non-setuid binary as root
    assert int(f["CapBnd"], 16) == mask(*caps["bounding"])
    assert int(f["CapInh"], 16) == mask("CAP_NET_RAW")
    assert int(f["CapAmb"], 16) == mask("CAP_NET_RAW")
    assert int(f["CapPrm"], 16) & mask("CAP_CHOWN", "CAP_KILL") == mask("CAP_CHOWN", "CAP_KILL")
    assert not int(f["CapEff"], 16) & mask("CAP_SETUID")


def test_non_root_user_keeps_only_ambient(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(
        user={"uid": 1000, "gid": 1000, "additionalGids": [5, 100], "umask": 0o077},
        capabilities={k: ["CAP_NET_BIND_SERVICE"] for k in
                      ("bounding", "effective", "permitted", "inheritable", "ambient")}))
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "id -u; id -g; id -G; umask; grep CapEff /proc/self/status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["1000", "1000", "1000 5 100", "0077"]
    assert int(lines[4].split()[1], 16) == mask("CAP_NET_BIND_SERVICE")


@pytest.mark.parametrize("nnp,expected", [(True, "1"), (False, "0")])
def test_no_new_privileges(runtime, bundle, nnp, expected):
    bundle.edit(lambda c: c["process"].update(noNewPrivileges=nnp))
    code, out, _ = run_container(runtime, bundle, "grep", "NoNewPrivs", "/proc/self/status")
    assert out.split() == ["NoNewPrivs:", expected]


def test_rlimits(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(rlimits=[
        {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
        {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88},
        {"type": "RLIMIT_CORE", "soft": 18446744073709551615, "hard": 18446744073709551615}]))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -c")
    assert code == 0, err
    assert out.split() == ["321", "654", "77", "unlimited"]


def test_rlimit_above_hard_limit_is_a_clear_error(runtime, bundle):
    with open("/proc/self/limits") as f:
        hard = next(l for l in f if l.startswith("Max open files")).split()[4]
    bundle.edit(lambda c: c["process"].update(rlimits=[
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": int(hard) + 1}]))
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1
    assert err == (f"pyruntime: process.rlimits[0]: RLIMIT_NOFILE hard limit {int(hard) + 1} is above the "
                   f"current hard limit {hard}; raising it needs CAP_SYS_RESOURCE, which the runtime does not have\n")


def test_oom_score_adj(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(oomScoreAdj=500))
    code, out, err = run_container(runtime, bundle, "cat", "/proc/self/oom_score_adj")
    assert (code, out.strip()) == (0, "500"), err


def test_personality_linux32(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(personality={"domain": "LINUX32"}))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "cat /proc/self/personality; uname -m")
    assert code == 0, err
    assert out.split() == ["00000008", "i686"]


def test_scheduler_policy_and_nice(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(scheduler={"policy": "SCHED_BATCH", "nice": 7}))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "cat /proc/self/stat")
    assert code == 0, err
    fields = out.rsplit(")", 1)[1].split()
    assert fields[16] == "7" and fields[38] == "3"  # nice (field 19), policy (field 41) = SCHED_BATCH


def test_io_priority(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 6}))
    code, out, err = run_container(runtime, bundle, "ionice")
    assert code == 0, err
    assert out.strip() == "best-effort: prio 6"


def test_memory_policy(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0"}))
    code, out, err = run_container(runtime, bundle, "grep", "-c", "bind:0", "/proc/self/numa_maps")
    assert code == 0 and int(out) > 0, err


@pytest.mark.parametrize("field,value,message", [
    ("apparmorProfile", "docker-default", "process.apparmorProfile: 'docker-default' requested but AppArmor is not enabled on this host"),
    ("selinuxLabel", "system_u:system_r:container_t:s0", "process.selinuxLabel: 'system_u:system_r:container_t:s0' requested but SELinux is not enabled on this host"),
])
def test_lsm_refused_clearly_where_absent(runtime, bundle, field, value, message):
    import os
    if field == "apparmorProfile" and os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("this host has AppArmor")
    bundle.edit(lambda c: c["process"].update({field: value}))
    code, _, err = run_container(runtime, bundle, "true")
    assert (code, err) == (1, f"pyruntime: config.json: {message}\n")


def test_unimplemented_features_refused(runtime, bundle):
    """Refused, never silently ignored; `features` reports it as disabled."""
    bundle.edit(lambda c: c["linux"].update({"netDevices": {"eth9": {"name": "eth0"}}}))
    code, _, err = run_container(runtime, bundle, "true")
    assert (code, err) == (1, "pyruntime: config.json: linux.netDevices: not supported by pyruntime (see `pyruntime features`)\n")
    features = json.loads(runtime.output("features"))["linux"]
    assert features["netDevices"] == {"enabled": False}


def _resctrl_root() -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[parts.index("-") + 1] == "resctrl":
                return parts[4]
    return ""


def test_intel_rdt(runtime, bundle):
    """Where resctrl is mounted the init is in the container's group, removed on delete;
    where it is not (this VM: no RDT in the CPU), the spec's error, before anything exists."""
    root = _resctrl_root()
    assert json.loads(runtime.output("features"))["linux"]["intelRdt"] == {
        "enabled": True, "schemata": True, "monitoring": True}
    bundle.edit(lambda c: c["linux"].update({"intelRdt": {"enableMonitoring": False}}))
    if not root:
        code, _, err = run_container(runtime, bundle, "true")
        assert code == 1
        assert err == ("pyruntime: config.json: linux.intelRdt: no resctrl filesystem is mounted (it needs a CPU with "
                       "Intel RDT or AMD PQoS and `mount -t resctrl resctrl /sys/fs/resctrl`)\n")
        return
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    pid = json.loads(runtime.output("state", cid))["pid"]
    with open(f"{root}/{cid}/tasks") as f:
        assert str(pid) in f.read().split()
    runtime.run("delete", "--force", cid, check=True)
    assert not os.path.exists(f"{root}/{cid}")


def test_exec_cpu_affinity(runtime, bundle):
    import os
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two cpus to move a process between")
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    out = runtime.output("exec", cid, "grep", "Cpus_allowed_list", "/proc/self/status")
    with open("/proc/self/status") as f:  # without execCPUAffinity: the caller's own, inherited
        ours = next(line.split()[1] for line in f if line.startswith("Cpus_allowed_list"))
    assert out.split()[1] == ours
    import json
    process = dict(args=["grep", "Cpus_allowed_list", "/proc/self/status"], cwd="/",
                   execCPUAffinity={"initial": str(allowed[0]), "final": str(allowed[-1])})
    path = os.path.join(bundle.path, "p.json")
    with open(path, "w") as f:
        json.dump(process, f)
    assert runtime.output("exec", "--process", path, cid).split()[1] == str(allowed[-1])
