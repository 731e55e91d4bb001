"""An existing container: its record, its live status, its OCI state document."""
from __future__ import annotations

from pyruntime import SPEC_VERSION
from pyruntime.errors import StateError
from pyruntime.state import procinfo
from pyruntime.state.status import CREATED, CREATING, PAUSED, RUNNING, STOPPED
from pyruntime.state.store import ContainerDir, ContainerRecord


class Container:
    """A locked container directory and what it records."""

    def __init__(self, cdir: ContainerDir):
        self.dir = cdir
        self.damaged = ""  # why state.json could not be read (then record is None)
        try:
            self.record: ContainerRecord | None = cdir.read()
        except StateError as exc:
            self.record, self.damaged = None, str(exc)
        self._manager = None

    @property
    def id(self) -> str:
        return self.dir.id

    def manager(self):
        if self._manager is None and self.record is not None:
            from pyruntime import cgroups
            self._manager = cgroups.from_record(self.record.cgroup)
        return self._manager

    def hooks(self, step: str) -> tuple:
        """The ``poststart`` or ``poststop`` hooks create decided on (a record from before it kept
        them: read from its config, once, here)."""
        decided = self.record.decided
        if step in decided:
            if not decided[step]:
                return ()  # the usual case, and the model is not imported for it (start is a quick verb)
            from pyruntime.model.config import Hook
            return tuple(Hook(h["path"], tuple(h["args"]), tuple(h["env"]), h["timeout"]) for h in decided[step])
        from pyruntime.model import parse
        raw = {"poststart": "poststart", "poststop": "poststop"}[step]
        return getattr(parse.hooks_document({raw: (self.record.config.get("hooks") or {}).get(raw) or []}), step)

    def has_mount_namespace(self) -> bool:
        decided = self.record.decided
        if "mount_namespace" in decided:
            return decided["mount_namespace"]
        namespaces = (self.record.config.get("linux") or {}).get("namespaces") or ()  # an older record
        return any(n.get("type") == "mount" for n in namespaces)

    def pids(self) -> list[int]:
        """Host pids of the container's processes: its cgroup's, or the init alone without one."""
        manager = self.manager()
        if manager is not None:
            return manager.pids()
        return [self.record.pid] if self.init_alive() else []

    def init_alive(self) -> bool:
        r = self.record
        return r is not None and procinfo.is_running(r.pid, r.pid_start)

    def status(self) -> str:
        """Worked out from the system each time: a dead init is noticed without being told."""
        if self.damaged:
            raise StateError(f"{self.damaged} (delete --force removes what can be found)")
        if self.record is None or self.record.creating:
            return CREATING
        if not self.init_alive():
            return STOPPED
        if self.dir.has_fifo():
            return CREATED
        manager = self.manager()
        if manager is not None and manager.is_frozen():
            return PAUSED
        return RUNNING

    def oci_state(self, status: str | None = None) -> dict:
        """The state document `pyruntime state` prints (runc's field order)."""
        status = status or self.status()
        r = self.record
        if r is None:
            return {"ociVersion": SPEC_VERSION, "id": self.id, "pid": 0, "status": CREATING,
                    "bundle": "", "rootfs": "", "created": "", "owner": ""}
        out = {"ociVersion": SPEC_VERSION, "id": r.id,
               "pid": r.pid if status != STOPPED else 0, "status": status,
               "bundle": r.bundle, "rootfs": r.rootfs, "created": r.created, "owner": ""}
        if r.annotations:
            out["annotations"] = r.annotations
        return out

    def hook_state(self, status: str | None = None) -> bytes:
        """The state hooks read on stdin (runtime-spec fields only)."""
        from pyruntime.startup import fastjson
        s = self.oci_state(status)
        return fastjson.dumps({k: s[k] for k in ("ociVersion", "id", "status", "pid", "bundle")}
                          | {"annotations": self.record.annotations if self.record else {}}).encode()


def states(store) -> list[tuple[Container, dict]]:
    """(container, OCI state) of every container in ``store`` that can be read (a damaged one is
    logged and left out: one bad file must not hide every other container)."""
    from pyruntime import log
    from pyruntime.errors import NotFound
    out = []
    for cid in store.ids():
        try:
            cdir = store.open(cid)
        except NotFound:
            continue  # deleted meanwhile
        with cdir:
            c = Container(cdir)
            if c.damaged:
                log.warning(f"container {cid}: {c.damaged}")
                continue
            out.append((c, c.oci_state()))  # a create still running or killed half-way is "creating"
    return out
