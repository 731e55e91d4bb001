"""`pyruntime trace`'s profiles from observations: conditions, both forms, merging, the summary."""
from __future__ import annotations

import pytest

from pyruntime.trace import profile


def observed() -> profile.Observations:
    obs = profile.Observations()
    obs.add("SCMP_ARCH_X86_64", "read", [0] * 6, "sh[2]")
    obs.add("SCMP_ARCH_X86_64", "read", [0] * 6, "cat[3]")
    obs.add("SCMP_ARCH_X86", "read", [0] * 6, "old[4]")
    obs.add("SCMP_ARCH_X86_64", "personality", [0xFFFFFFFF] + [0] * 5, "sh[2]")
    obs.add("SCMP_ARCH_X86_64", "personality", [8] + [0] * 5, "sh[2]")
    obs.add("SCMP_ARCH_X86_64", "socket", [1, 1, 0, 0, 0, 0], "nc[5]")
    obs.add("SCMP_ARCH_X86_64", "clone", [0x11] + [0] * 5, "sh[2]")  # SIGCHLD | a flag that is no namespace
    return obs


def test_conditions_and_the_oci_form():
    doc = profile.render(profile.architectures_of(observed()), profile.rules_of(observed()))
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and doc["defaultErrnoRet"] == 1
    assert doc["architectures"] == ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
    assert doc["syscalls"][0] == {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
    conditioned = [(r["names"][0], r["args"][0]["value"], r["args"][0]["op"]) for r in doc["syscalls"][1:]]
    assert conditioned == [("clone", 0x7E020000, "SCMP_CMP_MASKED_EQ"), ("personality", 8, "SCMP_CMP_EQ"),
                           ("personality", 0xFFFFFFFF, "SCMP_CMP_EQ"), ("socket", 1, "SCMP_CMP_EQ")]


def test_a_namespace_flag_seen_makes_clone_unconditional():
    obs = observed()
    obs.add("SCMP_ARCH_X86_64", "clone", [0x20000000 | 0x11] + [0] * 5, "unshare[9]")  # CLONE_NEWCGROUP... seen
    doc = profile.render(profile.architectures_of(obs), profile.rules_of(obs))
    assert "clone" in doc["syscalls"][0]["names"] and not [r for r in doc["syscalls"][1:] if r["names"] == ["clone"]]


def test_docker_form_and_merge_back():
    obs = observed()
    docker = profile.render(profile.architectures_of(obs), profile.rules_of(obs), "docker")
    assert docker["archMap"] == [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}]
    archs, rules = profile.read(docker, "d.json")
    assert archs == {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"} and rules == profile.rules_of(obs)
    extra = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_AARCH64"],
             "syscalls": [{"names": ["write", "read"], "action": "SCMP_ACT_ALLOW"},
                          {"names": ["socket"], "action": "SCMP_ACT_ALLOW"},
                          {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}]}
    more_archs, more = profile.read(extra, "x.json")
    merged = profile.render(archs | more_archs, rules | more)
    assert merged["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
    assert merged["syscalls"][0]["names"] == ["read", "socket", "write"]  # socket now allowed outright
    assert not [r for r in merged["syscalls"][1:] if r["names"] == ["socket"]]
    assert "kill" not in str(merged)  # only what a profile allows is merged
    with pytest.raises(ValueError, match="more than one argument condition"):
        profile.read({"syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] * 2}]}, "y.json")


def test_summary_most_made_first_with_first_callers():
    lines = profile.summary(observed()).splitlines()
    assert lines[0].split() == ["syscall", "arch", "count", "first", "caller"]
    assert [line.split() for line in lines[1:3]] == [["personality", "SCMP_ARCH_X86_64", "2", "sh[2]"],
                                                     ["read", "SCMP_ARCH_X86_64", "2", "sh[2]"]]
    assert lines[-1].split()[:3] == ["socket", "SCMP_ARCH_X86_64", "1"]
