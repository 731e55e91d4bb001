"""pyruntime: a runc-compatible OCI container runtime written in Python."""

__version__ = "0.1.0"
# The runtime-spec version this runtime implements and writes into state.
SPEC_VERSION = "1.3.0"
# The runc version whose CLI and output we match; go-runc parses it from --version.
RUNC_COMPAT = "1.1.12"
