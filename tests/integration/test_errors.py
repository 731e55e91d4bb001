"""Bad input: one clear line, a non-zero exit, and nothing left behind."""
from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

from helpers import run_container


def leftovers(runtime, cid: str, bundle_path: str = "") -> list[str]:
    found = []
    if os.path.exists(os.path.join(runtime.root, cid)):
        found.append(f"state dir {cid}")
    found += glob.glob(f"/sys/fs/cgroup/*/pyruntime/{cid}") + glob.glob(f"/sys/fs/cgroup/pyruntime/{cid}")
    with open("/proc/self/mountinfo") as f:
        found += [line for line in f if bundle_path and bundle_path in line]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if cid.encode() in f.read():
                    found.append(f"process {pid}")
        except OSError:
            pass
    return found


def create_fails(runtime, bundle, *, expect: str, cid: str | None = None, extra=()) -> str:
    cid = cid or runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, *extra, cid)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.count("\n") == 1 and err.startswith("pyruntime: "), err
    assert expect in err, err
    assert leftovers(runtime, cid, bundle.path) == []
    with open(runtime.log) as f:
        assert json.loads(f.read().splitlines()[-1])["msg"] == err[len("pyruntime: "):].strip()
    return err


def test_malformed_json(runtime, bundle):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write('{"ociVersion": "1.0.0",\n "process": {,}}')
    create_fails(runtime, bundle, expect="config.json: line 2 column 14: invalid JSON")


@pytest.mark.parametrize("edit,expect", [
    (lambda c: c["linux"].setdefault("resources", {}).update(memory={"limit": "64M"}),
     'config.json: linux.resources.memory.limit: expected an integer, got string "64M"'),
    (lambda c: c["process"].update(args=[]), "config.json: process.args: must be a non-empty array"),
    (lambda c: c.pop("ociVersion"), "config.json: ociVersion: is required"),
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
     "config.json: linux.namespaces[6].type: must be one of mount, pid, network"),
    (lambda c: c["mounts"].append({"destination": "/", "type": "tmpfs", "source": "t"}),
     "config.json: mounts[7].destination: cannot mount over the container's root"),
    (lambda c: c["process"].update(cwd="tmp"), "config.json: process.cwd: must be an absolute path"),
    # what a fuzzer once turned into "internal error" (issue 17): each a line naming the field
    (lambda c: c["linux"].update(timeOffsets={"x": 1}),
     "config.json: linux.timeOffsets: Additional properties are not allowed ('x' was unexpected)"),
    (lambda c: c["process"].update(env=["=x"]), "config.json: process.env[0]: a variable needs a name before '='"),
    (lambda c: c["process"].update(env=["A=b\0c"]), "config.json: process.env[0]: contains a NUL character"),
    (lambda c: c["mounts"][0].update(options=["\udcff"]),
     "config.json: mounts[0].options[0]: not valid Unicode (a lone surrogate)"),
    (lambda c: c["linux"].update(resources={"cpu": {"shares": 2 ** 64 - 1}}),
     "config.json: linux.resources.cpu.shares: the kernel's range is 2-262144, got 18446744073709551615"),
    (lambda c: c["linux"].update(resources={"cpu": {"shares": 1}}),
     "config.json: linux.resources.cpu.shares: the kernel's range is 2-262144, got 1"),
    # config.md / config-linux.md MUSTs on the document (conformance/clauses.md)
    (lambda c: c.update(annotations={"": "x"}), "config.json: annotations: keys MUST NOT be empty"),
    # refused while planning, before any state or cgroup exists (they used to come after)
    (lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 9}),
     "config.json: process.ioPriority.priority: must be 0-7, got 9"),
    (lambda c: c["process"].update(scheduler={"policy": "SCHED_OTHER", "nice": 99}),
     "config.json: process.scheduler.nice: must be -20 to 19, got 99"),
    (lambda c: c["linux"].update(personality={"domain": "LINUX", "flags": ["bogus"]}),
     "config.json: linux.personality.flags: no flags are defined by the spec; got ['bogus']"),
    (lambda c: c["linux"].update(resources={"memory": {"swappiness": 500}}),
     "config.json: linux.resources.memory.swappiness: must be 0-100, got 500"),
    (lambda c: c["linux"].update(maskedPaths=["proc/kcore"]),
     "config.json: linux.maskedPaths[0]: must be an absolute path, got 'proc/kcore'"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}),
     "config.json: linux.seccomp.listenerMetadata: MUST NOT be set without listenerPath"),
    (lambda c: c["linux"].update(resources={"cpu": {"quota": 1000, "burst": 5000, "period": 100000}}),
     "config.json: linux.resources.cpu.burst: 5000 is above quota 1000"),
    (lambda c: c["mounts"].append({"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"],
                                   "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
     "config.json: mounts[7].gidMappings: required together with uidMappings"),
    (lambda c: c["linux"]["namespaces"].append({"type": "user"}),
     "config.json: linux.uidMappings and linux.gidMappings: required when a new user namespace is created"),
    # refused by the plan's checks (issue 14): they used to come after the state dir and cgroup existed
    (lambda c: c["mounts"].append({"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}),
     "config.json: mounts[7].options: idmap needs uidMappings/gidMappings on the mount or a user namespace "
     "with mappings"),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0-x"}),
     "config.json: linux.memoryPolicy.nodes: '0-x' is not a list like 0-2,5"),
    (lambda c: c["linux"]["namespaces"][0].update(path="/dev/null"),
     "config.json: linux.namespaces[0].path: /dev/null is not a namespace"),
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
     "process.rlimits[0].type: unknown resource limit 'RLIMIT_BOGUS'"),
])
def test_invalid_config(runtime, bundle, edit, expect):
    bundle.edit(edit)
    create_fails(runtime, bundle, expect=expect)


