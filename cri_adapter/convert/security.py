"""Capabilities, seccomp, masked and read-only paths: a container's security context -> OCI."""
from __future__ import annotations

from pyruntime.model.names import CAPABILITIES

from ..errors import InvalidArgument
from . import seccomp_profile

# containerd's and CRI-O's default set for containers that ask for nothing
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
MASKED = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _cap_name(name: str, where: str) -> str:
    full = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
    if full not in CAPABILITIES:
        raise InvalidArgument(f"{where}: unknown capability {name!r}")
    return full


def capabilities(ctx, privileged: bool) -> tuple[list[str], list[str]]:
    """(bounding=effective=permitted, ambient) from add/drop as kubelet sends them ("ALL" allowed)."""
    if privileged:
        return list(CAPABILITIES), []
    caps = list(DEFAULT_CAPS)
    where = "linux.security_context.capabilities"
    adds = [c for c in ctx.add_capabilities] if ctx else []
    drops = [c for c in ctx.drop_capabilities] if ctx else []
    if any(c.upper() == "ALL" for c in adds):
        caps = list(CAPABILITIES)
    else:
        caps += [_cap_name(c, where + ".add_capabilities") for c in adds if _cap_name(c, where) not in caps]
    if any(c.upper() == "ALL" for c in drops):
        # drop ALL, then what add names (kubelet's documented order)
        caps = [] if any(c.upper() == "ALL" for c in adds) else [_cap_name(c, where) for c in adds]
    else:
        dropped = {_cap_name(c, where + ".drop_capabilities") for c in drops}
        caps = [c for c in caps if c not in dropped]
    ambient = [_cap_name(c, where + ".add_ambient_capabilities") for c in (ctx.add_ambient_capabilities if ctx else ())]
    for cap in ambient:
        if cap not in caps:
            caps.append(cap)
    return caps, ambient


def seccomp(profile, caps: list[str], privileged: bool, localhost_text: str | None) -> dict | None:
    """linux.seccomp for a SecurityProfile message (None: unset or Unconfined)."""
    if profile is None or privileged:
        return None
    kind = profile.profile_type
    if kind == 1:  # Unconfined
        return None
    if kind == 0:  # RuntimeDefault
        return seccomp_profile.runtime_default(set(caps))
    ref = profile.localhost_ref
    if localhost_text is None:
        raise InvalidArgument(f"seccomp: Localhost profile {ref!r} could not be read")
    return seccomp_profile.localhost(localhost_text, f"seccomp profile {ref}")


def paths(ctx, privileged: bool) -> tuple[list[str], list[str]]:
    """(maskedPaths, readonlyPaths): kubelet's lists when it sends them, the defaults otherwise."""
    if privileged:
        return [], []
    masked = list(ctx.masked_paths) if ctx and ctx.masked_paths else list(MASKED)
    readonly = list(ctx.readonly_paths) if ctx and ctx.readonly_paths else list(READONLY)
    return masked, readonly


def apparmor(ctx, privileged: bool, host_has_apparmor: bool) -> str | None:
    """process.apparmorProfile: a Localhost profile by name (loaded by the node's admin); RuntimeDefault
    is refused where AppArmor is on (pyruntime-cri loads no default profile of its own) and is nothing
    where it is off; Unconfined and unset are nothing."""
    if ctx is None or privileged:
        return None
    kind, name = None, ""
    if ctx.HasField("apparmor"):
        kind, name = ctx.apparmor.profile_type, ctx.apparmor.localhost_ref
    elif ctx.apparmor_profile:  # the deprecated string form
        legacy = ctx.apparmor_profile
        kind, name = (2, legacy[len("localhost/"):]) if legacy.startswith("localhost/") else \
            (1 if legacy == "unconfined" else 0, "")
    where = "linux.security_context.apparmor"
    if kind == 2:
        if not host_has_apparmor:
            raise InvalidArgument(f"{where}: this host has no AppArmor to load profile {name!r}")
        if not name:
            raise InvalidArgument(f"{where}.localhost_ref: empty")
        return name
    if kind == 0 and host_has_apparmor:
        raise InvalidArgument(f"{where}: RuntimeDefault needs a default profile, which pyruntime-cri does not "
                              "load; name a Localhost profile")
    return None
