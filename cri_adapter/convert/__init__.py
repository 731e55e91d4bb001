"""The CRI -> OCI conversion: ContainerConfig + PodSandboxConfig + image config -> config.json.

Pure (no file, no call, no grpc): the caller gathers the facts (`inputs`) first, so
every case is a unit test (tests/unit/test_cri_convert.py), and every generated
config.json passes pyruntime's own validator there.
"""
from __future__ import annotations

from ..errors import InvalidArgument
from . import linux, process, security
from .inputs import ContainerInputs, PodContext

OCI_VERSION = "1.2.0"
__all__ = ["container_spec", "ContainerInputs", "PodContext"]


def container_spec(config, sandbox, pod: PodContext, inputs: ContainerInputs) -> dict:
    """config.json for a container of a pod; raises InvalidArgument naming the field that is wrong."""
    if not config.HasField("metadata") or not config.metadata.name:
        raise InvalidArgument("metadata.name: a container needs a name")
    check_metadata_size(config.labels, config.annotations)
    image = inputs.image_config
    ctx = config.linux.security_context if config.linux.HasField("security_context") else None
    pod_ctx = sandbox.linux.security_context if sandbox.linux.HasField("security_context") else None
    privileged = bool(ctx and ctx.privileged)
    if privileged and not (pod_ctx and pod_ctx.privileged):
        raise InvalidArgument("linux.security_context.privileged: the pod is not privileged")
    caps, ambient = security.capabilities(ctx.capabilities if ctx and ctx.HasField("capabilities") else None,
                                          privileged)
    masked, readonly = security.paths(ctx, privileged)
    nodes, device_rules = linux.devices(config.devices, inputs, privileged)
    seccomp_profile = security.seccomp(ctx.seccomp if ctx and ctx.HasField("seccomp") else None,
                                       caps, privileged, inputs.seccomp_localhost)
    apparmor = security.apparmor(ctx, privileged, inputs.apparmor)
    resources = config.linux.resources if config.linux.HasField("resources") else None
    proc = {
        "terminal": config.tty,
        "user": process.user(ctx, pod_ctx, image, inputs.passwd, inputs.group),
        "args": process.args(config.command, config.args, image),
        "env": process.env(config.envs, image),
        "cwd": config.working_dir or image.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                         **({"ambient": ambient, "inheritable": ambient} if ambient else {})},
        "noNewPrivileges": bool(ctx and ctx.no_new_privs),
    }
    if apparmor:
        proc["apparmorProfile"] = apparmor
    if not proc["cwd"].startswith("/"):
        raise InvalidArgument(f"working_dir: {proc['cwd']!r} is not absolute")
    if resources is not None and resources.oom_score_adj:
        proc["oomScoreAdj"] = resources.oom_score_adj
    spec_linux = {
        "namespaces": linux.namespaces(ctx.namespace_options if ctx and ctx.HasField("namespace_options") else None,
                                       pod, inputs),
        "devices": nodes,
        "resources": linux.resources(resources, device_rules),
        "cgroupsPath": linux.cgroups_path(pod.cgroup_parent, inputs.container_id),
        "maskedPaths": masked,
        "readonlyPaths": readonly,
    }
    propagation = linux.rootfs_propagation(config.mounts)
    if propagation:
        spec_linux["rootfsPropagation"] = propagation
    if pod.sysctls:
        spec_linux["sysctl"] = dict(pod.sysctls)
    if seccomp_profile:
        spec_linux["seccomp"] = seccomp_profile
    annotations = dict(config.annotations)
    annotations.update({
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": config.metadata.name,
        "io.kubernetes.cri.sandbox-id": pod.pod_id,
        "io.kubernetes.cri.sandbox-name": pod.pod_name,
        "io.kubernetes.cri.sandbox-namespace": pod.pod_namespace,
        "io.kubernetes.cri.sandbox-uid": pod.pod_uid,
        "io.kubernetes.cri.image-name": inputs.image_name,
    })
    return {
        "ociVersion": OCI_VERSION,
        "process": proc,
        "root": {"path": inputs.rootfs, "readonly": bool(ctx and ctx.readonly_rootfs)},
        "mounts": linux.mounts(config.mounts, pod, privileged, inputs.selinux, inputs.image_volumes),
        "annotations": annotations,
        "linux": spec_linux,
    }


MAX_METADATA = 256 << 10  # Kubernetes' limit on a object's annotations


def check_metadata_size(labels, annotations) -> None:
    """Labels and annotations as Kubernetes bounds them: a request beyond is refused, not stored."""
    size = sum(len(k) + len(v) for table in (labels, annotations) for k, v in table.items())
    if size > MAX_METADATA:
        raise InvalidArgument(f"labels and annotations: {size} bytes, more than Kubernetes' {MAX_METADATA}")
