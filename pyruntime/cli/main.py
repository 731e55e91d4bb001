"""pyruntime's command line: global flags, dispatch to one module per verb, errors.

Every failure ends here as one line on stderr (``pyruntime: <what>``), the
same line as a ``level=error`` entry in --log, and exit status 1.
"""
from __future__ import annotations

import os
import sys

from pyruntime import log
from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import PyruntimeError, UsageError

GLOBAL_FLAGS = (
    Flag(("root",), "str", "", "state directory"),
    Flag(("log",), "str", "", "log file (default: stderr)"),
    Flag(("log-format",), "str", "text", "text or json"),
    Flag(("debug",), "bool", False, "log debug messages"),
    Flag(("systemd-cgroup",), "bool", False, "cgroupsPath is slice:prefix:name"),
    Flag(("rootless",), "str", "auto", "true, false or auto (an unprivileged caller)"),
    Flag(("criu",), "str", "criu", "accepted for compatibility"),
    Flag(("version", "v"), "bool", False, "print the version"),
    Flag(("help", "h"), "bool", False, "show help"),
)

VERBS = {
    "create": "create", "start": "start", "run": "run", "state": "state", "kill": "kill",
    "delete": "delete", "list": "list", "ps": "ps", "exec": "exec", "pause": "pause",
    "resume": "pause", "update": "update", "events": "events", "spec": "spec",
    "features": "features", "checkpoint": "unsupported", "restore": "unsupported", "trace": "trace",
}

USAGE = """usage: pyruntime [global options] COMMAND [options] ARGS

pyruntime is a runc-compatible OCI container runtime.

commands:
  create    create a container from a bundle (the process waits for start)
  start     run the program of a created container
  run       create and start a container
  state     print a container's state as JSON
  kill      send a signal to a container's init (or, with --all, every process)
  delete    remove a stopped container and everything it had
  list      list containers
  ps        list the processes of a container
  exec      run a new process in a running container
  pause     freeze every process of a container
  resume    thaw a paused container
  update    change a container's resource limits
  events    print a container's stats or OOM events
  spec      write a default config.json
  features  print what this runtime supports, as JSON
  trace     run a container under ptrace and write the seccomp profile it needs

global options:
  --root DIR            state directory (default /run/pyruntime; for an unprivileged
                        caller $XDG_RUNTIME_DIR/pyruntime)
  --rootless auto|true|false
                        a container may go without a cgroup the host does not
                        give it (auto: when not run as root)
  --log FILE            log file; --log-format text|json
  --debug               debug logging
  --systemd-cgroup      cgroupsPath uses the systemd slice:prefix:name form
"""


class Context:
    """Global options, shared by every verb."""

    def __init__(self, values: dict):
        self.root = values["root"] or default_root()
        self.systemd_cgroup = values["systemd_cgroup"]
        self.debug = values["debug"]
        self.rootless = values["rootless"]  # auto, true or false: see rootless_mode()

    def store(self):
        from pyruntime.state.store import Store
        return Store(self.root)


def default_root() -> str:
    """runc's rule: an unprivileged caller, or root of a user namespace (rootless podman)
    that is not the root user, keeps its state in its own runtime directory."""
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime_dir and (os.geteuid() != 0 or _root_of_a_user_namespace()):
        return os.path.join(runtime_dir, "pyruntime")
    return "/run/pyruntime"


def _root_of_a_user_namespace() -> bool:
    from pyruntime.cli.common import in_user_namespace
    return in_user_namespace() and os.environ.get("USER", "") != "root"


def version_text() -> str:
    from pyruntime import RUNC_COMPAT, SPEC_VERSION, __version__
    return (f"runc version {RUNC_COMPAT}\n"
            f"commit: pyruntime-{__version__}\n"
            f"spec: {SPEC_VERSION}\n"
            f"pyruntime: {__version__}\n"
            f"python: {sys.version.split()[0]}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        values, rest = parse(GLOBAL_FLAGS, argv)
        log.configure(values["log"], values["log_format"], values["debug"])
        if values["log_format"] not in ("text", "json"):
            raise UsageError(f"invalid log-format {values['log_format']!r}: text or json")
        if values["version"]:
            sys.stdout.write(version_text())
            return 0
        if values["help"] or not rest:
            sys.stdout.write(USAGE)
            return 0 if values["help"] else 1
        verb, args = rest[0], rest[1:]
        module_name = VERBS.get(verb)
        if module_name is None:
            err = UsageError(f"unknown command {verb!r} (see pyruntime --help)")
            err.exit_code = 3  # runc's (urfave/cli's) status for an unknown command
            raise err
        name = f"pyruntime.cli.verb_{module_name}"
        __import__(name)  # not importlib.import_module: importing importlib costs start-up time
        module = sys.modules[name]
        ctx = Context(values)
        log.debug(f"{verb} {' '.join(args)}")
        return module.run(ctx, verb, args)
    except PyruntimeError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted")
    except BrokenPipeError:  # our stdout was closed by the reader (e.g. `| head`)
        return 1
    except ImportError as exc:  # a compiled module that cannot be loaded (out of descriptors...)
        _debug_traceback(exc)
        return fail(f"loading {exc.name or 'a module'}: {exc}")
    except OSError as exc:  # a file operation no caller translated: still the path and the cause
        _debug_traceback(exc)
        from pyruntime.errors import describe_errno
        cause = describe_errno(exc.errno) if exc.errno else str(exc)
        return fail(f"{exc.filename}: {cause}" if exc.filename else cause)
    except Exception as exc:  # a bug: still one line, with the traceback in --debug logs
        _debug_traceback(exc)
        return fail(f"internal error: {type(exc).__name__}: {exc}")


def _debug_traceback(exc: BaseException) -> None:
    """The traceback, for --debug only: importing traceback can itself fail (out of
    descriptors), and the user's one line must come out whatever happened."""
    if log.debugging():
        try:
            import traceback
            log.debug("".join(traceback.format_exception(exc)))
        except Exception:  # noqa: BLE001 - the line below still says what went wrong
            pass


def fail(message: str, code: int = 1) -> int:
    for line in message.splitlines() or ["error"]:
        log.error(line)
    sys.stderr.write("".join(f"pyruntime: {line}\n" for line in message.splitlines()))
    sys.stderr.flush()
    return code


def entry() -> None:
    """The installed command: main(), then leave without the interpreter's teardown.

    Finalisation (module and object teardown) costs a short-lived command a
    few milliseconds and does nothing pyruntime needs: every file it writes is
    closed by then, log entries are written unbuffered, and no atexit hooks
    are registered. Only the standard streams are flushed.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # e.g. the reader of our stdout went away
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    entry()
