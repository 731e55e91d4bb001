"""Running lifecycle hooks (runtime-spec config.md, POSIX-platform Hooks).

Each hook gets the container state JSON on stdin, exactly its own argv and
env (nothing inherited), and is killed after ``timeout`` seconds. What a
failure means depends on the step and is decided by the caller.
"""
from __future__ import annotations

from pyruntime.errors import HookError, describe_errno
from pyruntime.model.config import Hook

# spec step name as it appears in config.json, for messages
NAMES = {"prestart": "prestart", "create_runtime": "createRuntime",
         "create_container": "createContainer", "start_container": "startContainer",
         "poststart": "poststart", "poststop": "poststop"}


def run_one(hook: Hook, state_json: bytes, step: str, index: int) -> None:
    import subprocess
    argv = list(hook.args) or [hook.path]
    where = f"hooks.{NAMES[step]}[{index}] {hook.path}"
    try:
        proc = subprocess.run(argv, executable=hook.path, input=state_json, env=_env(hook.env),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=hook.timeout,
                              close_fds=True)
    except subprocess.TimeoutExpired:
        raise HookError(f"{where}: timed out after {hook.timeout}s") from None
    except OSError as exc:
        raise HookError(f"{where}: cannot run: {describe_errno(exc.errno)}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        status = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise HookError(f"{where}: {status}" + (f": {detail[-1]}" if detail else ""))


def run_all(hooks: tuple[Hook, ...], state_json: bytes, step: str) -> None:
    for i, hook in enumerate(hooks):
        run_one(hook, state_json, step, i)


def run_all_warn(hooks: tuple[Hook, ...], state_json: bytes, step: str, warn) -> None:
    """poststop: a failure is logged and the remaining hooks still run."""
    for i, hook in enumerate(hooks):
        try:
            run_one(hook, state_json, step, i)
        except HookError as exc:
            warn(str(exc))


def _env(entries: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        env[key] = value
    return env
