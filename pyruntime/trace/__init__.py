"""`pyruntime trace`: run a container under ptrace and write the seccomp profile that allows exactly
the system calls it made (profile.py: pure; tracer.py: the ptrace loop, python-ptrace's bindings).
Imported by the trace verb only: nothing of it is on the container path of other verbs."""