@pytest.mark.parametrize("text,expect", [
    ('{"ociVersion": "1.0.0", "x": NaN}', "config.json: invalid JSON (NaN is not JSON)"),
    ('{"ociVersion": "1.0.0", "ociVersion": "1.0.0"}', "config.json: invalid JSON (duplicate key 'ociVersion')"),
    ('{"x": ' + "[" * 6000 + "]" * 6000 + "}", "config.json: invalid JSON (nested more than 5000 deep)"),
])
def test_documents_that_are_not_quite_json(runtime, bundle, text, expect):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write(text)
    create_fails(runtime, bundle, expect=expect)


def test_whole_numbers_written_as_decimals_are_integers(runtime, bundle):
    """0.0 is an integer to our schema (draft 7): the container runs as uid 0, not "internal error"."""
    path = os.path.join(bundle.path, "config.json")
    bundle.set_args("sh", "-c", "id -u; id -g")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('"uid": 0', '"uid": 0.0').replace('"gid": 0', '"gid": 1e1'))
    code, out, err = run_container(runtime, bundle)
    assert (code, out.split()) == (0, ["0", "10"]), err


def test_deep_but_legal_nesting_is_read(runtime, bundle):
    """runc reads documents nested thousands deep (in fields it does not know); so do we."""
    path = os.path.join(bundle.path, "config.json")
    with open(path) as f:
        text = f.read().rstrip().rstrip("}")
    with open(path, "w") as f:
        f.write(text + ', "x": ' + "[" * 4000 + "]" * 4000 + "}")
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 0, err


def test_every_problem_is_listed(runtime, bundle):
    bundle.edit(lambda c: (c["process"].update(args=[], cwd=5), c.update(hostname=7)))
    proc = runtime.run("create", "--bundle", bundle.path, runtime.new_id())
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 1
    assert lines == ["pyruntime: config.json: hostname: expected a string, got integer 7",
                     "pyruntime: config.json: process.args: must be a non-empty array",
                     "pyruntime: config.json: process.cwd: expected a string, got integer 5"]


def test_missing_bundle(runtime, tmp_path):
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", str(tmp_path / "nope"), cid)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"pyruntime: bundle {tmp_path / 'nope'} does not exist\n"
    assert leftovers(runtime, cid) == []


