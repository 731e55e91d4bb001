"""The shim's messages in protobuf's wire format, without the protobuf package.

containerd waits for a new shim's first answer on every pod start, and importing protobuf's
Python layer (descriptor pool, python_message, text_format, typing) costs ~25 ms there, more than
the rest of the shim together. The messages are few and flat, so each is a table of fields here
and this module encodes them. spec/shim/*.proto stays the wire truth: tests/unit/test_shim.py
checks every table against the descriptors protoc compiles from it, and round-trips messages
through both.

A message is a class with FIELDS {name: (number, kind, repeated)}; kind is a scalar name below,
"map" (map<string, string>), or a message class. Absent message fields read as None; proto3
scalars default to zero and are left out when zero.
"""
from __future__ import annotations

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
SCALARS = {"string": "", "bytes": b"", "bool": False, "uint32": 0, "uint64": 0, "int32": 0, "int64": 0, "enum": 0}
NUMERIC = {"bool", "uint32", "uint64", "int32", "int64", "enum"}
MASK64 = (1 << 64) - 1


def _varint(value: int) -> bytes:
    value &= MASK64  # negative int32/int64: ten bytes of two's complement, as protobuf writes them
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(kind: str, raw):
    if kind == "string":
        return bytes(raw).decode()
    if kind == "bytes":
        return bytes(raw)
    if kind == "bool":
        return bool(raw)
    if kind in ("int32", "int64"):
        return _signed(raw, 64)
    if kind == "uint32":
        return raw & 0xFFFFFFFF
    return raw


class Message:
    FULL_NAME = ""
    FIELDS: dict = {}

    def __init__(self, **values):
        for name, (_, kind, repeated) in self.FIELDS.items():
            if repeated:
                default = []
            elif kind == "map":
                default = {}
            else:
                default = SCALARS.get(kind) if isinstance(kind, str) else None
            setattr(self, name, values.pop(name, default))
        if values:
            raise TypeError(f"{self.FULL_NAME} has no field {next(iter(values))!r}")

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({vars(self)})"

    def SerializeToString(self) -> bytes:
        out = bytearray()
        for name, (number, kind, repeated) in self.FIELDS.items():
            value = getattr(self, name)
            if kind == "map":
                for key in value:
                    entry = MapEntry(key=key, value=value[key]).SerializeToString()
                    out += _varint(number << 3 | LENGTH) + _varint(len(entry)) + entry
            elif repeated and kind in NUMERIC:
                if value:
                    packed = b"".join(_varint(int(v)) for v in value)
                    out += _varint(number << 3 | LENGTH) + _varint(len(packed)) + packed
            else:
                for item in (value if repeated else (value,)):
                    out += _encode(number, kind, item, repeated)
        return bytes(out)

    @classmethod
    def FromString(cls, data: bytes) -> "Message":
        message = cls()
        by_number = {number: (name, kind, repeated) for name, (number, kind, repeated) in cls.FIELDS.items()}
        view, pos = memoryview(data), 0
        while pos < len(view):
            key, pos = _read_varint(view, pos)
            number, wire = key >> 3, key & 7
            if wire == VARINT:
                raw, pos = _read_varint(view, pos)
            elif wire == LENGTH:
                size, pos = _read_varint(view, pos)
                raw, pos = view[pos:pos + size], pos + size
                if pos > len(view):
                    raise ValueError("truncated field")
            elif wire in (FIXED64, FIXED32):
                size = 8 if wire == FIXED64 else 4
                raw, pos = int.from_bytes(view[pos:pos + size], "little"), pos + size
            else:
                raise ValueError(f"wire type {wire} is not supported")
            field = by_number.get(number)
            if field is None:
                continue  # a field this side does not know: skipped, as protobuf does
            name, kind, repeated = field
            if kind == "map":
                entry = MapEntry.FromString(raw)
                getattr(message, name)[entry.key] = entry.value
            elif not isinstance(kind, str):
                value = kind.FromString(raw)
                getattr(message, name).append(value) if repeated else setattr(message, name, value)
            elif repeated and kind in NUMERIC and wire == LENGTH:
                items, at = [], 0
                while at < len(raw):
                    item, at = _read_varint(raw, at)
                    items.append(_scalar(kind, item))
                getattr(message, name).extend(items)
            else:
                value = _scalar(kind, raw)
                getattr(message, name).append(value) if repeated else setattr(message, name, value)
        return message


