"""The line a runtime process crosses on its way into a container, drawn in one place.

Every forked child of the runtime (stage 1, the init, exec's process) ends up
in a container's namespaces: in its mount namespace every path, the runtime's
``sys.path`` included, is the image's, and in its pid namespace the
container can look at the child through /proc. So a child, from the moment
it is forked (``cross``):

- imports nothing. Any import would search the container's filesystem and run
  the image's copy of a module as root with every capability, before seccomp
  and no_new_privs. What a child can need is imported before the fork
  (``preload_for_init``/``preload_for_exec``); a guard first on
  ``sys.meta_path`` turns a missed one into a loud error instead of a search.
  Modules compiled into the interpreter (builtin, frozen) involve no file and
  are let through.
- holds no descriptor of a host file or directory the runtime keeps for
  itself (the code file, ``--log``): with CAP_SYS_PTRACE a container reopens
  those through /proc/<pid>/fd, for writing, or walks up from a directory.
  The descriptors a child is given for its work (the cgroup directory it is
  cloned into, the rootfs before pivot_root) are closed as soon as that work
  is done, before the container can run anything; what the init keeps until
  start (exec.fifo, O_PATH) is no directory.
"""
from __future__ import annotations

import sys

import _frozen_importlib

from pyruntime import log
from pyruntime.startup import codeblob


class ImportRefused(ImportError):
    """An import attempted after the process crossed into a container."""


class _RefuseImports:
    """First on ``sys.meta_path`` of a child: refuses every import that would read a file."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name in sys.builtin_module_names or _frozen_importlib.FrozenImporter.find_spec(name):
            return None  # part of the interpreter's own executable
        raise ImportRefused(f"import of {name} refused: the runtime has entered the container "
                            "(it must be imported before the fork)", name=name)

    @staticmethod
    def invalidate_caches() -> None:
        pass


def cross() -> None:
    """Called first in every forked child of the runtime."""
    if _RefuseImports not in sys.meta_path:
        sys.meta_path.insert(0, _RefuseImports)
    codeblob.close()
    log.close_file()


def crossed() -> bool:
    return _RefuseImports in sys.meta_path


def _process_needs(pp) -> list[str]:
    """Modules the last steps of a container process (init or exec) need for its plan."""
    seccomp, process = pp.seccomp, pp.process
    needs = []
    if process.terminal or (seccomp is not None and seccomp.listener_path):
        needs.append("pyruntime.process.console")  # and fdpass: the pty master, the notify fd
    if seccomp is not None:
        needs += ["pyruntime.seccomp.load", "pyruntime.seccomp.notify"]
    if process.apparmor_profile or process.selinux_label or process.oom_score_adj is not None:
        needs.append("pyruntime.safefs.procfs")  # written through a private procfs
    return needs


def preload_for_init(plan) -> None:
    """Import, in the parent before fork, what this config needs later in the init."""
    needs = _process_needs(plan.process)
    hooks = plan.hooks
    if hooks.create_container or hooks.start_container:
        needs += ["subprocess", "pyruntime.process.hooks"]
    if plan.ns.creates("network"):
        needs.append("pyruntime.namespaces.loopback")
    if plan.sysctl:
        needs += ["pyruntime.namespaces.sysctl", "pyruntime.safefs.procfs"]
    options = [step.o for step in plan.mounts if getattr(step, "o", None) is not None]
    if any(o.tmpcopyup for o in options):
        needs.append("pyruntime.rootfs.copyup")
    if any(o.idmap for o in options):
        needs.append("pyruntime.rootfs.idmap")
    _import_all(needs)


def preload_for_exec(pp) -> None:
    """Import, in the parent before fork, what exec's process needs once it joined the container."""
    _import_all(_process_needs(pp))


def _import_all(names: list[str]) -> None:
    for name in names:
        __import__(name)
