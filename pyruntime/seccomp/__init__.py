"""linux.seccomp: compiled to BPF with the system libseccomp in the parent
(``compile``), loaded with seccomp(2) by the container process (``load``),
and for SCMP_ACT_NOTIFY the listener fd handed to ``listenerPath`` (``notify``).
"""