def _encode(number: int, kind, value, repeated: bool) -> bytes:
    if isinstance(kind, str):
        if kind in NUMERIC:
            if not value and not repeated:
                return b""
            return _varint(number << 3 | VARINT) + _varint(int(value))
        data = value.encode() if kind == "string" else bytes(value)
        if not data and not repeated:
            return b""
    else:
        if value is None:
            return b""
        data = value.SerializeToString()
    return _varint(number << 3 | LENGTH) + _varint(len(data)) + data


def message(full_name: str, **fields) -> type:
    """A message class; each field: (number, kind) or (number, kind, "repeated")."""
    table = {name: (spec[0], spec[1], len(spec) > 2) for name, spec in fields.items()}
    return type(full_name.rsplit(".", 1)[-1], (Message,), {"FULL_NAME": full_name, "FIELDS": table})


def pack(msg: Message) -> "Any":
    """An Any as containerd's typeurl reads it: the message's full name alone, no URL prefix."""
    return Any(type_url=msg.FULL_NAME, value=msg.SerializeToString())


MapEntry = message("MapEntry", key=(1, "string"), value=(2, "string"))

# google.protobuf
Timestamp = message("google.protobuf.Timestamp", seconds=(1, "int64"), nanos=(2, "int32"))
Any = message("google.protobuf.Any", type_url=(1, "string"), value=(2, "bytes"))
Empty = message("google.protobuf.Empty")


