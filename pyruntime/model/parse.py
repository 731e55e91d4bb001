"""JSON documents (already schema-checked) into the frozen spec model.

One small function per spec object. Input has passed the schema, so these
only rename fields, fill defaults and turn lists into tuples. The optional
sections' modules (resources, limits, seccomp, tuning) are imported only
when the document has them.
"""
from __future__ import annotations

from pyruntime.model import config as c


def _strs(value) -> tuple[str, ...]:
    return tuple(value or ())


def _opt_strs(value) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def id_mappings(items) -> tuple[c.IDMapping, ...]:
    return tuple(c.IDMapping(m["containerID"], m["hostID"], m["size"]) for m in items or ())


def user(d: dict) -> c.User:
    return c.User(uid=d.get("uid", 0), gid=d.get("gid", 0), umask=d.get("umask"),
                  additional_gids=tuple(d.get("additionalGids") or ()),
                  username=d.get("username", ""))


def capabilities(d: dict) -> c.Capabilities:
    return c.Capabilities(*(_opt_strs(d.get(k)) for k in
                            ("bounding", "effective", "inheritable", "permitted", "ambient")))


def process(d: dict) -> c.Process:
    size = d.get("consoleSize")
    prio = d.get("ioPriority")
    sched = d.get("scheduler")
    affinity = d.get("execCPUAffinity")
    if prio or sched or affinity:
        from pyruntime.model import tuning as t
    return c.Process(
        args=_strs(d.get("args")),
        cwd=d.get("cwd", "/"),
        env=_strs(d.get("env")),
        terminal=d.get("terminal", False),
        console_size=c.ConsoleSize(size["height"], size["width"]) if size else None,
        user=user(d.get("user") or {}),
        command_line=d.get("commandLine", ""),
        capabilities=capabilities(d["capabilities"]) if "capabilities" in d else None,
        rlimits=tuple(c.Rlimit(r["type"], r["soft"], r["hard"]) for r in d.get("rlimits") or ()),
        no_new_privileges=d.get("noNewPrivileges", False),
        apparmor_profile=d.get("apparmorProfile", ""),
        oom_score_adj=d.get("oomScoreAdj"),
        selinux_label=d.get("selinuxLabel", ""),
        io_priority=t.IOPriority(prio["class"], prio.get("priority", 0)) if prio else None,
        scheduler=t.Scheduler(sched["policy"], sched.get("nice", 0), sched.get("priority", 0),
                              _strs(sched.get("flags")), sched.get("runtime", 0),
                              sched.get("deadline", 0), sched.get("period", 0)) if sched else None,
        exec_cpu_affinity=(t.ExecCPUAffinity(affinity.get("initial", ""), affinity.get("final", ""))
                           if affinity else None),
    )


def mount(d: dict) -> c.Mount:
    destination = d["destination"]
    if not destination.startswith("/"):  # runtime-spec: relative to "/" (deprecated, allowed)
        destination = "/" + destination
    return c.Mount(destination=destination, type=d.get("type", ""),
                   source=d.get("source", ""), options=_strs(d.get("options")),
                   uid_mappings=id_mappings(d.get("uidMappings")),
                   gid_mappings=id_mappings(d.get("gidMappings")))


def hook(d: dict) -> c.Hook:
    return c.Hook(d["path"], _strs(d.get("args")), _strs(d.get("env")), d.get("timeout"))


def hooks(d: dict) -> c.Hooks:
    def each(key):
        return tuple(hook(h) for h in d.get(key) or ())
    return c.Hooks(each("prestart"), each("createRuntime"), each("createContainer"),
                   each("startContainer"), each("poststart"), each("poststop"))


def _throttles(items):
    from pyruntime.model.limits import DeviceThrottle
    return tuple(DeviceThrottle(t["major"], t["minor"], t.get("rate", 0)) for t in items or ())


def _limits(d: dict) -> dict:
    """The per-controller limit fields of Resources (model.limits), for those present."""
    from pyruntime.model import limits as lim
    mem, cpu, blk, net = d.get("memory"), d.get("cpu"), d.get("blockIO"), d.get("network")
    out: dict = {}
    if mem is not None:
        out["memory"] = lim.Memory(mem.get("limit"), mem.get("reservation"), mem.get("swap"),
                                   mem.get("kernel"), mem.get("kernelTCP"), mem.get("swappiness"),
                                   mem.get("disableOOMKiller"), mem.get("useHierarchy"),
                                   mem.get("checkBeforeUpdate"))
    if cpu is not None:
        out["cpu"] = lim.CPU(cpu.get("shares"), cpu.get("quota"), cpu.get("burst"), cpu.get("period"),
                             cpu.get("realtimeRuntime"), cpu.get("realtimePeriod"), cpu.get("cpus"),
                             cpu.get("mems"), cpu.get("idle"))
    if blk is not None:
        out["block_io"] = lim.BlockIO(
            blk.get("weight"), blk.get("leafWeight"),
            tuple(lim.DeviceWeight(w["major"], w["minor"], w.get("weight"), w.get("leafWeight"))
                  for w in blk.get("weightDevice") or ()),
            _throttles(blk.get("throttleReadBpsDevice")), _throttles(blk.get("throttleWriteBpsDevice")),
            _throttles(blk.get("throttleReadIOPSDevice")), _throttles(blk.get("throttleWriteIOPSDevice")))
    if d.get("hugepageLimits"):
        out["hugepage_limits"] = tuple(lim.HugepageLimit(h["pageSize"], h["limit"])
                                       for h in d["hugepageLimits"])
    if net is not None:
        out["network"] = lim.Network(net.get("classID"),
                                     tuple(lim.NetPriority(p["name"], p["priority"])
                                           for p in net.get("priorities") or ()))
    if d.get("rdma"):
        out["rdma"] = {k: lim.Rdma(v.get("hcaHandles"), v.get("hcaObjects")) for k, v in d["rdma"].items()}
    return out


