"""Modules generated from spec/shim/*.proto by install.sh (grpcio-tools); never committed."""