def timestamp(when: float) -> Timestamp:
    ns = int(when * 1e9)
    return Timestamp(seconds=ns // 10 ** 9, nanos=ns % 10 ** 9)


# ttrpc's frames, and containerd's event envelope (spec/shim/task.proto)
T = "containerd.task.v2."
KeyValue = message(T + "KeyValue", key=(1, "string"), value=(2, "string"))
Request = message(T + "Request", service=(1, "string"), method=(2, "string"), payload=(3, "bytes"),
                  timeout_nano=(4, "int64"), metadata=(5, KeyValue, "repeated"))
RpcStatus = message(T + "RpcStatus", code=(1, "int32"), message=(2, "string"), details=(3, Any, "repeated"))
Response = message(T + "Response", status=(1, RpcStatus), payload=(2, "bytes"))
Envelope = message(T + "Envelope", timestamp=(1, Timestamp), namespace=(2, "string"), topic=(3, "string"),
                   event=(4, Any))
ForwardRequest = message(T + "ForwardRequest", envelope=(1, Envelope))

# the task API
CREATED, RUNNING, STOPPED, PAUSED = 1, 2, 3, 4  # containerd.v1.types.Status
Mount = message(T + "Mount", type=(1, "string"), source=(2, "string"), target=(3, "string"),
                options=(4, "string", "repeated"))
ProcessInfo = message(T + "ProcessInfo", pid=(1, "uint32"), info=(2, Any))
CreateTaskRequest = message(T + "CreateTaskRequest", id=(1, "string"), bundle=(2, "string"),
                            rootfs=(3, Mount, "repeated"), terminal=(4, "bool"), stdin=(5, "string"),
                            stdout=(6, "string"), stderr=(7, "string"), checkpoint=(8, "string"),
                            parent_checkpoint=(9, "string"), options=(10, Any))
CreateTaskResponse = message(T + "CreateTaskResponse", pid=(1, "uint32"))
DeleteRequest = message(T + "DeleteRequest", id=(1, "string"), exec_id=(2, "string"))
DeleteResponse = message(T + "DeleteResponse", pid=(1, "uint32"), exit_status=(2, "uint32"),
                         exited_at=(3, Timestamp))
ExecProcessRequest = message(T + "ExecProcessRequest", id=(1, "string"), exec_id=(2, "string"),
                             terminal=(3, "bool"), stdin=(4, "string"), stdout=(5, "string"),
                             stderr=(6, "string"), spec=(7, Any))
ResizePtyRequest = message(T + "ResizePtyRequest", id=(1, "string"), exec_id=(2, "string"), width=(3, "uint32"),
                           height=(4, "uint32"))
StateRequest = message(T + "StateRequest", id=(1, "string"), exec_id=(2, "string"))
StateResponse = message(T + "StateResponse", id=(1, "string"), bundle=(2, "string"), pid=(3, "uint32"),
                        status=(4, "enum"), stdin=(5, "string"), stdout=(6, "string"), stderr=(7, "string"),
                        terminal=(8, "bool"), exit_status=(9, "uint32"), exited_at=(10, Timestamp),
                        exec_id=(11, "string"))
KillRequest = message(T + "KillRequest", id=(1, "string"), exec_id=(2, "string"), signal=(3, "uint32"),
                      all=(4, "bool"))
CloseIORequest = message(T + "CloseIORequest", id=(1, "string"), exec_id=(2, "string"), stdin=(3, "bool"))
PidsRequest = message(T + "PidsRequest", id=(1, "string"))
PidsResponse = message(T + "PidsResponse", processes=(1, ProcessInfo, "repeated"))
CheckpointTaskRequest = message(T + "CheckpointTaskRequest", id=(1, "string"), path=(2, "string"),
                                options=(3, Any))
UpdateTaskRequest = message(T + "UpdateTaskRequest", id=(1, "string"), resources=(2, Any),
                            annotations=(3, "map"))
StartRequest = message(T + "StartRequest", id=(1, "string"), exec_id=(2, "string"))
StartResponse = message(T + "StartResponse", pid=(1, "uint32"))
WaitRequest = message(T + "WaitRequest", id=(1, "string"), exec_id=(2, "string"))
WaitResponse = message(T + "WaitResponse", exit_status=(1, "uint32"), exited_at=(2, Timestamp))
StatsRequest = message(T + "StatsRequest", id=(1, "string"))
StatsResponse = message(T + "StatsResponse", stats=(1, Any))
ConnectRequest = message(T + "ConnectRequest", id=(1, "string"))
ConnectResponse = message(T + "ConnectResponse", shim_pid=(1, "uint32"), task_pid=(2, "uint32"),
                          version=(3, "string"))
ShutdownRequest = message(T + "ShutdownRequest", id=(1, "string"), now=(2, "bool"))
PauseRequest = message(T + "PauseRequest", id=(1, "string"))
ResumeRequest = message(T + "ResumeRequest", id=(1, "string"))

# containerd.events (spec/shim/events.proto)
E = "containerd.events."
TaskIO = message(E + "TaskIO", stdin=(1, "string"), stdout=(2, "string"), stderr=(3, "string"),
                 terminal=(4, "bool"))
TaskCreate = message(E + "TaskCreate", container_id=(1, "string"), bundle=(2, "string"), io=(4, TaskIO),
                     checkpoint=(5, "string"), pid=(6, "uint32"))
TaskStart = message(E + "TaskStart", container_id=(1, "string"), pid=(2, "uint32"))
TaskDelete = message(E + "TaskDelete", container_id=(1, "string"), pid=(2, "uint32"), exit_status=(3, "uint32"),
                     exited_at=(4, Timestamp), id=(5, "string"))
TaskExit = message(E + "TaskExit", container_id=(1, "string"), id=(2, "string"), pid=(3, "uint32"),
                   exit_status=(4, "uint32"), exited_at=(5, Timestamp), exit_reason=(6, "enum"))
TaskOOM = message(E + "TaskOOM", container_id=(1, "string"))
TaskExecAdded = message(E + "TaskExecAdded", container_id=(1, "string"), exec_id=(2, "string"))
TaskExecStarted = message(E + "TaskExecStarted", container_id=(1, "string"), exec_id=(2, "string"),
                          pid=(3, "uint32"))
TaskPaused = message(E + "TaskPaused", container_id=(1, "string"))
TaskResumed = message(E + "TaskResumed", container_id=(1, "string"))

# io.containerd.cgroups.v1 (spec/shim/cgroups_v1.proto)
V1 = "io.containerd.cgroups.v1."
V1_MEMORY_COUNTERS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pg_pg_in", "pg_pg_out", "pg_fault",
    "pg_maj_fault", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
    "hierarchical_memory_limit", "hierarchical_swap_limit")  # fields 1-17; total_* of the first 15 are 18-32
