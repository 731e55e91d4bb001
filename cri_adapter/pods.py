"""Pod sandboxes: pinned namespaces, the pod's /etc files, CNI networking, and an infra
process when the pod's containers share a pid namespace (it is their pid 1).

RunPodSandbox records the pod first and undoes, in reverse, whatever it made when a
later step fails; StopPodSandbox and RemovePodSandbox can be repeated.
"""
from __future__ import annotations

import json
import os
import secrets

from . import cni, containers, convert, monitor, pins, rootfs
from ._proto import cri_pb2
from .convert import pod_files
from .core import Adapter, now_ns
from .errors import CRIError, InvalidArgument
from .images.credentials import Credentials
from .records import encode

NODE, POD = 2, 0


def _modes(config) -> tuple[int, int, int]:
    """(network, pid, ipc) namespace modes of the pod (POD=0, CONTAINER=1, NODE=2)."""
    opts = config.linux.security_context.namespace_options
    return opts.network, opts.pid, opts.ipc


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read(1 << 20)
    except OSError:
        return ""


async def run(adapter: Adapter, config, handler: str) -> str:
    meta = config.metadata
    if not config.HasField("metadata") or not meta.name or not meta.namespace:
        raise InvalidArgument("metadata: a pod needs a name and a namespace")
    adapter.runtime(handler)  # an unknown handler is refused before anything is made
    convert.check_metadata_size(config.labels, config.annotations)
    for key in config.linux.sysctls:
        if not key or ".." in key or key.startswith(("/", ".")) or not all(c.isalnum() or c in "._-/" for c in key):
            raise InvalidArgument(f"linux.sysctls: bad name {key!r}")
    network_mode, pid_mode, ipc_mode = _modes(config)
    pod_id = secrets.token_hex(32)
    record = {"id": pod_id, "name": meta.name, "namespace": meta.namespace, "uid": meta.uid,
              "attempt": meta.attempt, "key": f"{meta.name}_{meta.namespace}_{meta.uid}_{meta.attempt}",
              "created_at": now_ns(), "state": "notready", "handler": handler, "config": encode(config),
              "labels": dict(config.labels), "annotations": dict(config.annotations),
              "log_directory": config.log_directory, "pins": {}, "ips": [], "cni": None,
              "cgroup_parent": config.linux.cgroup_parent or adapter.config.cgroup_parent,
              "sysctls": dict(config.linux.sysctls), "host_network": network_mode == NODE, "creating": True}
    adapter.pods.add(record)
    directory = adapter.pods.path(pod_id)
    try:
        files = pod_files.files(config, os.uname().nodename, _read("/etc/resolv.conf"), _read("/etc/hosts"))
        record["hostname"] = files["/etc/hostname"].strip()
        record["etc_files"] = {}
        for dest, text in files.items():
            path = os.path.join(directory, os.path.basename(dest))
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
            record["etc_files"][dest] = path
        kinds = tuple(k for k, own in (("net", network_mode != NODE), ("ipc", ipc_mode != NODE),
                                       ("uts", network_mode != NODE)) if own)
        record["pins"] = await pins.pin(os.path.join(adapter.pins, pod_id), kinds, record["hostname"])
        record["shm"] = rootfs.pod_shm(directory) if ipc_mode != NODE else "/dev/shm"
        adapter.pods.save(record)
        if network_mode != NODE:
            await _network_up(adapter, record, config)
        if pid_mode == POD:
            await _infra_up(adapter, record, config)
        record["state"] = "ready"
        del record["creating"]
        adapter.pods.save(record)
    except BaseException:
        await teardown(adapter, record)
        adapter.pods.remove(pod_id)
        raise
    return pod_id


async def _network_up(adapter: Adapter, record: dict, config) -> None:
    network, why = adapter.network()
    if network is None:
        raise CRIError(f"pod network: {why}")
    ports = [{"hostPort": p.host_port, "containerPort": p.container_port,
              "protocol": cri_pb2.Protocol.Name(p.protocol).lower(), "hostIP": p.host_ip}
             for p in config.port_mappings if p.host_port]
    record["runtime_config"] = {"portMappings": ports} if ports else {}
    if adapter.pod_cidr:  # to plugins that declare the ipRanges capability (host-local): CNI conventions
        record["runtime_config"]["ipRanges"] = [[{"subnet": adapter.pod_cidr}]]
    record["cni"] = await cni.add(network, record, record["pins"]["net"], record["runtime_config"])
    record["network_name"] = network.name
    record["ips"] = cni.addresses(record["cni"])
    adapter.pods.save(record)


