"""What the conversion needs besides the CRI messages: facts gathered before it runs.

The conversion itself reads no file and makes no call; whoever calls it collects
these (the pod's pinned namespaces, the image's config and user database, host
device numbers) so that every case is a unit test with plain data.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PodContext:
    pod_id: str
    pod_name: str
    pod_namespace: str
    pod_uid: str
    hostname: str
    # pinned namespace files, None where the pod uses the node's (host network, host ipc)
    netns: str | None
    ipcns: str | None
    utsns: str | None
    # the pod's pid namespace (an infra process's /proc/<pid>/ns/pid) when its containers share one
    pidns: str | None
    etc_files: dict  # container path ("/etc/hosts"...) -> host file made for the pod
    cgroup_parent: str
    sysctls: dict
    shm: str | None = None  # the pod's /dev/shm, shared by its containers


@dataclasses.dataclass(frozen=True)
class ContainerInputs:
    container_id: str
    rootfs: str
    image_name: str
    image_config: dict  # the OCI image config's "config" object (Entrypoint, Cmd, Env, ...)
    passwd: str = ""    # text of the image's /etc/passwd ("" when it has none)
    group: str = ""
    # host path -> (kind "c"/"b", major, minor, mode) for devices the request names
    devices: dict = dataclasses.field(default_factory=dict)
    # every device node of the host, for privileged containers (path -> the same tuple)
    host_devices: dict = dataclasses.field(default_factory=dict)
    # pid namespace of the TARGET container, when the request names one
    target_pidns: str | None = None
    seccomp_localhost: str | None = None  # text of the Localhost profile the request names
    selinux: bool = False
    apparmor: bool = False
    # mounts[i] of an image (image volumes): i -> the host directory to bind (the image's read-only
    # root, or the image_sub_path found inside it)
    image_volumes: dict = dataclasses.field(default_factory=dict)