V1HugetlbStat = message(V1 + "HugetlbStat", usage=(1, "uint64"), max=(2, "uint64"), failcnt=(3, "uint64"),
                        pagesize=(4, "string"))
V1PidsStat = message(V1 + "PidsStat", current=(1, "uint64"), limit=(2, "uint64"))
V1CPUUsage = message(V1 + "CPUUsage", total=(1, "uint64"), kernel=(2, "uint64"), user=(3, "uint64"),
                     per_cpu=(4, "uint64", "repeated"))
V1Throttle = message(V1 + "Throttle", periods=(1, "uint64"), throttled_periods=(2, "uint64"),
                     throttled_time=(3, "uint64"))
V1CPUStat = message(V1 + "CPUStat", usage=(1, V1CPUUsage), throttling=(2, V1Throttle))
V1MemoryEntry = message(V1 + "MemoryEntry", limit=(1, "uint64"), usage=(2, "uint64"), max=(3, "uint64"),
                        failcnt=(4, "uint64"))
V1MemoryStat = message(
    V1 + "MemoryStat",
    **{name: (i, "uint64") for i, name in enumerate(V1_MEMORY_COUNTERS, 1)},
    **{f"total_{name}": (i, "uint64") for i, name in enumerate(V1_MEMORY_COUNTERS[:15], 18)},
    usage=(33, V1MemoryEntry), swap=(34, V1MemoryEntry), kernel=(35, V1MemoryEntry), kernel_tcp=(36, V1MemoryEntry))
V1MemoryOomControl = message(V1 + "MemoryOomControl", oom_kill_disable=(1, "uint64"), under_oom=(2, "uint64"),
                             oom_kill=(3, "uint64"))
V1BlkIOEntry = message(V1 + "BlkIOEntry", op=(1, "string"), device=(2, "string"), major=(3, "uint64"),
                       minor=(4, "uint64"), value=(5, "uint64"))
V1BlkIOStat = message(V1 + "BlkIOStat", io_service_bytes_recursive=(1, V1BlkIOEntry, "repeated"),
                      io_serviced_recursive=(2, V1BlkIOEntry, "repeated"))
V1Metrics = message(V1 + "Metrics", hugetlb=(1, V1HugetlbStat, "repeated"), pids=(2, V1PidsStat),
                    cpu=(3, V1CPUStat), memory=(4, V1MemoryStat), blkio=(5, V1BlkIOStat),
                    memory_oom_control=(9, V1MemoryOomControl))

# io.containerd.cgroups.v2 (spec/shim/cgroups_v2.proto)
V2 = "io.containerd.cgroups.v2."
V2_MEMORY_COUNTERS = {
    "anon": 1, "file": 2, "kernel_stack": 3, "slab": 4, "sock": 5, "shmem": 6, "file_mapped": 7, "file_dirty": 8,
    "file_writeback": 9, "anon_thp": 10, "inactive_anon": 11, "active_anon": 12, "inactive_file": 13,
    "active_file": 14, "unevictable": 15, "pgfault": 18, "pgmajfault": 19}
V2PidsStat = message(V2 + "PidsStat", current=(1, "uint64"), limit=(2, "uint64"))
V2CPUStat = message(V2 + "CPUStat", usage_usec=(1, "uint64"), user_usec=(2, "uint64"), system_usec=(3, "uint64"),
                    nr_periods=(4, "uint64"), nr_throttled=(5, "uint64"), throttled_usec=(6, "uint64"))
V2MemoryStat = message(V2 + "MemoryStat", **{name: (n, "uint64") for name, n in V2_MEMORY_COUNTERS.items()},
                       usage=(32, "uint64"), usage_limit=(33, "uint64"), swap_usage=(34, "uint64"),
                       swap_limit=(35, "uint64"))
V2MemoryEvents = message(V2 + "MemoryEvents", low=(1, "uint64"), high=(2, "uint64"), max=(3, "uint64"),
                         oom=(4, "uint64"), oom_kill=(5, "uint64"))
V2Metrics = message(V2 + "Metrics", pids=(1, V2PidsStat), cpu=(2, V2CPUStat), memory=(4, V2MemoryStat),
                    memory_events=(8, V2MemoryEvents))
