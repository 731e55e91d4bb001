"""The systemd unit properties of a container's cgroup (pure): what systemd owns, as runc sets it.

With the systemd driver, systemd makes the container's cgroup as a transient unit and
writes the limits it knows about itself; were they only written to the files, systemd
would put its own values back at its next reload. Each property is ``(name, (D-Bus
signature, value))``. What systemd has no property for is still written to the files
by the cgroupfs manager afterwards, as runc does.
"""
from __future__ import annotations

UNLIMITED = (1 << 64) - 1  # systemd's "infinity"


def unit_properties(res, v2: bool, version: int, pid: int, slice_name: str, description: str,
                    device_groups: dict[tuple[str, int], str]) -> tuple[list, list[str]]:
    """(every property of a new unit: delegation, accounting, ``pid`` in it, the limits; warnings)."""
    props = [("Description", ("s", description)),
             ("Delegate", ("b", True)),
             ("DefaultDependencies", ("b", False)),
             ("MemoryAccounting", ("b", True)),
             ("CPUAccounting", ("b", True)),
             ("IOAccounting" if v2 else "BlockIOAccounting", ("b", True)),
             ("TasksAccounting", ("b", True))]
    if slice_name:
        props.append(("Slice", ("s", slice_name)))
    if pid > 0:
        props.append(("PIDs", ("au", [pid])))
    props += resource_properties(res, v2, version)
    if res is None:
        return props, []
    devices, warnings = device_properties(res.devices, device_groups)
    return props + devices, warnings


def resource_properties(res, v2: bool, version: int) -> list:
    """The limits systemd has a property for (``pyruntime update`` sets these too)."""
    if res is None:
        return []
    props = []
    mem, cpu = res.memory, res.cpu
    if mem is not None and mem.limit:
        props.append(("MemoryMax" if v2 else "MemoryLimit", ("t", _bytes(mem.limit))))
    if v2 and mem is not None:
        if mem.reservation:
            props.append(("MemoryLow", ("t", _bytes(mem.reservation))))
        if mem.swap:
            swap = UNLIMITED if mem.swap == -1 else max(mem.swap - (mem.limit or 0), 0)
            props.append(("MemorySwapMax", ("t", swap)))
    if cpu is not None:
        if cpu.shares:
            props.append(("CPUWeight", ("t", shares_to_weight(cpu.shares))) if v2 else
                         ("CPUShares", ("t", cpu.shares)))
        props += _cpu_quota(cpu.quota, cpu.period, version)
        if v2 and version >= 244:
            if cpu.cpus:
                props.append(("AllowedCPUs", ("ay", list_to_mask(cpu.cpus))))
            if cpu.mems:
                props.append(("AllowedMemoryNodes", ("ay", list_to_mask(cpu.mems))))
    if res.pids_limit is not None and res.pids_limit != 0:
        props.append(("TasksMax", ("t", UNLIMITED if res.pids_limit < 0 else res.pids_limit)))
    if res.block_io is not None and res.block_io.weight:
        props.append(("IOWeight", ("t", blkio_to_io_weight(res.block_io.weight))) if v2 else
                     ("BlockIOWeight", ("t", res.block_io.weight)))
    if v2:
        props += _unified_properties(res.unified, version)
    return props


def _bytes(value: int) -> int:
    return UNLIMITED if value < 0 else value


def _cpu_quota(quota: int | None, period: int | None, version: int) -> list:
    """CPUQuotaPerSecUSec, rounded up to systemd's 10 ms steps (runc's rule), and the period."""
    props = []
    if period and version >= 242:
        props.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota and quota > 0:
        per_sec = quota * 1_000_000 // (period or 100_000)
        if per_sec % 10_000:
            per_sec = (per_sec // 10_000 + 1) * 10_000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    elif quota == -1 or (period and not quota):
        props.append(("CPUQuotaPerSecUSec", ("t", UNLIMITED)))
    return props


def _unified_properties(unified: dict, version: int) -> list:
    """linux.resources.unified keys systemd has a property for."""
    props = []
    unified = unified or {}
    for key, prop in (("memory.max", "MemoryMax"), ("memory.high", "MemoryHigh"), ("memory.low", "MemoryLow"),
                      ("memory.min", "MemoryMin"), ("memory.swap.max", "MemorySwapMax"), ("pids.max", "TasksMax"),
                      ("cpu.weight", "CPUWeight")):
        value = _number(unified.get(key))
        if value is not None:
            props.append((prop, ("t", value)))
    fields = unified.get("cpu.max", "").split()
    quota, period = _number(fields[0] if fields else None), _number(fields[1] if len(fields) > 1 else None)
    if quota is not None:
        props += _cpu_quota(-1 if quota == UNLIMITED else quota, period, version)
    return props


def _number(text: str | None) -> int | None:
    """A cgroup file's number ("max": UNLIMITED); None for anything else, which is then left to the
    file write (and the kernel's refusal)."""
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return UNLIMITED
    return int(text) if text.isdigit() else None


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) as cpu.weight (1..10000): the kernel's and runc's mapping."""
    return 1 + ((shares - 2) * 9999) // 262142 if shares >= 2 else 1


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) as io.weight (1..10000)."""
    return 1 + (weight - 10) * 9999 // 990 if weight >= 10 else 1


