"""CRI RuntimeService: requests in, the operations of `pods` and `containers`, replies out."""
from __future__ import annotations

import asyncio
import json
import time

from . import containers, metrics, pods, stats
from ._proto import cri_pb2 as pb
from ._proto import cri_pb2_grpc
from .core import Adapter
from .errors import FailedPrecondition, InvalidArgument
from .records import decode
from .rpc import handler, labels_match

VERSION = "0.1.0"
EVENT_TYPES = {"created": 0, "started": 1, "stopped": 2, "deleted": 3}


class RuntimeService(cri_pb2_grpc.RuntimeServiceServicer):
    def __init__(self, adapter: Adapter, streaming):
        self.adapter = adapter
        self.streaming = streaming

    @handler
    async def Version(self, request, context):
        return pb.VersionResponse(version="0.1.0", runtime_name="pyruntime-cri", runtime_version=VERSION,
                                  runtime_api_version="v1")

    @handler
    async def Status(self, request, context):
        network, why = self.adapter.network()
        conditions = [pb.RuntimeCondition(type="RuntimeReady", status=True),
                      pb.RuntimeCondition(type="NetworkReady", status=network is not None,
                                          reason="" if network else "NetworkPluginNotReady", message=why)]
        handlers = [pb.RuntimeHandler(name=name, features=pb.RuntimeHandlerFeatures())
                    for name in sorted(self.adapter.runtimes)]
        info = {"config": repr(self.adapter.config)} if request.verbose else {}
        return pb.StatusResponse(status=pb.RuntimeStatus(conditions=conditions), info=info,
                                 runtime_handlers=handlers)

    @handler
    async def UpdateRuntimeConfig(self, request, context):
        self.adapter.pod_cidr = request.runtime_config.network_config.pod_cidr
        return pb.UpdateRuntimeConfigResponse()

    @handler
    async def RuntimeConfig(self, request, context):
        return pb.RuntimeConfigResponse(linux=pb.LinuxRuntimeConfiguration(cgroup_driver=pb.CGROUPFS))

    # pods ----------------------------------------------------------------------------------
    @handler
    async def RunPodSandbox(self, request, context):
        pod_id = await pods.run(self.adapter, request.config, request.runtime_handler)
        return pb.RunPodSandboxResponse(pod_sandbox_id=pod_id)

    @handler
    async def StopPodSandbox(self, request, context):
        if self.adapter.pods.find(request.pod_sandbox_id) is not None:
            await pods.stop(self.adapter, request.pod_sandbox_id)
        return pb.StopPodSandboxResponse()

    @handler
    async def RemovePodSandbox(self, request, context):
        await pods.remove(self.adapter, request.pod_sandbox_id)
        return pb.RemovePodSandboxResponse()

    def _pod_state(self, record) -> int:
        return pb.SANDBOX_READY if record["state"] == "ready" else pb.SANDBOX_NOTREADY

    @handler
    async def PodSandboxStatus(self, request, context):
        record = self.adapter.pods.get(request.pod_sandbox_id)
        config = decode(pb.PodSandboxConfig, record["config"])
        network = pb.PodSandboxNetworkStatus()
        if record["ips"]:
            network.ip = record["ips"][0]
            network.additional_ips.extend(pb.PodIP(ip=ip) for ip in record["ips"][1:])
        status = pb.PodSandboxStatus(
            id=record["id"], metadata=config.metadata, state=self._pod_state(record),
            created_at=record["created_at"], network=network, labels=record["labels"],
            annotations=record["annotations"], runtime_handler=record["handler"],
            linux=pb.LinuxPodSandboxStatus(namespaces=pb.Namespace(
                options=config.linux.security_context.namespace_options)))
        info = {}
        if request.verbose:
            info["info"] = json.dumps({k: v for k, v in record.items() if k != "config"}, sort_keys=True)
        return pb.PodSandboxStatusResponse(status=status, info=info)

    @handler
    async def ListPodSandbox(self, request, context):
        f = request.filter
        items = []
        for record in self.adapter.pods.items.values():
            if f.id and not record["id"].startswith(f.id):
                continue
            if f.HasField("state") and f.state.state != self._pod_state(record):
                continue
            if not labels_match(f.label_selector, record["labels"]):
                continue
            config = decode(pb.PodSandboxConfig, record["config"])
            items.append(pb.PodSandbox(id=record["id"], metadata=config.metadata, state=self._pod_state(record),
                                       created_at=record["created_at"], labels=record["labels"],
                                       annotations=record["annotations"], runtime_handler=record["handler"]))
        return pb.ListPodSandboxResponse(items=items)

    # containers ----------------------------------------------------------------------------
    @handler
    async def CreateContainer(self, request, context):
        cid = await containers.create(self.adapter, request.pod_sandbox_id, request.config,
                                      request.sandbox_config)
        return pb.CreateContainerResponse(container_id=cid)

    @handler
    async def StartContainer(self, request, context):
        await containers.start(self.adapter, request.container_id)
        return pb.StartContainerResponse()

    @handler
    async def StopContainer(self, request, context):
        await containers.stop(self.adapter, request.container_id, request.timeout)
        return pb.StopContainerResponse()

    @handler
    async def RemoveContainer(self, request, context):
        await containers.remove(self.adapter, request.container_id)
        return pb.RemoveContainerResponse()

    def _container(self, record) -> pb.Container:
        config = decode(pb.ContainerConfig, record["config"])
        state, _, _ = containers.status(self.adapter, record)
        return pb.Container(id=record["id"], pod_sandbox_id=record["pod_id"], metadata=config.metadata,
                            image=pb.ImageSpec(image=record["image"]), image_ref=record["image_ref"],
                            image_id=record["image_ref"], state=state, created_at=record["created_at"],
                            labels=record["labels"], annotations=record["annotations"])

    @handler
    async def ListContainers(self, request, context):
        f = request.filter
        items = []
        for record in self.adapter.containers.items.values():
            if f.id and not record["id"].startswith(f.id):
                continue
            if f.pod_sandbox_id and not record["pod_id"].startswith(f.pod_sandbox_id):
                continue
            if not labels_match(f.label_selector, record["labels"]):
                continue
            item = self._container(record)
            if f.HasField("state") and f.state.state != item.state:
                continue
            items.append(item)
        return pb.ListContainersResponse(containers=items)

    @handler
    async def ContainerStatus(self, request, context):
        record = self.adapter.containers.get(request.container_id)
        config = decode(pb.ContainerConfig, record["config"])
        state, code, finished = containers.status(self.adapter, record)
        reason, message = "", ""
        if state == pb.CONTAINER_EXITED:
            reason = containers.exit_reason(self.adapter, record, code)
        mounts = [pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly,
                           propagation=m.propagation) for m in config.mounts]
        for i, image_id in record.get("image_volumes", {}).items():  # which image each volume holds
            mounts[int(i)].image.CopyFrom(pb.ImageSpec(image=config.mounts[int(i)].image.image, image_ref=image_id))
            mounts[int(i)].image_sub_path = config.mounts[int(i)].image_sub_path
        status = pb.ContainerStatus(
            id=record["id"], metadata=config.metadata, state=state, created_at=record["created_at"],
            started_at=record.get("started_at") or 0, finished_at=finished or 0, exit_code=code or 0,
            image=pb.ImageSpec(image=record["image"]), image_ref=record["image_ref"], image_id=record["image_ref"],
            reason=reason, message=message, labels=record["labels"], annotations=record["annotations"],
            mounts=mounts, log_path=record["log_path"],
            resources=pb.ContainerResources(linux=containers.resources(record, config)))
        info = {}
        if request.verbose:
            info["info"] = json.dumps({"pid": record.get("pid"), "bundle": record["bundle"],
                                       "runtime": record["handler"]})
        return pb.ContainerStatusResponse(status=status, info=info)

    @handler
    async def UpdateContainerResources(self, request, context):
        await containers.update_resources(self.adapter, request.container_id, request.linux)
        return pb.UpdateContainerResourcesResponse()

    @handler
    async def ReopenContainerLog(self, request, context):
        await containers.reopen_log(self.adapter, request.container_id)
        return pb.ReopenContainerLogResponse()

    @handler
    async def ExecSync(self, request, context):
        out, err, code = await containers.exec_sync(self.adapter, request.container_id, list(request.cmd),
                                                    request.timeout)
        return pb.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)

    # stats ---------------------------------------------------------------------------------
    @handler
    async def ContainerStats(self, request, context):
        record = self.adapter.containers.get(request.container_id)
        return pb.ContainerStatsResponse(stats=await stats.container(self.adapter, record))

    @handler
    async def ListContainerStats(self, request, context):
        f = request.filter
        records = [r for r in self.adapter.containers.items.values()
                   if (not f.id or r["id"].startswith(f.id))
                   and (not f.pod_sandbox_id or r["pod_id"].startswith(f.pod_sandbox_id))
                   and labels_match(f.label_selector, r["labels"])]
        found = await asyncio.gather(*(stats.container(self.adapter, r) for r in records))
        return pb.ListContainerStatsResponse(stats=list(found))

    @handler
    async def PodSandboxStats(self, request, context):
        record = self.adapter.pods.get(request.pod_sandbox_id)
        return pb.PodSandboxStatsResponse(stats=await stats.pod(self.adapter, record))

    @handler
    async def ListPodSandboxStats(self, request, context):
        f = request.filter
        records = [r for r in self.adapter.pods.items.values()
                   if (not f.id or r["id"].startswith(f.id)) and labels_match(f.label_selector, r["labels"])]
        found = await asyncio.gather(*(stats.pod(self.adapter, r) for r in records))
        return pb.ListPodSandboxStatsResponse(stats=list(found))

    # cAdvisor-style metrics through CRI: kubelet falls back to cAdvisor when these are unimplemented
    @handler
    async def ListMetricDescriptors(self, request, context):
        return pb.ListMetricDescriptorsResponse(descriptors=metrics.descriptors())

    @handler
    async def ListPodSandboxMetrics(self, request, context):
        pods = list(self.adapter.pods.items.values())
        found = await asyncio.gather(*(stats.pod_metrics(self.adapter, r) for r in pods))
        return pb.ListPodSandboxMetricsResponse(pod_metrics=found)

    async def GetContainerEvents(self, request, context):
        queue: asyncio.Queue = asyncio.Queue()
        self.adapter.events.append(queue)
        try:
            while True:
                kind, cid = await queue.get()
                yield pb.ContainerEventResponse(container_id=cid, container_event_type=EVENT_TYPES[kind],
                                                created_at=time.time_ns())
        finally:
            self.adapter.events.remove(queue)

    # streaming: each answers a single-use URL of the streaming server (streaming/)
    @handler
    async def Exec(self, request, context):
        record = self._running(request.container_id)
        if not request.cmd:
            raise InvalidArgument("cmd: empty")
        if not (request.stdin or request.stdout or request.stderr):
            raise InvalidArgument("one of stdin, stdout and stderr must be set")
        params = {"container_id": record["id"], "cmd": list(request.cmd), "tty": request.tty,
                  "stdin": request.stdin, "stdout": request.stdout, "stderr": request.stderr}
        return pb.ExecResponse(url=self.streaming.url("exec", params))

    @handler
    async def Attach(self, request, context):
        record = self._running(request.container_id)
        config = decode(pb.ContainerConfig, record["config"])
        if request.stdin and not config.stdin:
            raise FailedPrecondition("stdin: the container was not created with stdin open")
        if request.tty != config.tty:
            raise FailedPrecondition(f"tty: the container was created with tty={config.tty}")
        params = {"container_id": record["id"], "tty": request.tty, "stdin": request.stdin,
                  "stdout": request.stdout, "stderr": request.stderr}
        return pb.AttachResponse(url=self.streaming.url("attach", params))

    @handler
    async def PortForward(self, request, context):
        record = self.adapter.pods.get(request.pod_sandbox_id)
        if record["state"] != "ready":
            raise FailedPrecondition(f"pod {record['id'][:13]} is not ready")
        return pb.PortForwardResponse(url=self.streaming.url("portforward", {"pod_id": record["id"]}))

    def _running(self, container_id: str) -> dict:
        record = self.adapter.containers.get(container_id)
        if containers.status(self.adapter, record)[0] != pb.CONTAINER_RUNNING:
            raise FailedPrecondition(f"container {record['id'][:13]} is not running")
        return record
