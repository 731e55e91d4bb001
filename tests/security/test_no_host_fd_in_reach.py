"""No runtime process a container can reach holds a descriptor of a host file or directory
of the runtime's own (the code file, --log, the state or a cgroup directory).

A container granted CAP_SYS_PTRACE may open /proc/<pid>/fd/N of any process in its pid
namespace, non-dumpable or not: it could reopen the runtime's code file for writing, or
walk up from a directory (/proc/1/fd/N/../../..) into the host. The runtime processes it
can see are the created init (until start) and exec's process (until it execs).
"""
from __future__ import annotations

import os

from helpers import execs_under_watch

# A directory fd is a way out unless it is the very directory the container itself sees at
# that path (exec's process holds the container's own "/" while it resolves its cwd: harmless,
# `..` stops at the container's root); a host directory shows a path the container lacks.
PROBE = r"""
for f in /proc/$1/fd/*; do
  t=$(readlink $f 2>/dev/null) || continue
  if [ -d $f/ ]; then
    here=$(stat -L -c %d:%i $f/ 2>/dev/null) && [ "$here" != "$(stat -c %d:%i "$t/" 2>/dev/null)" ] \
      && echo "DIR $f -> $t"
  fi
  case "$t" in *.marshal*|*pyruntime.log*|*/cgroup*) echo "HOST $f -> $t";; esac
done
"""


def with_ptrace(bundle):
    def grant(c):
        for which in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][which].append("CAP_SYS_PTRACE")
    bundle.edit(grant)


def test_created_init_holds_nothing_of_the_host(runtime, bundle):
    with_ptrace(bundle)
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    listing = runtime.output("exec", cid, "sh", "-c", "ls -l /proc/1/fd/")
    assert "exec.fifo" in listing, listing  # the probe can see the init's fds
    out = runtime.output("exec", cid, "sh", "-c", PROBE, "probe", "1")
    assert out == "", f"{out}\nall fds of the init:\n{listing}"


def test_exec_process_holds_nothing_of_the_host(runtime, bundle):
    """A watcher in the container looks at every process's fds while execs come and go."""
    with_ptrace(bundle)
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    watcher = ("end=$(( $(date +%s) + 5 )); while [ $(date +%s) -lt $end ]; do "
               "for p in /proc/[0-9]*; do sh /probe.sh ${p#/proc/}; done; done; echo watcher-done")
    with open(os.path.join(bundle.rootfs, "probe.sh"), "w") as f:
        f.write(PROBE)
    execs, report = execs_under_watch(runtime, bundle, cid, watcher, 4)
    assert "watcher-done" in report and execs > 10
    assert report.strip() == "watcher-done", report
