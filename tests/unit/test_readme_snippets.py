"""The README's configuration snippets are the files the client tests load, verbatim."""
from __future__ import annotations

import os
import re
import tomllib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNIPPETS = os.path.join(REPO, "tests", "integration", "data", "snippets")
BINARY = "/usr/local/bin/pyruntime"


def snippet(name: str) -> str:
    with open(os.path.join(SNIPPETS, name)) as f:
        return f.read()


def readme_blocks() -> list[str]:
    with open(os.path.join(REPO, "README.md")) as f:
        return [m.group(1) for m in re.finditer(r"^```\w*\n(.*?)^```$", f.read(), re.M | re.S)]


@pytest.mark.parametrize("name", sorted(os.listdir(SNIPPETS)))
def test_readme_carries_snippet(name):
    assert snippet(name) in readme_blocks(), f"README.md lacks {name} as a code block of its own"


@pytest.mark.parametrize("name, table", [
    ("containerd-v2.toml", ("plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "pyruntime")),
    ("containerd-v3.toml", ("plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes", "pyruntime")),
])
def test_containerd_handler(name, table):
    doc = tomllib.loads(snippet(name))
    assert doc["version"] == {"containerd-v2.toml": 2, "containerd-v3.toml": 3}[name]
    for key in table:
        doc = doc[key]
    assert doc == {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": BINARY}}


def test_podman_and_crio():
    assert tomllib.loads(snippet("containers.conf")) == {"engine": {"runtimes": {"pyruntime": [BINARY]}}}
    crio = tomllib.loads(snippet("crio.conf"))["crio"]["runtime"]["runtimes"]["pyruntime"]
    assert crio["runtime_path"] == BINARY and crio["runtime_type"] == "oci"


def test_runtime_class_names_the_handler():
    runtime_class, pod = snippet("runtimeclass.yaml").split("\n---\n")
    assert "kind: RuntimeClass" in runtime_class and re.search(r"^handler: pyruntime$", runtime_class, re.M)
    assert "kind: Pod" in pod and "runtimeClassName: pyruntime" in pod


def test_cri_config_snippet_names_every_key_with_its_default():
    import dataclasses

    from cri_adapter import config
    doc = tomllib.loads(snippet("pyruntime-cri.toml"))
    loaded = config.from_dict(doc)  # every key is known (an unknown one is refused)
    defaults = config.from_dict({})
    for field in dataclasses.fields(config.Config):
        if field.name != "runtimes":
            assert getattr(loaded, field.name) == getattr(defaults, field.name), field.name
    assert set(doc) - {"runtimes", "cni"} == \
        {f.name for f in dataclasses.fields(config.Config)} - {"runtimes", "cni_conf_dir", "cni_bin_dirs"}
    assert loaded.runtimes["pyruntime"] == defaults.runtimes["pyruntime"]


def test_hosts_snippet_puts_the_mirror_before_the_registry():
    from cri_adapter.images import hosts
    found = hosts.parse(tomllib.loads(snippet("hosts.toml")), "registry.k8s.io", "hosts.toml")
    assert [(e.api, sorted(e.capabilities)) for e in found] == [
        ("http://127.0.0.1:5000/v2", ["pull", "resolve"]),
        ("https://registry.k8s.io/v2", ["pull", "push", "resolve"])]


def test_crictl_snippet_points_at_the_default_socket():
    from cri_adapter import config
    assert f"unix://{config.Config().socket}" in snippet("crictl.yaml")
