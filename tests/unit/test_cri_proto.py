"""spec/cri.proto carries the same wire facts as Kubernetes' cri-api runtime/v1 api.proto: every service,
method, message, field (name, number, type, label) and enum value, compared on the compiled descriptors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from google.protobuf import descriptor_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = os.path.join(HERE, "..", "..", "spec", "cri.proto")
UPSTREAM = os.path.join(HERE, "..", "..", "..", "shared", "reference", "cri-api", "api.proto")


def facts(path: str, tmp_path) -> dict:
    out = tmp_path / (os.path.basename(os.path.dirname(path)) + ".pb")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{os.path.dirname(path)}",
                    f"--descriptor_set_out={out}", path], check=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    (f,) = files.file
    table = {"package": f.package}

    def message(prefix: str, m) -> None:
        table[prefix + m.name] = sorted((x.name, x.number, x.type, x.label, x.type_name) for x in m.field)
        for e in m.enum_type:
            table[prefix + m.name + "." + e.name] = sorted((v.name, v.number) for v in e.value)
        for nested in m.nested_type:
            message(prefix + m.name + ".", nested)

    for m in f.message_type:
        message("", m)
    for e in f.enum_type:
        table[e.name] = sorted((v.name, v.number) for v in e.value)
    for s in f.service:
        table["service " + s.name] = sorted((x.name, x.input_type, x.output_type, x.client_streaming,
                                             x.server_streaming) for x in s.method)
    return table


@pytest.mark.skipif(not os.path.exists(UPSTREAM), reason="the upstream api.proto is not beside this checkout")
def test_wire_facts_match_upstream(tmp_path):
    ours, upstream = facts(OURS, tmp_path), facts(UPSTREAM, tmp_path)
    assert sorted(ours) == sorted(upstream)
    differ = [k for k in ours if ours[k] != upstream[k]]
    assert differ == []
