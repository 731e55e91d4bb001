"""Thin typed wrappers over the kernel calls pyruntime makes.

One function per call; each raises ``SyscallError(call, errno, path)`` on
failure and returns plain Python values. Modules by area: ``ns`` (namespaces),
``mount`` (old and new mount API), ``fd`` (openat2, close_range, memfd,
sockets), ``proc`` (prctl, capabilities, scheduling, identity), all over the
compiled cffi module through ``call``; and ``pidfd``, over the interpreter's
own bindings, so the verbs that only signal or release a container (start,
kill, delete) never load the cffi module.
"""
