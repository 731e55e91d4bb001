"""pyruntime's output and exit statuses next to runc's, for the same bundle (youki's runc-compatibility check).

containerd's go-runc, conmon and runtime-tools parse these: the state and list
JSON, `ps --format json`, `events --stats`, exit statuses, and the error
entries in the --log JSON file (containerd's shim matches "does not exist" and
"container not running" in them to tell a gone container from a failure).
"""
from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from helpers import Runtime

CREATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.fixture
def runc(tmp_path):
    binary = shutil.which("runc")
    if binary is None:
        raise RuntimeError("runc is missing: ./run-tests installs it (apt)")
    rt = Runtime(str(tmp_path / "runc-state"), str(tmp_path / "runc.log"), binary)
    yield rt
    rt.cleanup()
    shutil.rmtree(rt.root, ignore_errors=True)


@pytest.fixture
def both(runtime, runc) -> dict[str, Runtime]:
    return {"pyruntime": runtime, "runc": runc}


def shape(doc: dict) -> dict:
    return {key: type(value).__name__ for key, value in doc.items()}


def key_paths(doc, prefix: str = "") -> set[str]:
    """Dotted paths of every key of nested objects (lists are leaves)."""
    out = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.add(prefix + key)
            out |= key_paths(value, prefix + key + ".")
    return out


def last_error(rt: Runtime) -> str:
    with open(rt.log) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    return [e["msg"] for e in entries if e["level"] == "error"][-1]


def create_each(both, bundle, *args: str) -> dict[str, str]:
    bundle.set_args(*args)
    ids = {}
    for name, rt in both.items():
        ids[name] = rt.new_id(name[:2])
        rt.run("create", "--bundle", bundle.path, ids[name], check=True)
    return ids


def test_state_list_ps_and_events_as_runc_prints_them(both, bundle):
    ids = create_each(both, bundle, "sleep", "100")
    py, rc = both["pyruntime"], both["runc"]

    states = {name: rt.state(ids[name]) for name, rt in both.items()}
    assert shape(states["pyruntime"]) == shape(states["runc"])
    for key in ("status", "bundle", "rootfs", "owner"):
        assert states["pyruntime"][key] == states["runc"][key], key
    assert states["pyruntime"]["status"] == "created"
    for name, rt in both.items():
        assert CREATED.match(states[name]["created"]), states[name]["created"]
        # go-runc's Ps parses a JSON array of host pids
        assert json.loads(rt.output("ps", "--format", "json", ids[name])) == [states[name]["pid"]]

    lists = {name: json.loads(rt.output("list", "--format", "json")) for name, rt in both.items()}
    assert len(lists["pyruntime"]) == len(lists["runc"]) == 1
    assert shape(lists["pyruntime"][0]) == shape(lists["runc"][0])
    assert lists["pyruntime"][0]["owner"] == lists["runc"][0]["owner"]
    assert py.output("list").splitlines()[0].split() == rc.output("list").splitlines()[0].split()
    assert (py.output("ps", ids["pyruntime"]).splitlines()[0].split()
            == rc.output("ps", ids["runc"]).splitlines()[0].split())

    for name, rt in both.items():
        rt.run("start", ids[name], check=True)
        assert rt.state(ids[name])["status"] == "running"
    events = {name: json.loads(rt.output("events", "--stats", ids[name])) for name, rt in both.items()}
    assert events["pyruntime"].keys() == events["runc"].keys() == {"type", "id", "data"}
    assert events["pyruntime"]["type"] == "stats" and events["pyruntime"]["id"] == ids["pyruntime"]
    # runc leaves out zero fields (Go's omitempty); every field it prints, pyruntime prints too
    missing = key_paths(events["runc"]["data"]) - key_paths(events["pyruntime"]["data"])
    assert not missing, sorted(missing)


def wait_stopped(rt: Runtime, cid: str) -> None:
    deadline = time.monotonic() + 10
    while rt.state(cid)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)


# (arguments, with RUNNING / STOPPED / MISSING standing for container ids; a phrase both
# runtimes' --log error entry must carry, or None where only the exit status matters)
CASES = [
    (("state", "MISSING"), "container does not exist"),
    (("kill", "MISSING", "KILL"), "container does not exist"),
    (("delete", "MISSING"), "container does not exist"),
    (("kill", "STOPPED", "TERM"), "container not running"),
    (("delete", "RUNNING"), "that is not stopped: running"),
    (("kill", "RUNNING", "BOGUS"), "unknown signal"),
    (("state", "--bogus", "RUNNING"), "flag provided but not defined: -bogus"),
    (("create", "--bundle", "BUNDLE", "RUNNING"), "already exists"),
    (("start", "RUNNING"), None),
    (("resume", "RUNNING"), None),
    (("frobnicate",), None),
    (("state",), None),
    (("exec", "RUNNING", "sh", "-c", "exit 9"), None),
    (("exec", "RUNNING", "/nonexistent"), None),
    (("exec", "STOPPED", "true"), None),
    (("kill", "RUNNING", "0"), None),
]


def test_exit_statuses_and_log_errors_as_runc(both, bundle):
    running = create_each(both, bundle, "sleep", "100")
    stopped = create_each(both, bundle, "true")
    for name, rt in both.items():
        rt.run("start", running[name], check=True)
        rt.run("start", stopped[name], check=True)
        wait_stopped(rt, stopped[name])
    for args, phrase in CASES:
        codes, errors = {}, {}
        for name, rt in both.items():
            names = {"RUNNING": running[name], "STOPPED": stopped[name], "MISSING": "missing-container",
                     "BUNDLE": bundle.path}
            codes[name] = rt.run(*(names.get(a, a) for a in args)).returncode
            if phrase:
                errors[name] = last_error(rt)
        assert codes["pyruntime"] == codes["runc"], (args, codes)
        for name, message in errors.items():
            assert phrase in message, (args, name, message)

    # run passes the container's exit status through, as runc does
    bundle.set_args("sh", "-c", "exit 7")
    for name, rt in both.items():
        assert rt.run("run", "--bundle", bundle.path, rt.new_id(name[:2])).returncode == 7