async def _infra_up(adapter: Adapter, record: dict, config) -> None:
    """The pod's pid 1: the sandbox image's process, in a new pid namespace its containers join."""
    image = adapter.images.find(adapter.config.sandbox_image)
    if image is None:
        image = await adapter.images.pull(adapter.config.sandbox_image, Credentials())
    infra = cri_pb2.ContainerConfig(metadata=cri_pb2.ContainerMetadata(name="POD"))
    infra.linux.security_context.namespace_options.CopyFrom(config.linux.security_context.namespace_options)
    infra.linux.security_context.namespace_options.pid = 1  # its own, new pid namespace
    infra.linux.security_context.readonly_rootfs = True
    infra.linux.security_context.capabilities.drop_capabilities.append("ALL")
    infra.linux.security_context.no_new_privs = True
    bundle = os.path.join(adapter.pods.path(record["id"]), "infra")
    infra_id = record["id"]  # the infra container carries the pod's id, as containerd's sandbox does
    record["infra"] = {"id": infra_id, "bundle": bundle, "layers": list(image["layers"])}
    adapter.pods.save(record)
    root = rootfs.make(bundle, adapter.images.layer_dirs(image))
    pod_ctx = containers._pod_context(adapter, record)
    inputs = convert.ContainerInputs(container_id=infra_id, rootfs=root,
                                     image_name=adapter.config.sandbox_image, image_config=image["config"])
    sandbox = cri_pb2.PodSandboxConfig()
    spec = convert.container_spec(infra, sandbox, pod_ctx, inputs)
    spec["annotations"]["io.kubernetes.cri.container-type"] = "sandbox"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    runtime = adapter.runtime(record["handler"])
    pid = await monitor.create(adapter.config.conmon, runtime, infra_id, "POD", bundle,
                               os.path.join(bundle, "infra.log"), adapter.exits, adapter.sockets,
                               False, False, False)
    await runtime.start(infra_id)
    record["infra"]["pid"] = pid
    record["pidns"] = f"/proc/{pid}/ns/pid"
    adapter.pods.save(record)


async def stop(adapter: Adapter, pod_id: str) -> None:
    record = adapter.pods.get(pod_id)
    for c in [c for c in adapter.containers.items.values() if c["pod_id"] == record["id"]]:
        await containers.stop(adapter, c["id"], 0)
    await teardown(adapter, record, keep_files=True)
    record["state"] = "notready"
    adapter.pods.save(record)


async def teardown(adapter: Adapter, record: dict, keep_files: bool = False) -> None:
    """Stop the infra process, take the pod off the network, release the pins (each step idempotent)."""
    infra = record.get("infra")
    if infra:
        runtime = adapter.runtime(record["handler"])
        await containers._kill(runtime, infra["id"], "KILL")
        await monitor.wait_exit(adapter.exits, infra["id"], infra["bundle"], 30)
        await runtime.delete(infra["id"])
        rootfs.remove(infra["bundle"])
        exit_file = os.path.join(adapter.exits, infra["id"])
        if os.path.exists(exit_file):
            os.unlink(exit_file)
        record["infra"] = None
        record["pidns"] = None
    if record.get("cni") is not None or record.get("runtime_config") is not None:
        network, _ = adapter.network()
        if network is not None:
            await cni.delete(network, record, record["pins"].get("net", ""), record.get("cni"),
                             record.get("runtime_config") or {})
        record["cni"] = None
        record["runtime_config"] = None
    await pins.unpin(os.path.join(adapter.pins, record["id"]))
    # the path, not the record: a crash between the mount and the record's save leaves it unrecorded
    shm = os.path.join(adapter.pods.path(record["id"]), "shm")
    if not keep_files and os.path.isdir(shm):
        rootfs.remove_pod_shm(shm)
    pin_dir = os.path.join(adapter.pins, record["id"])
    if os.path.isdir(pin_dir):
        os.rmdir(pin_dir)
    if adapter.pods.find(record["id"]) is not None:
        adapter.pods.save(record)


async def remove(adapter: Adapter, pod_id: str) -> None:
    record = adapter.pods.find(pod_id)
    if record is None:
        return  # RemovePodSandbox is idempotent
    for c in [c for c in adapter.containers.items.values() if c["pod_id"] == record["id"]]:
        await containers.remove(adapter, c["id"])
    await teardown(adapter, record)
    adapter.pods.remove(record["id"])
