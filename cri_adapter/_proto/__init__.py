"""Modules generated from spec/cri.proto by install.sh (grpcio-tools); never committed."""
