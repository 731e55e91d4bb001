"""CNI 1.0 as a runtime uses it: ADD, CHECK and DEL of a plugin chain (a .conflist).

Each plugin gets the network's name and cniVersion, its own config, the previous
plugin's result and the runtime config for the capabilities it declares (port
mappings) as JSON on stdin, and the CNI_* variables; a plugin that fails answers
with a JSON error object, whose msg is what the pod's status shows.
"""
from __future__ import annotations

import asyncio
import json
import os

from .errors import Internal

IFNAME = "eth0"


class Network:
    def __init__(self, conflist: dict, bin_dirs: tuple[str, ...]):
        self.conf, self.bin_dirs = conflist, bin_dirs
        self.name = conflist.get("name", "")
        self.version = conflist.get("cniVersion", "1.0.0")
        self.plugins = conflist.get("plugins") or ([conflist] if "type" in conflist else [])


def load(conf_dir: str, bin_dirs: tuple[str, ...]) -> tuple[Network | None, str]:
    """The first network config in conf_dir by name, or (None, why not) for NetworkReady=false."""
    try:
        names = sorted(n for n in os.listdir(conf_dir) if n.endswith((".conflist", ".conf", ".json")))
    except OSError as exc:
        return None, f"no network config: {conf_dir}: {exc.strerror}"
    for name in names:
        try:
            with open(os.path.join(conf_dir, name)) as f:
                doc = json.load(f)
        except (OSError, ValueError) as exc:
            return None, f"network config {name}: {exc}"
        network = Network(doc, bin_dirs)
        if network.plugins:
            return network, ""
    return None, f"no network config found in {conf_dir}"


def _args(pod: dict) -> str:
    return ";".join(["IgnoreUnknown=1", f"K8S_POD_NAMESPACE={pod['namespace']}", f"K8S_POD_NAME={pod['name']}",
                     f"K8S_POD_INFRA_CONTAINER_ID={pod['id']}", f"K8S_POD_UID={pod['uid']}"])


async def _call(network: Network, plugin: dict, command: str, pod: dict, netns: str, prev: dict | None,
                runtime_config: dict) -> dict | None:
    kind = plugin.get("type", "")
    binary = next((os.path.join(d, kind) for d in network.bin_dirs if os.path.isfile(os.path.join(d, kind))), None)
    if not kind or "/" in kind or binary is None:
        raise Internal(f"CNI plugin {kind!r} not found in {':'.join(network.bin_dirs)}")
    conf = dict(plugin, name=network.name, cniVersion=network.version)
    wanted = {k: v for k, v in runtime_config.items() if (plugin.get("capabilities") or {}).get(k)}
    if wanted:
        conf["runtimeConfig"] = wanted
    if prev is not None:
        conf["prevResult"] = prev
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": pod["id"], "CNI_NETNS": netns, "CNI_IFNAME": IFNAME,
           "CNI_PATH": ":".join(network.bin_dirs), "CNI_ARGS": _args(pod),
           "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    proc = await asyncio.create_subprocess_exec(binary, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await proc.communicate(json.dumps(conf).encode())
    if proc.returncode != 0:
        try:
            doc = json.loads(out)
            why = doc.get("msg", "") + (f": {doc['details']}" if doc.get("details") else "")
        except ValueError:
            why = (err or out).decode(errors="replace").strip()
        raise Internal(f"CNI {command} {kind}: {why}")
    if command == "ADD":
        return json.loads(out)
    return None


async def add(network: Network, pod: dict, netns: str, runtime_config: dict) -> dict:
    result = None
    for plugin in network.plugins:
        result = await _call(network, plugin, "ADD", pod, netns, result, runtime_config)
    return result or {}


async def delete(network: Network, pod: dict, netns: str, prev: dict | None, runtime_config: dict) -> None:
    """DEL in reverse order; a netns that is already gone is passed as "" (the spec allows it)."""
    errors = []
    for plugin in reversed(network.plugins):
        try:
            await _call(network, plugin, "DEL", pod, netns if netns and os.path.exists(netns) else "", prev,
                        runtime_config)
        except Internal as exc:
            errors.append(str(exc))
    if errors:
        raise Internal("; ".join(errors))


def addresses(result: dict) -> list[str]:
    """The pod's IPs from a CNI result (those on the pod's interface first)."""
    ips = [ip["address"].split("/")[0] for ip in result.get("ips") or ()]
    return sorted(set(ips), key=ips.index)
