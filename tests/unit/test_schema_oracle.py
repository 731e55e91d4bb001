"""spec/config.schema.json, run by the standard jsonschema module, is the oracle of the typed parser
(``model/parse``, with ``model/patterns`` in place of the schema's regular expressions): both see the
same valid documents and seeded mutations of them, and must find the same problems, at the same JSON
paths, worded the same way."""
from __future__ import annotations

import json
import os

import jsonschema
from hypothesis import HealthCheck, given, settings

from mutations import mutated
from pyruntime.cli.verb_spec import default_spec
from pyruntime.errors import ConfigError
from pyruntime.model import parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, "spec", "config.schema.json")) as f:
    FILE_SCHEMA = json.load(f)
ORACLE = jsonschema.Draft7Validator(FILE_SCHEMA)


def rich_config() -> dict:
    """The default config with most of the schema's sections filled in."""
    doc = default_spec()
    doc["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}],
                    "poststop": [{"path": "/bin/true"}]}
    doc["annotations"] = {"a": "b"}
    doc["domainname"] = "example"
    linux = doc["linux"]
    linux["resources"] = {"memory": {"limit": 1 << 30, "swap": -1}, "cpu": {"shares": 512, "quota": 20000,
                                                                            "period": 100000, "cpus": "0-1"},
                          "pids": {"limit": 100}, "blockIO": {"weight": 500},
                          "devices": [{"allow": False, "access": "rwm"},
                                      {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
                          "hugepageLimits": [{"pageSize": "2MB", "limit": 0}], "unified": {"memory.high": "max"}}
    linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    linux["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    linux["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
    linux["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]
    doc["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    doc["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 4}
    doc["process"].update(consoleSize={"height": 24, "width": 80}, oomScoreAdj=10, commandLine="x",
                          scheduler={"policy": "SCHED_OTHER", "nice": 1, "flags": ["SCHED_FLAG_RECLAIM"]},
                          execCPUAffinity={"initial": "0", "final": "0-1"})
    doc["process"]["user"].update(additionalGids=[5, 6], umask=18, username="u")
    doc["mounts"].append({"destination": "/m", "type": "bind", "source": "/s", "options": ["rbind", "idmap"],
                          "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                          "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]})
    linux["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    linux["timeOffsets"] = {"monotonic": {"secs": 1, "nanosecs": 2}}
    linux["netDevices"] = {"eth1": {"name": "eth0"}}
    linux["rootfsPropagation"] = "rslave"
    linux["intelRdt"] = {"closID": "g", "schemata": ["L3:0=f"], "memBwSchema": "MB:0=20", "enableMonitoring": True}
    linux["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}
    linux["personality"] = {"domain": "LINUX", "flags": []}
    linux["resources"]["blockIO"] = {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 10}],
                                     "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}]}
    linux["resources"]["network"] = {"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]}
    linux["resources"]["rdma"] = {"mlx5_0": {"hcaHandles": 1, "hcaObjects": 2}}
    linux["seccomp"].update(flags=["SECCOMP_FILTER_FLAG_LOG"], listenerPath="/run/l", defaultErrnoRet=1)
    return doc


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value) -> str:
    return "boolean" if isinstance(value, bool) else {
        int: "integer", float: "number", str: "string", list: "array", dict: "object",
        type(None): "null"}[type(value)]


def oracle_lines(doc) -> set[str]:
    """jsonschema's problems, worded as pyruntime words them."""
    out = set()
    for err in ORACLE.iter_errors(doc):
        path, v, arg, inst = _path(err.absolute_path), err.validator, err.validator_value, err.instance
        if v == "required":
            missing = err.message.split("'")[1]
            path, text = f"{path}.{missing}" if path else missing, "is required"
        elif v == "type":
            got = "null" if inst is None else f"{_kind(inst)} {_show(inst)}"
            text = f"expected {'an' if arg in ('integer', 'array', 'object') else 'a'} {arg}, got {got}"
        elif v == "minItems":
            text = "must be a non-empty array"
        elif v == "enum":
            text = f"must be one of {', '.join(arg)}; got {_show(inst)}"
        elif v == "pattern":
            text = f"must match {arg}; got {_show(inst)}"
        elif v == "minimum":
            text = f"must be at least {arg}, got {inst}"
        elif v == "maximum":
            text = f"must be at most {arg}, got {inst}"
        else:
            text = err.message
        out.add(f"{path or '(document)'}: {text}")
    return out


def parser_lines(doc) -> set[str]:
    try:
        parse.spec(doc)
    except ConfigError as exc:
        return {line.removeprefix("config.json: ") for line in exc.problems}
    return set()


def test_valid_documents_are_valid_to_both():
    for doc in (default_spec(), rich_config()):
        assert ORACLE.is_valid(doc), list(ORACLE.iter_errors(doc))[:1]
        assert parser_lines(doc) == set()


def test_a_wrong_document_is_wrong_to_both_at_every_level():
    doc = rich_config()
    doc["process"]["user"]["uid"] = -1
    doc["linux"]["resources"]["cpu"]["shares"] = "x"
    doc["linux"]["seccomp"]["syscalls"][0]["names"] = []
    doc["linux"]["timeOffsets"]["realtime"] = {}
    del doc["mounts"][0]["destination"]
    expected = oracle_lines(doc)
    assert len(expected) == 5 and parser_lines(doc) == expected


@settings(max_examples=600, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(rich_config()))
def test_the_parser_finds_what_the_standard_module_finds(doc):
    assert parser_lines(doc) == oracle_lines(doc)
