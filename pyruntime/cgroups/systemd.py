"""The systemd cgroup driver (``--systemd-cgroup`` on a host booted with systemd).

The container's cgroup is a transient unit that systemd makes and knows: a scope
``<prefix>-<name>.scope`` in the slice of ``slice:prefix:name`` (slices that do not
exist yet are made by systemd, nested as it names them), with Delegate=yes, the
container's init in it, and the limits systemd has properties for (see
``systemd_props``). What systemd has no property for is then written to the files by
the cgroupfs manager this one wraps; freezing, stats and signalling go through the
files too, as runc does. Delete stops the unit and then removes what is left.

D-Bus is jeepney's (pure Python, imported only with --systemd-cgroup): the system bus,
else systemd's private socket, in the order runc's go-systemd tries them. A job is
waited for by watching its object until systemd drops it.
"""
from __future__ import annotations

import time

from pyruntime import log
from pyruntime.cgroups import systemd_props
from pyruntime.errors import CgroupError

SYSTEM_BUS = "/run/dbus/system_bus_socket"
PRIVATE = "/run/systemd/private"
SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
JOB_TIMEOUT = 30.0  # runc's


class Bus:
    """One blocking D-Bus connection to systemd, method calls only."""

    def __init__(self):
        from jeepney.io.blocking import prep_socket
        from jeepney.low_level import Parser
        errors = []
        for path, is_bus in ((SYSTEM_BUS, True), (PRIVATE, False)):
            try:
                self.sock = prep_socket(path, timeout=5.0)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            break
        else:
            raise CgroupError(f"--systemd-cgroup: cannot reach systemd over D-Bus ({'; '.join(errors)})")
        log.debug(f"systemd over D-Bus: {path}")
        self.sock.settimeout(JOB_TIMEOUT)
        self.parser, self.serial, self._version = Parser(), 0, None
        if is_bus:
            from jeepney import message_bus
            self._call(message_bus.Hello())

    def close(self) -> None:
        self.sock.close()

    def _call(self, message):
        from jeepney.low_level import HeaderFields, MessageType
        from jeepney.wrappers import unwrap_msg
        self.serial += 1
        self.sock.sendall(message.serialise(serial=self.serial))
        while True:
            reply = self.parser.get_next_message()
            if reply is None:
                data = self.sock.recv(65536)
                if not data:
                    raise CgroupError("systemd closed the D-Bus connection")
                self.parser.add_data(data)
                continue
            if reply.header.message_type in (MessageType.method_return, MessageType.error) and \
                    reply.header.fields.get(HeaderFields.reply_serial) == self.serial:
                return unwrap_msg(reply)

    def call(self, method: str, signature: str | None = None, body: tuple = (), path: str = MANAGER_PATH,
             interface: str = MANAGER):
        """The reply's body; a D-Bus error as (its name, its message) in a DBusError."""
        from jeepney import DBusAddress, DBusErrorResponse, new_method_call
        address = DBusAddress(path, bus_name=SYSTEMD, interface=interface)
        try:
            return self._call(new_method_call(address, method, signature, body))
        except DBusErrorResponse as exc:
            raise DBusError(exc.name, " ".join(str(x) for x in exc.data)) from None

    def get(self, path: str, interface: str, name: str):
        return self.call("Get", "ss", (interface, name), path=path,
                         interface="org.freedesktop.DBus.Properties")[0][1]

    def version(self) -> int:
        """systemd's major version ("252.38-1~deb12u1": 252): which properties it knows."""
        if self._version is None:
            text = self.get(MANAGER_PATH, MANAGER, "Version")
            digits = "".join(c for c in text.lstrip("v").split(".")[0].split("-")[0] if c.isdigit())
            self._version = int(digits or 0)
        return self._version

    def wait_job(self, job: str, what: str) -> None:
        """Until systemd has dropped ``job`` (done, failed or cancelled)."""
        deadline = time.monotonic() + JOB_TIMEOUT
        delay = 0.001
        while True:
            try:
                self.get(job, "org.freedesktop.systemd1.Job", "State")
            except DBusError as exc:
                if exc.name == "org.freedesktop.DBus.Error.UnknownObject":
                    return
                raise CgroupError(f"{what}: {exc}") from None
            if time.monotonic() > deadline:
                raise CgroupError(f"{what}: systemd's job {job} did not finish within {JOB_TIMEOUT:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def unit_state(self, unit: str) -> tuple[str, str]:
        """(ActiveState, SubState) of a loaded unit."""
        path = self.call("GetUnit", "s", (unit,))[0]
        return (self.get(path, "org.freedesktop.systemd1.Unit", "ActiveState"),
                self.get(path, "org.freedesktop.systemd1.Unit", "SubState"))


class DBusError(CgroupError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name


class SystemdManager:
    """A cgroupfs manager (``inner``) whose cgroup is systemd's unit ``unit`` in ``slice_name``."""

    def __init__(self, inner, unit: str, slice_name: str, started: bool = True):
        self.inner, self.unit, self.slice = inner, unit, slice_name
        self.started = started  # False only in create, until the init is in the unit
        self.pending = None  # create's resources, applied once the unit exists
        self._bus = None

    # what the files do, the inner manager does
    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus()
        return self._bus

    def create(self) -> None:
        """Nothing yet: systemd makes the cgroup when the init is put in it (``add``)."""
        self.bus  # noqa: B018 - a host without a reachable systemd fails here, before any process

    def apply(self, res, updating: bool = False) -> None:
        if not self.started:
            self.pending = res
            return
        if res is not None:
            props = systemd_props.resource_properties(res, self.inner.kind == "v2", self.bus.version())
            if props:
                try:
                    self.bus.call("SetUnitProperties", "sba(sv)", (self.unit, True, props))
                except CgroupError as exc:
                    raise CgroupError(f"systemd unit {self.unit}: setting its limits: {exc}") from None
        self.inner.apply(res, updating)

    def add(self, pid: int) -> None:
        """Into the unit: a new unit for the init (systemd moves it there), else a process joining."""
        if self.started:
            self.inner.add(pid)
            return
        self._start(pid)
        self.started = True
        self.inner.create()  # v1: the hierarchies systemd does not manage; the parents' cpusets
        self.inner.add(pid)  # and the pid into those (systemd has it in the rest already)
        self.inner.apply(self.pending)

    def _start(self, pid: int) -> None:
        bus = self.bus
        scope = self.unit.endswith(".scope")
        groups = {}
        if self.pending is not None and self.pending.devices:
            with open("/proc/devices") as f:
                groups = systemd_props.device_groups(f.read())
        props, warnings = systemd_props.unit_properties(self.pending, self.inner.kind == "v2", bus.version(),
                                                        pid if scope else 0, self.slice,
                                                        f"pyruntime container {self.unit}", groups)
        for warning in warnings:
            log.warning(warning)
        try:
            job = bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", (self.unit, "replace", props, []))[0]
            bus.wait_job(job, f"starting systemd unit {self.unit}")
            state = bus.unit_state(self.unit)
        except CgroupError as exc:
            raise CgroupError(f"systemd unit {self.unit}: {exc}") from None
        if state[0] != "active":
            raise CgroupError(f"systemd unit {self.unit} is {state[0]} ({state[1]}) after starting it")

    def destroy(self) -> None:
        """Stop the unit (its processes are gone by now: delete kills them first), then remove
        what is left in the hierarchies systemd does not manage."""
        try:
            job = self.bus.call("StopUnit", "ss", (self.unit, "replace"))[0]
            self.bus.wait_job(job, f"stopping systemd unit {self.unit}")
        except DBusError as exc:
            if exc.name != "org.freedesktop.systemd1.NoSuchUnit":
                raise CgroupError(f"systemd unit {self.unit}: stopping it: {exc}") from None
        try:
            self.bus.call("ResetFailedUnit", "s", (self.unit,))
        except DBusError:
            pass  # not failed, or already gone
        self.inner.destroy()

    def describe(self) -> dict:
        return {**self.inner.describe(), "systemd": True, "unit": self.unit, "slice": self.slice}
