"""CRI ImageService over the image store."""
from __future__ import annotations

import base64
import json
import os
import time

from . import rootfs
from ._proto import cri_pb2 as pb
from ._proto import cri_pb2_grpc
from .core import Adapter
from .errors import FailedPrecondition
from .images.credentials import Credentials
from .rpc import handler


def _credentials(auth) -> Credentials:
    user, password = auth.username, auth.password
    if auth.auth and not user:
        user, _, password = base64.b64decode(auth.auth).decode(errors="replace").partition(":")
    return Credentials(user, password, auth.registry_token or auth.identity_token)


def image_message(record: dict) -> pb.Image:
    image = pb.Image(id=record["id"], repo_tags=record["repo_tags"], repo_digests=record["repo_digests"],
                     size=record["size"], spec=pb.ImageSpec(image=record["id"]))
    user = record.get("user") or ""
    name = user.split(":")[0]
    if name.isdigit():
        image.uid.value = int(name)
    elif name:
        image.username = name
    return image


class ImageService(cri_pb2_grpc.ImageServiceServicer):
    def __init__(self, adapter: Adapter):
        self.adapter = adapter

    @handler
    async def PullImage(self, request, context):
        record = await self.adapter.images.pull(request.image.image, _credentials(request.auth))
        return pb.PullImageResponse(image_ref=record["id"])

    @handler
    async def ListImages(self, request, context):
        wanted = request.filter.image.image
        records = self.adapter.images.records.values()
        if wanted:
            found = self.adapter.images.find(wanted)
            records = [found] if found else []
        return pb.ListImagesResponse(images=[image_message(r) for r in records])

    @handler
    async def ImageStatus(self, request, context):
        record = self.adapter.images.find(request.image.image)
        if record is None:
            return pb.ImageStatusResponse()
        info = {}
        if request.verbose:
            info["info"] = json.dumps({"config": record["config"], "layers": record["layers"]})
        return pb.ImageStatusResponse(image=image_message(record), info=info)

    @handler
    async def RemoveImage(self, request, context):
        record = self.adapter.images.find(request.image.image)
        user = record and self.adapter.image_user(record["id"])
        if user:
            raise FailedPrecondition(f"image {request.image.image!r} is in use by container {user[:13]}")
        self.adapter.images.remove(request.image.image, self.adapter.layers_in_use())
        return pb.RemoveImageResponse()

    @handler
    async def ImageFsInfo(self, request, context):
        now = time.time_ns()
        used, inodes = self.adapter.images.usage()
        images = pb.FilesystemUsage(timestamp=now, fs_id=pb.FilesystemIdentifier(mountpoint=self.adapter.images.dir),
                                    used_bytes=pb.UInt64Value(value=used), inodes_used=pb.UInt64Value(value=inodes))
        used, inodes = 0, 0
        for record in self.adapter.containers.items.values():  # what containers wrote: their upper dirs
            u, i = rootfs.usage(os.path.join(self.adapter.containers.path(record["id"]), "upper"))
            used, inodes = used + u, inodes + i
        containers = pb.FilesystemUsage(timestamp=now,
                                        fs_id=pb.FilesystemIdentifier(mountpoint=self.adapter.containers.dir),
                                        used_bytes=pb.UInt64Value(value=used), inodes_used=pb.UInt64Value(value=inodes))
        return pb.ImageFsInfoResponse(image_filesystems=[images], container_filesystems=[containers])

