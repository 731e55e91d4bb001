"""`pyruntime trace`: a traced run's profile lets the same workload run again unchanged and refuses
what it never did; forks, threads, a ptrace() of its own and a thread dying mid-call are all
handled; the output is deterministic, mergeable, and loads as a Kubernetes Localhost profile;
the tracer gives the container nothing (capabilities, fds, environment)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from helpers import run_container

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = "echo hello; ls / > /dev/null; head -1 /etc/passwd; (cat /etc/group | wc -l) & wait; exit 3"


def trace(runtime, bundle, *flags: str, args=None) -> tuple[subprocess.CompletedProcess, dict]:
    if args:
        bundle.set_args(*args)
    output = os.path.join(bundle.path, f"profile-{runtime.new_id()}.json")
    proc = runtime.run("trace", "--output", output, *flags, "run", "--bundle", bundle.path, runtime.new_id(),
                       timeout=120)
    with open(output) as f:
        return proc, json.load(f)


def under(bundle, profile: dict) -> None:
    bundle.edit(lambda c: c["linux"].update(seccomp=profile))


def allowed(profile: dict) -> set[str]:
    return {n for rule in profile["syscalls"] for n in rule["names"]}


def test_the_profile_runs_the_workload_again_and_refuses_the_rest(runtime, bundle):
    proc, profile = trace(runtime, bundle, args=("sh", "-c", SCRIPT))
    traced_out = proc.stdout.decode()
    assert proc.returncode == 3 and traced_out.startswith("hello\nroot:"), proc.stderr
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    names = allowed(profile)
    assert {"execve", "getdents64", "wait4", "write"} <= names  # the program's, its children's (ls, cat)
    assert not {"unshare", "mount", "keyctl", "seccomp"} & names
    summary = proc.stderr.decode()
    assert "getdents64" in summary and "ls[" in summary  # the table: count and first caller
    under(bundle, profile)
    code, out, err = run_container(runtime, bundle)
    assert (code, out) == (3, traced_out), err
    # calls the workload never made, each of which works without the profile
    never = "mkdir /tmp/new; ln -s x /tmp/link; echo end"
    bundle.edit(lambda c: c["linux"].pop("seccomp"))
    code, out, err = run_container(runtime, bundle, "sh", "-c", never)
    assert out.strip() == "end" and not err, err
    under(bundle, profile)
    code, out, err = run_container(runtime, bundle, "sh", "-c", never)
    assert out.strip() == "end" and err.count("Operation not permitted") == 2, err


def test_arguments_are_conditioned_where_it_is_safe(runtime, bundle):
    for kind in ("bounding", "effective", "permitted"):  # so that unshare works, but for the profile
        bundle.config["process"]["capabilities"][kind].append("CAP_SYS_ADMIN")
    _, profile = trace(runtime, bundle, args=("sh", "-c", "(true) & wait; nc -l -p 1 -w 1 2>/dev/null; true"))
    rules = {r["names"][0]: r["args"] for r in profile["syscalls"] if r.get("args")}
    assert rules["clone"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    families = {a["value"] for r in profile["syscalls"] if r["names"] == ["socket"] for a in r["args"]}
    assert families and families <= {2, 10}, families  # AF_INET, AF_INET6: nc's, and only those
    under(bundle, profile)
    code, out, err = run_container(runtime, bundle, "sh", "-c", "(true) & wait; echo forked; unshare -n true; echo $?")
    assert out.split() == ["forked", "1"] and "Operation not permitted" in err, err  # a fork, not a namespace


@pytest.fixture(scope="module")
def threads_binary(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.fail("gcc is needed to build the threaded workload (install.sh installs it)")
    out = str(tmp_path_factory.mktemp("threads") / "threads")
    subprocess.run(["gcc", "-static", "-O1", "-pthread", "-o", out, os.path.join(HERE, "data", "threads.c")],
                   check=True)
    return out


def test_threads_a_ptrace_of_its_own_and_a_thread_dying_mid_call(runtime, bundle, threads_binary):
    shutil.copy(threads_binary, os.path.join(bundle.rootfs, "threads"))
    proc, profile = trace(runtime, bundle, args=("/threads",))
    assert proc.returncode == 7 and proc.stdout.decode() == "threads done, ptrace refused\n", proc.stderr
    names = allowed(profile)
    assert {"sysinfo", "uname", "nanosleep", "ptrace"} <= names or {"sysinfo", "uname", "clock_nanosleep",
                                                                     "ptrace"} <= names, names
    under(bundle, profile)
    code, out, err = run_container(runtime, bundle)
    # untraced, PTRACE_TRACEME succeeds: the same program, every call it needs allowed
    assert (code, out) == (7, "threads done, ptrace allowed\n"), err


def test_deterministic_mergeable_and_a_localhost_profile(runtime, bundle):
    from cri_adapter.convert import seccomp_profile
    _, first = trace(runtime, bundle, args=("sh", "-c", "uname > /dev/null"))
    _, again = trace(runtime, bundle, args=("sh", "-c", "uname > /dev/null"))
    assert json.dumps(first) == json.dumps(again)
    with open(os.path.join(bundle.path, "first.json"), "w") as f:
        json.dump(first, f)
    _, merged = trace(runtime, bundle, "--merge", os.path.join(bundle.path, "first.json"), "--format", "docker",
                      args=("sh", "-c", "ls / > /dev/null"))
    assert {"uname", "getdents64"} <= allowed(merged)
    assert merged["archMap"] == [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]
    oci = seccomp_profile.localhost(json.dumps(merged), "traced")  # what pyruntime-cri does with it
    assert oci["architectures"] == ["SCMP_ARCH_X86_64"] and {"uname", "getdents64"} <= allowed(oci)


def test_the_tracer_gives_the_container_nothing(runtime, bundle):
    look = "grep -E '^Cap' /proc/self/status; ls /proc/self/fd; env | sort"
    code, plain, err = run_container(runtime, bundle, "sh", "-c", look)
    assert code == 0, err
    proc, _ = trace(runtime, bundle, args=("sh", "-c", look))
    assert proc.stdout.decode() == plain
