"""Mounts, devices, namespaces and resources of a container: CRI -> OCI."""
from __future__ import annotations

import os

from ..errors import InvalidArgument

# the mounts every container gets, before the pod's files and the request's mounts
BASE_MOUNTS = (
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
)
SHM = {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
       "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}
_PROPAGATION = {0: "rprivate", 1: "rslave", 2: "rshared"}


def mounts(requested, pod, privileged: bool, selinux: bool, image_volumes: dict | None = None) -> list[dict]:
    """``image_volumes``: mounts[i] of an image -> the host directory that holds it (made by the caller)."""
    out = [dict(m, options=list(m["options"])) for m in BASE_MOUNTS]
    if privileged:  # as runc and containerd: /sys writable for privileged containers
        for m in out:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    wanted = {m.container_path for m in requested}
    if pod.shm:
        out.append({"destination": "/dev/shm", "type": "bind", "source": pod.shm,
                    "options": ["rbind", "nosuid", "noexec", "nodev", "rw"]})
    else:
        out.append(dict(SHM, options=list(SHM["options"])))
    for dest, source in sorted(pod.etc_files.items()):
        if dest not in wanted:  # a request's own mount at the same place wins (kubelet's /etc/hosts)
            out.append({"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rprivate", "rw"]})
    for i, m in enumerate(requested):
        where = f"mounts[{i}]"
        if not m.container_path.startswith("/"):
            raise InvalidArgument(f"{where}.container_path: {m.container_path!r} is not absolute")
        source = m.host_path
        if m.HasField("image") and m.image.image:
            if not m.readonly:  # an image is shared by every container that mounts it
                raise InvalidArgument(f"{where}.readonly: an image volume is read-only")
            source = (image_volumes or {}).get(i)
            if source is None:
                raise InvalidArgument(f"{where}.image: {m.image.image!r} is not available as a volume")
        elif not m.host_path:
            raise InvalidArgument(f"{where}.host_path: empty")
        # without SELinux there is nothing to relabel (containerd and CRI-O do nothing either); with it,
        # pyruntime-cri cannot relabel yet and says so rather than run with the wrong labels
        if m.selinux_relabel and selinux:
            raise InvalidArgument(f"{where}.selinux_relabel: relabelling for SELinux is not supported")
        if m.uidMappings or m.gidMappings:
            raise InvalidArgument(f"{where}: id-mapped mounts need a user namespace, which pods here do not get")
        if m.propagation not in _PROPAGATION:
            raise InvalidArgument(f"{where}.propagation: unknown value {m.propagation}")
        options = ["rbind", _PROPAGATION[m.propagation], "ro" if m.readonly else "rw"]
        if m.recursive_read_only:
            if not m.readonly:
                raise InvalidArgument(f"{where}.recursive_read_only: needs readonly")
            options.append("rro")
        out = [o for o in out if o["destination"] != os.path.normpath(m.container_path)]
        out.append({"destination": os.path.normpath(m.container_path), "type": "bind",
                    "source": source, "options": options})
    return out


def rootfs_propagation(requested) -> str | None:
    """A Bidirectional mount needs a shared root, a HostToContainer one a slave root (containerd's rule):
    a private root would cut the mount's propagation off at the container's own root."""
    kinds = {m.propagation for m in requested}
    return "rshared" if 2 in kinds else "rslave" if 1 in kinds else None


def devices(requested, inputs, privileged: bool) -> tuple[list[dict], list[dict]]:
    """(linux.devices, linux.resources.devices) for the request's devices (all host devices when privileged)."""
    nodes, rules = [], [{"allow": False, "access": "rwm"}]
    chosen = []
    if privileged:
        chosen = [(path, path, "rwm") for path in sorted(inputs.host_devices)]
        table = inputs.host_devices
    else:
        table = inputs.devices
    for i, d in enumerate(requested):
        perms = d.permissions or "rwm"
        if not set(perms) <= set("rwm"):
            raise InvalidArgument(f"devices[{i}].permissions: {perms!r} is not a subset of 'rwm'")
        if d.host_path not in table:
            raise InvalidArgument(f"devices[{i}].host_path: {d.host_path} is not a device node on this host")
        chosen.append((d.host_path, d.container_path or d.host_path, perms))
    for host, path, perms in chosen:
        kind, major, minor, mode = table[host]
        nodes.append({"path": path, "type": kind, "major": major, "minor": minor, "fileMode": mode & 0o777,
                      "uid": 0, "gid": 0})
        rules.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": perms})
    if privileged:
        rules = [{"allow": True, "access": "rwm"}]
    return nodes, rules


def namespaces(options, pod, inputs) -> list[dict]:
    """linux.namespaces from NamespaceOption (POD=0, CONTAINER=1, NODE=2, TARGET=3)."""
    net = options.network if options else 0
    pid = options.pid if options else 0
    ipc = options.ipc if options else 0
    if options and options.HasField("userns_options") and options.userns_options.mode != 2:
        raise InvalidArgument("namespace_options.userns_options: user namespaces are not supported yet")
    out = [{"type": "mount"}]
    if net != 2:
        if pod.netns is None:
            raise InvalidArgument("namespace_options.network: the pod has no network namespace of its own")
        out.append({"type": "network", "path": pod.netns})
    if ipc != 2:
        out.append({"type": "ipc", "path": pod.ipcns} if pod.ipcns else {"type": "ipc"})
    if net != 2:  # the uts namespace follows the network (host network = host name)
        out.append({"type": "uts", "path": pod.utsns} if pod.utsns else {"type": "uts"})
    if pid == 0:
        out.append({"type": "pid", "path": pod.pidns} if pod.pidns else {"type": "pid"})
    elif pid == 1:
        out.append({"type": "pid"})
    elif pid == 3:
        if not inputs.target_pidns:
            raise InvalidArgument("namespace_options.target_id: the target container is not running")
        out.append({"type": "pid", "path": inputs.target_pidns})
    elif pid != 2:
        raise InvalidArgument(f"namespace_options.pid: unknown mode {pid}")
    out.append({"type": "cgroup"})
    return out


def resources(r, device_rules: list[dict]) -> dict:
    """linux.resources from LinuxContainerResources (zero means unset, as kubelet sends it)."""
    out: dict = {"devices": device_rules}
    if r is None:
        return out
    cpu = {k: v for k, v in (("shares", r.cpu_shares), ("quota", r.cpu_quota), ("period", r.cpu_period)) if v}
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        cpu["mems"] = r.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    memory = {}
    if r.memory_limit_in_bytes:
        memory["limit"] = r.memory_limit_in_bytes
    if r.memory_swap_limit_in_bytes:
        memory["swap"] = r.memory_swap_limit_in_bytes
    if memory:
        out["memory"] = memory
    if r.hugepage_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit} for h in r.hugepage_limits]
    if r.unified:
        out["unified"] = dict(r.unified)
    return out


def cgroups_path(parent: str, container_id: str) -> str:
    """cgroupfs form "<parent>/<id>", or systemd's "slice:prefix:name" when the parent is a slice."""
    if parent.endswith(".slice"):
        return f"{os.path.basename(parent)}:pyruntime-cri:{container_id}"
    return f"{parent.rstrip('/') or ''}/{container_id}" if parent.startswith("/") else f"/{parent}/{container_id}"