LIMIT_KEYS = ("memory", "cpu", "blockIO", "hugepageLimits", "network", "rdma")


def resources(d: dict):
    from pyruntime.model.resources import DeviceRule, Resources
    limits = _limits(d) if any(d.get(k) is not None for k in LIMIT_KEYS) else {}
    return Resources(
        devices=tuple(DeviceRule(rule["allow"], rule.get("type") or "a", rule.get("major"),
                                 rule.get("minor"), rule.get("access") or "rwm")
                      for rule in d.get("devices") or ()),
        pids_limit=(d.get("pids") or {}).get("limit"),
        unified=dict(d.get("unified") or {}),
        **limits,
    )


def seccomp(d: dict):
    from pyruntime.model import seccomp as sc
    return sc.Seccomp(
        default_action=d["defaultAction"], default_errno_ret=d.get("defaultErrnoRet"),
        architectures=_strs(d.get("architectures")), flags=_strs(d.get("flags")),
        listener_path=d.get("listenerPath", ""), listener_metadata=d.get("listenerMetadata", ""),
        syscalls=tuple(
            sc.SyscallRule(_strs(s["names"]), s["action"], s.get("errnoRet"),
                           tuple(sc.SyscallArg(a["index"], a["value"], a["op"], a.get("valueTwo", 0))
                                 for a in s.get("args") or ()))
            for s in d.get("syscalls") or ()),
    )


def linux(d: dict) -> c.Linux:
    rdt, mpol, pers = d.get("intelRdt"), d.get("memoryPolicy"), d.get("personality")
    if rdt is not None or mpol is not None or pers is not None or d.get("timeOffsets"):
        from pyruntime.model import tuning as t
    return c.Linux(
        namespaces=tuple(c.Namespace(n["type"], n.get("path", "")) for n in d.get("namespaces") or ()),
        uid_mappings=id_mappings(d.get("uidMappings")),
        gid_mappings=id_mappings(d.get("gidMappings")),
        time_offsets={k: t.TimeOffset(v.get("secs", 0), v.get("nanosecs", 0))
                      for k, v in (d.get("timeOffsets") or {}).items()},
        devices=tuple(c.Device(x["type"], x["path"], x.get("major", 0), x.get("minor", 0),
                               x.get("fileMode"), x.get("uid"), x.get("gid"))
                      for x in d.get("devices") or ()),
        net_devices={k: (v or {}).get("name") or k for k, v in (d.get("netDevices") or {}).items()},
        cgroups_path=d.get("cgroupsPath", ""),
        resources=resources(d["resources"]) if d.get("resources") is not None else None,
        rootfs_propagation=d.get("rootfsPropagation", ""),
        seccomp=seccomp(d["seccomp"]) if d.get("seccomp") is not None else None,
        sysctl=dict(d.get("sysctl") or {}),
        masked_paths=_strs(d.get("maskedPaths")),
        readonly_paths=_strs(d.get("readonlyPaths")),
        mount_label=d.get("mountLabel", ""),
        intel_rdt=t.IntelRdt(rdt.get("closID", ""), _strs(rdt.get("schemata")),
                             rdt.get("l3CacheSchema", ""), rdt.get("memBwSchema", ""),
                             rdt.get("enableMonitoring", False)) if rdt is not None else None,
        memory_policy=(t.MemoryPolicy(mpol.get("mode", "MPOL_DEFAULT"), mpol.get("nodes", ""),
                                      _strs(mpol.get("flags"))) if mpol is not None else None),
        personality=(t.Personality(pers.get("domain", "LINUX"), _strs(pers.get("flags")))
                     if pers is not None else None),
    )


def spec(d: dict) -> c.Spec:
    root = d.get("root")
    return c.Spec(
        oci_version=d["ociVersion"],
        root=c.Root(root["path"], root.get("readonly", False)) if root else None,
        process=process(d["process"]) if d.get("process") is not None else None,
        hostname=d.get("hostname"),
        domainname=d.get("domainname"),
        mounts=tuple(mount(m) for m in d.get("mounts") or ()),
        hooks=hooks(d.get("hooks") or {}),
        annotations=dict(d.get("annotations") or {}),
        linux=linux(d.get("linux") or {}),
    )
