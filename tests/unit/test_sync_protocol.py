"""The parent/child protocol (lifecycle/sync.py) over a real socketpair, without root: the parent's
side of each create flow (``create._run_protocol``) against a child that plays its documented part
in a thread, the exec flow's messages, and what a wrong, failed or silent child gives the user."""
from __future__ import annotations

import os
import threading

import pytest

from pyruntime import log
from pyruntime.cgroups.layout import Layout
from pyruntime.cli.verb_spec import default_spec
from pyruntime.lifecycle import create, sync
from pyruntime.lifecycle.plan import CreateOptions, HostFacts, make_plan
from pyruntime.model import spec_from_dict

HOST = HostFacts(Layout("v2", {}, "/sys/fs/cgroup"), 40, systemd=True)


def plan(hooks: bool = False, systemd: bool = False):
    doc = default_spec()
    if hooks:
        doc["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    return make_plan(spec_from_dict(doc), CreateOptions(id="c1", bundle="/b", systemd_cgroup=systemd, console_provided=True), HOST)


class Manager:
    """The parent's cgroup manager, as far as the protocol sees it: it is told the init's pid."""

    def __init__(self):
        self.added = []

    def add(self, pid: int) -> None:
        self.added.append(pid)


def run_parent(p, child_part, stage1_pid: int = -1, kill_list=None, manager=None):
    """create's side against ``child_part(chan, seen)`` in a thread; (init pid or the error, what the
    child received)."""
    parent, child = sync.Channel.pair()
    seen = []

    def child_thread():
        try:
            child_part(child, seen)
        finally:
            child.close()
    thread = threading.Thread(target=child_thread)
    thread.start()
    try:
        result = create._run_protocol(p, manager, parent, stage1_pid, kill_list if kill_list is not None else [4242])
    except sync.ChildFailed as exc:
        result = exc
    finally:
        parent.close()
        thread.join(5)
    return result, seen


def test_direct_create_the_init_reports_ready():
    result, seen = run_parent(plan(), lambda chan, seen: chan.send(sync.Ready(("a warning",))))
    assert result == 4242 and seen == []  # the pid the parent cloned; nothing sent to a self-joining init


def test_stage1_create_reports_the_init_pid_and_hooks_run_between():
    def stage1_then_init(chan, seen):
        chan.send(sync.InitPid(777))
        chan.send(sync.Hooks())
        seen.append(chan.expect(sync.HooksDone))
        chan.send(sync.Ready())
    kill_list = [os.getpid()]  # stage 1's pid (reaped: not our child, so nothing to reap)
    result, seen = run_parent(plan(hooks=True), stage1_then_init, stage1_pid=os.getpid(), kill_list=kill_list)
    assert result == 777 and seen == [sync.HooksDone()]
    assert kill_list == [777]  # the init replaces stage 1 among what an undo kills


def test_an_init_not_joining_its_cgroup_waits_for_the_parent():
    def init(chan, seen):
        seen.append(chan.expect(sync.CgroupDone))
        chan.send(sync.Ready())
    p = plan(systemd=True)  # systemd puts the init in its unit, through the parent
    assert not p.cgroup_self_join
    manager = Manager()
    result, seen = run_parent(p, init, manager=manager)
    assert result == 4242 and seen == [sync.CgroupDone()] and manager.added == [4242]


@pytest.mark.parametrize("child, message", [
    (lambda chan, seen: chan.send(sync.Ready()), "protocol error: expected InitPid from stage-1 child, got Ready"),
    (lambda chan, seen: None, "stage-1 child exited before sending InitPid"),
    (lambda chan, seen: chan.send(sync.Error("mount /proc: permission denied")), "mount /proc: permission denied"),
])
def test_what_a_wrong_silent_or_failed_child_gives_the_user(child, message):
    result, _ = run_parent(plan(), child, stage1_pid=os.getpid(), kill_list=[os.getpid()])
    assert isinstance(result, sync.ChildFailed) and str(result) == message


def test_exec_flow_messages_round_trip():
    parent, child = sync.Channel.pair()
    try:
        child.send(sync.InitPid(99))
        assert parent.expect(sync.InitPid, who="exec child") == sync.InitPid(99)
        parent.send(sync.CgroupDone(99))
        assert child.expect(sync.CgroupDone).pid == 99
        child.send(sync.Ready(("w",)))
        assert parent.expect(sync.Ready).warnings == ("w",)
    finally:
        parent.close()
        child.close()


def test_sending_to_a_child_that_said_why_it_left_raises_its_reason():
    parent, child = sync.Channel.pair()
    child.send(sync.Error("no such file: /bin/sh"))
    child.close()
    try:
        with pytest.raises(sync.ChildFailed, match="no such file: /bin/sh"):
            parent.send(sync.Created())
    finally:
        parent.close()


def test_the_parent_logs_each_message_under_debug(tmp_path):
    path = tmp_path / "log.json"
    log.configure(str(path), "json", debug=True)
    try:
        def init(chan, seen):
            seen.append(chan.expect(sync.CgroupDone))
            chan.send(sync.Ready())
        run_parent(plan(systemd=True), init, manager=Manager())
    finally:
        log.close_file()
        log.configure("", "text", debug=False)
    text = path.read_text()
    assert "sync: sent CgroupDone(pid=0)" in text and "sync: received Ready(warnings=())" in text
