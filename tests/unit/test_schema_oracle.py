"""spec/config.schema.json, run by the standard jsonschema module, is the oracle for what pyruntime's
fast schema check (the generated ``model/_schema_check``, with ``model/patterns`` in place of its
regular expressions) accepts: both see the same valid documents and seeded mutations of them, and
must agree on every one. The explanation path (``model/_schema_doc``) is the file itself."""
from __future__ import annotations

import json
import os

import jsonschema
from hypothesis import HealthCheck, given, settings

from mutations import mutated
from pyruntime.cli.verb_spec import default_spec
from pyruntime.model import _schema_check
from pyruntime.model._schema_doc import SCHEMA

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
    return doc


def fast_accepts(doc) -> bool:
    try:
        _schema_check.validate(doc)
        return True
    except _schema_check.JsonSchemaValueException:
        return False


def test_the_explanations_use_the_schema_file_itself():
    # as generated: fastjsonschema, run first, has made its references absolute
    text = json.dumps(SCHEMA).replace(f'"{FILE_SCHEMA["$id"]}#', '"#')
    assert json.loads(text) == FILE_SCHEMA


def test_valid_documents_are_valid_to_both():
    for doc in (default_spec(), rich_config()):
        assert ORACLE.is_valid(doc), list(ORACLE.iter_errors(doc))[:1]
        assert fast_accepts(doc)


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(rich_config()))
def test_the_fast_check_agrees_with_the_standard_module(doc):
    assert fast_accepts(doc) == ORACLE.is_valid(doc), (
        "jsonschema: " + "; ".join(e.message for e in ORACLE.iter_errors(doc))[:300])
