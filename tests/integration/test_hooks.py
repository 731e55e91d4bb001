"""Lifecycle hooks: each at its moment, in its namespace, with the state on stdin,
and the failure rules of runtime-spec 1.3.0."""
from __future__ import annotations

import json
import os
import time

from test_errors import leftovers

SCRIPT = '#!/bin/sh\ncat > "$OUT/$1.json"\necho "$1 $(readlink /proc/self/ns/mnt)" >> "$OUT/order"\n'


def hook(path: str, name: str, out: str, **extra) -> dict:
    return {"path": path, "args": ["hook", name], "env": [f"OUT={out}"], **extra}


def install_hooks(bundle, tmp_path, **hooks):
    host_script = tmp_path / "hook.sh"
    host_script.write_text(SCRIPT)
    host_script.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "rootfs-out").mkdir(exist_ok=True)
    inside = os.path.join(bundle.rootfs, "hook.sh")
    with open(inside, "w") as f:
        f.write(SCRIPT)
    os.chmod(inside, 0o755)
    os.makedirs(os.path.join(bundle.rootfs, "hooks-out"), exist_ok=True)
    spec_hooks = {}
    for step, custom in hooks.items():
        if custom is not None:
            spec_hooks[step] = custom
        elif step == "startContainer":  # resolved and run inside the container
            spec_hooks[step] = [hook("/hook.sh", step, "/hooks-out")]
        else:
            spec_hooks[step] = [hook(str(host_script), step, str(out))]
    bundle.edit(lambda c: c.update(hooks=spec_hooks))
    return out


def order(out) -> list[str]:
    path = out / "order"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_every_hook_in_order_with_state(runtime, bundle, tmp_path):
    steps = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
    out = install_hooks(bundle, tmp_path, **{s: None for s in steps})
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    assert order(out) == ["prestart", "createRuntime", "createContainer"]
    init_pid = runtime.state(cid)["pid"]
    runtime_mnt = os.readlink("/proc/self/ns/mnt")
    lines = dict(line.split() for line in (out / "order").read_text().splitlines())
    assert lines["prestart"] == lines["createRuntime"] == runtime_mnt
    assert lines["createContainer"] == os.readlink(f"/proc/{init_pid}/ns/mnt")  # container namespace
    created = json.loads((out / "createRuntime.json").read_text())
    assert created["id"] == cid and created["status"] == "creating" and created["pid"] == init_pid
    assert created["bundle"] == bundle.path
    assert json.loads((out / "createContainer.json").read_text())["pid"] == 1  # as seen inside
    runtime.run("start", cid, check=True)
    assert order(out)[-1] == "poststart"
    inside = os.path.join(bundle.rootfs, "hooks-out", "order")
    deadline = time.monotonic() + 5
    while not os.path.exists(inside) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open(inside).read().split()[0] == "startContainer"
    assert json.loads((out / "poststart.json").read_text())["status"] == "running"
    runtime.run("delete", "--force", cid, check=True)
    assert order(out)[-1] == "poststop"
    assert json.loads((out / "poststop.json").read_text())["status"] == "stopped"


def test_failing_prestart_fails_create_and_cleans_up(runtime, bundle, tmp_path):
    install_hooks(bundle, tmp_path, prestart=[{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}])
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "pyruntime: hooks.prestart[0] /bin/sh: exit status 3: nope\n"
    assert leftovers(runtime, cid, bundle.path) == []


def test_hook_timeout(runtime, bundle, tmp_path):
    install_hooks(bundle, tmp_path, createRuntime=[{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}])
    cid = runtime.new_id()
    t0 = time.monotonic()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    assert time.monotonic() - t0 < 5
    assert proc.stderr.decode() == "pyruntime: hooks.createRuntime[0] /bin/sleep: timed out after 1s\n"
    assert leftovers(runtime, cid, bundle.path) == []


def test_missing_hook_path(runtime, bundle, tmp_path):
    install_hooks(bundle, tmp_path, createContainer=[{"path": "/no/such/hook"}])
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    assert proc.stderr.decode() == ("pyruntime: hooks.createContainer[0] /no/such/hook: cannot run: "
                                    "no such file or directory\n")
    assert leftovers(runtime, cid, bundle.path) == []


def test_failing_poststart_fails_start_and_stops_container(runtime, bundle, tmp_path):
    install_hooks(bundle, tmp_path, poststart=[{"path": "/bin/false"}])
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("start", cid)
    assert proc.returncode == 1 and proc.stderr.decode() == "pyruntime: hooks.poststart[0] /bin/false: exit status 1\n"
    deadline = time.monotonic() + 10
    while runtime.state(cid)["status"] != "stopped":  # start killed it (runc does too)
        assert time.monotonic() < deadline, "the container was not stopped"
        time.sleep(0.02)


def test_failing_poststop_warns_and_continues(runtime, bundle, tmp_path):
    out = tmp_path / "second"
    install_hooks(bundle, tmp_path, poststop=[
        {"path": "/bin/false"},
        {"path": "/bin/sh", "args": ["sh", "-c", f"touch {out}"]}])
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    runtime.run("delete", cid, check=True)
    assert out.exists()  # the hook after the failing one still ran
    entries = [json.loads(line) for line in open(runtime.log)]
    assert any(e["level"] == "warning" and "hooks.poststop[0] /bin/false: exit status 1" in e["msg"]
               for e in entries)


def hooks_run_after_editing_the_state(runtime, bundle, tmp_path, change) -> str:
    """Create a container with a poststart and a poststop hook, apply ``change`` to its state.json,
    start and delete it; what the hooks wrote, in order."""
    marks = tmp_path / "marks"
    install_hooks(bundle, tmp_path, poststart=[{"path": "/bin/sh", "args": ["sh", "-c", f"echo start >> {marks}"]}],
                  poststop=[{"path": "/bin/sh", "args": ["sh", "-c", f"echo stop >> {marks}"]}])
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    runtime.edit_record(cid, change)
    runtime.run("start", cid, check=True)
    runtime.run("delete", "--force", cid, check=True)
    return marks.read_text()


def test_start_and_delete_act_on_what_create_decided(runtime, bundle, tmp_path):
    """The record holds the hooks create decided on: start and delete run those, whatever the
    config copy in the state says later (they never parse it again)."""
    assert hooks_run_after_editing_the_state(runtime, bundle, tmp_path,
                                             lambda r: r["config"].pop("hooks")) == "start\nstop\n"


def test_a_record_from_before_decisions_were_kept_still_runs_its_hooks(runtime, bundle, tmp_path):
    # as an earlier pyruntime wrote it: no "decided"
    assert hooks_run_after_editing_the_state(runtime, bundle, tmp_path, lambda r: r.pop("decided")) == "start\nstop\n"
