"""containerd-shim-pyruntime-v2: containerd's per-pod task monitor, with pyruntime in-process.

containerd's own runc shim runs the runtime's CLI for every step: a stopped container costs
`kill`, `kill --all` twice, `delete` and `delete --force`, five interpreter start-ups for
pyruntime. This shim serves the same task API (shim v2 over ttrpc) and calls pyruntime's
lifecycle in its own process for start, kill, delete, state, pids and stats; create and exec,
which fork a container process, still run the CLI.
"""