def list_to_mask(text: str) -> list[int]:
    """'0-2,4' as the little-endian byte mask systemd's AllowedCPUs takes."""
    bits = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        bits.update(range(int(low), int(high or low) + 1))
    mask = [0] * (max(bits) // 8 + 1 if bits else 0)
    for bit in bits:
        mask[bit // 8] |= 1 << (bit % 8)
    return mask


def device_properties(rules, device_groups: dict[tuple[str, int], str]) -> tuple[list, list[str]]:
    """(DevicePolicy and DeviceAllow, warnings) for the ordered rule list, as runc builds them.

    systemd takes only an allow-list: the rules are first reduced to what they end up
    allowing. Allow-all is DevicePolicy=auto; a deny-list that is not allow-all cannot be
    said (systemd is then told to deny all, and the cgroupfs filter keeps the real rules,
    runc's fallback). ``device_groups`` maps (type, major) to /proc/devices' group name.
    """
    default_allow, allowed = _reduce(rules)
    if default_allow:
        if not any(allowed.values()):  # nothing denied: allow all
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))], []
        return ([("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))],
                ["systemd takes no device deny-list: it is told to deny all, the cgroup's own filter "
                 "applies the rules"])
    entries, warnings = [], []
    for (kind, major, minor), access in allowed.items():
        if not access:
            continue
        name = "char" if kind == "c" else "block"
        if major is None:
            if minor is not None:
                warnings.append(f"systemd takes no '{kind} *:{minor}' device rule: left to the cgroup's own filter")
                continue
            path = f"{name}-*"
        elif minor is None:
            group = device_groups.get((kind, major))
            if group is None:
                warnings.append(f"no device group for {kind} {major}:* in /proc/devices: left to the cgroup's "
                                "own filter")
                continue
            path = f"{name}-{group}"
        else:
            path = f"/dev/{name}/{major}:{minor}"
        entries.append((path, "".join(c for c in "rwm" if c in access)))
    return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", entries))], warnings


def _reduce(rules) -> tuple[bool, dict]:
    """(default allow?, {(type, major, minor): access}) after applying the rules in order:
    in allow-list mode the dict is what is allowed, in deny-list mode what is denied."""
    default_allow, listed = False, {}
    for rule in rules:
        if rule.type == "a":
            default_allow, listed = rule.allow, {}
            continue
        major = rule.major if rule.major is not None and rule.major >= 0 else None
        minor = rule.minor if rule.minor is not None and rule.minor >= 0 else None
        key = (rule.type, major, minor)
        if rule.allow != default_allow:  # an allow in allow-list mode, a deny in deny-list mode
            listed[key] = "".join(sorted(set(listed.get(key, "")) | set(rule.access)))
        else:
            for other in list(listed):
                if _covers(key, other):
                    listed[other] = "".join(c for c in listed[other] if c not in rule.access)
    return default_allow, listed


def _covers(rule: tuple, entry: tuple) -> bool:
    kind, major, minor = rule
    return entry[0] == kind and major in (None, entry[1]) and minor in (None, entry[2])


def device_groups(proc_devices: str) -> dict[tuple[str, int], str]:
    """/proc/devices' text as {(type, major): group name}."""
    groups, kind = {}, ""
    for line in proc_devices.splitlines():
        if line.startswith("Character"):
            kind = "c"
        elif line.startswith("Block"):
            kind = "b"
        else:
            parts = line.split()
            if kind and len(parts) == 2 and parts[0].isdigit():
                groups.setdefault((kind, int(parts[0])), parts[1])
    return groups
