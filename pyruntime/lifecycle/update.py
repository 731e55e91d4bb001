"""update and pause/resume: changing a running container's cgroup (and resctrl group)."""
from __future__ import annotations

from pyruntime.errors import PyruntimeError, UsageError
from pyruntime.lifecycle.container import Container
from pyruntime.state.status import require


def update(c: Container, doc: dict, rdt: dict) -> None:
    """Apply ``doc`` (a linux.resources document) and the resctrl schemata ``rdt``
    (l3CacheSchema/memBwSchema), then record them in the container's config copy."""
    from pyruntime.model import parse, validate
    res = parse.resources_document(doc)
    problems = validate.resource_problems(res)
    if problems:
        from pyruntime.errors import ConfigError
        raise ConfigError(problems, "resources")
    require(c.status(), "update", c.id)
    manager = c.manager()
    if manager is None:
        raise UsageError(f"container {c.id} has no cgroup to update")
    if res.devices:  # the rules every container needs come along, as at create
        from pyruntime.startup.dataclass import replace
        res = replace(res, devices=res.devices + base_device_rules(c))
    manager.apply(res, updating=True)
    config = dict(c.record.config)
    linux = dict(config.get("linux") or {})
    linux["resources"] = merge(linux.get("resources") or {}, doc)
    if rdt:
        _update_rdt(c, rdt)
        linux["intelRdt"] = {**(linux.get("intelRdt") or {}), **rdt}
    config["linux"] = linux
    c.record.config = config
    c.dir.write(c.record)


def base_device_rules(c: Container) -> tuple:
    """The rules create added to the config's (cgroups.devices.every_container), as it recorded them."""
    from pyruntime.model.resources import DeviceRule
    rules = c.record.decided.get("device_rules")
    if rules is None:  # a record from before create kept them: worked out from its config, once, here
        from pyruntime.cgroups.devices import every_container
        from pyruntime.model import parse
        return every_container(parse.spec(c.record.config).linux.devices)
    return tuple(DeviceRule(*r) for r in rules)


def merge(old: dict, new: dict) -> dict:
    out = dict(old)
    for key, value in new.items():
        out[key] = merge(out.get(key) or {}, value) if isinstance(value, dict) and key != "unified" else value
    return out


def _update_rdt(c: Container, rdt: dict) -> None:
    from pyruntime import resctrl
    from pyruntime.model.tuning import IntelRdt
    if not c.record.resctrl:
        raise UsageError(f"container {c.id} has no linux.intelRdt: its schemata cannot be updated")
    # the same checks as in config.json
    resctrl.plan(IntelRdt(l3_cache_schema=rdt.get("l3CacheSchema", ""),
                          mem_bw_schema=rdt.get("memBwSchema", "")), c.id)
    resctrl.update(c.record.resctrl, tuple(v for v in (rdt.get("l3CacheSchema"), rdt.get("memBwSchema")) if v))


def freeze_or_thaw(c: Container, verb: str) -> None:
    """``verb``: "pause" (freeze every process of the container) or "resume"."""
    require(c.status(), verb, c.id)
    manager = c.manager()
    if manager is None:
        raise PyruntimeError(f"cannot {verb} {c.id}: it has no cgroup")
    if verb == "pause":
        manager.freeze()
    else:
        manager.thaw()