def test_bundle_is_a_file(runtime, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    proc = runtime.run("create", "--bundle", str(path), runtime.new_id())
    assert proc.stderr.decode() == f"pyruntime: bundle {path} is not a directory\n"


def test_missing_rootfs(runtime, bundle):
    bundle.edit(lambda c: c["root"].update(path="nowhere"))
    create_fails(runtime, bundle, expect="root.path: rootfs")


def test_duplicate_id(runtime, bundle):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"pyruntime: container with given ID already exists: {cid}\n"
    assert runtime.state(cid)["status"] == "created"  # the first one is untouched
    runtime.run("delete", cid, check=True)


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "..", "sp ace", ""])
def test_bad_container_id(runtime, bundle, bad_id):
    proc = runtime.run("create", "--bundle", bundle.path, bad_id)
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1
    assert "container id" in proc.stderr.decode()
    assert os.listdir(runtime.root) == [] if os.path.exists(runtime.root) else True


def test_executable_not_found(runtime, bundle):
    bundle.set_args("no-such-program")
    create_fails(runtime, bundle, expect="executable file 'no-such-program' not found in $PATH")


def test_cwd_that_cannot_be_made(runtime, bundle):
    """A missing cwd is made (as runc); one below a file cannot be."""
    bundle.edit(lambda c: c["process"].update(cwd="/etc/passwd/sub"))
    create_fails(runtime, bundle, expect="process.cwd: openat2 /etc/passwd/sub: not a directory")


def test_unknown_flag_and_command(runtime, bundle):
    proc = runtime.run("create", "--bogus", "x")
    assert proc.returncode == 1 and proc.stderr.decode() == "pyruntime: flag provided but not defined: -bogus (pyruntime create)\n"
    proc = runtime.run("frobnicate")
    assert proc.returncode == 3 and "unknown command 'frobnicate'" in proc.stderr.decode()  # runc's status


def test_commands_on_missing_container(runtime):
    for verb in ("start", "state", "kill", "delete", "pause", "resume", "ps"):
        proc = runtime.run(verb, "missing")
        assert proc.returncode == 1, verb
        assert proc.stderr.decode() == "pyruntime: container does not exist\n", verb
    assert runtime.run("delete", "--force", "missing").returncode == 0


def test_terminal_without_console_socket(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(terminal=True))
    create_fails(runtime, bundle, expect="process.terminal is true but no --console-socket was given")


def test_console_socket_nobody_listens_on(runtime, bundle, tmp_path):
    bundle.edit(lambda c: c["process"].update(terminal=True))
    missing = str(tmp_path / "console.sock")
    create_fails(runtime, bundle, extra=("--console-socket", missing),
                 expect=f"--console-socket: connect {missing}: no such file or directory")


def test_seccomp_listener_nobody_listens_on(runtime, bundle, tmp_path):
    missing = str(tmp_path / "agent.sock")
    bundle.edit(lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": missing,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    create_fails(runtime, bundle, expect=f"linux.seccomp.listenerPath: connect {missing}: no such file or directory")


def test_another_users_containers_are_one_line(runtime, bundle):
    """An unprivileged caller pointed at root's state: the path and the cause, not a traceback."""
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    as_user = ["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups", runtime.binary, "--root", runtime.root]
    state = subprocess.run(as_user + ["state", cid], capture_output=True, text=True)
    assert state.returncode == 1 and state.stderr == f"pyruntime: open {runtime.root}/{cid}: permission denied\n"
    listed = subprocess.run(as_user + ["list"], capture_output=True, text=True)
    assert listed.returncode == 1 and listed.stderr == f"pyruntime: open {runtime.root}: permission denied\n"
    runtime.run("delete", "--force", cid, check=True)


def test_pid_file_in_a_missing_directory(runtime, bundle, tmp_path):
    path = str(tmp_path / "missing" / "pid")
    create_fails(runtime, bundle, extra=("--pid-file", path), expect=f"--pid-file {path}: no such file or directory")


def test_a_log_file_that_cannot_be_opened(runtime, tmp_path):
    """As runc: --log is opened first, so a caller reading it for errors never looks in vain."""
    missing = str(tmp_path / "missing" / "log.json")
    proc = subprocess.run([runtime.binary, "--root", runtime.root, "--log", missing, "list"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == f"pyruntime: --log {missing}: no such file or directory\n"
