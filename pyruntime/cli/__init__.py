"""The runc-compatible command line: ``main`` dispatches to one ``verb_*`` module per command."""
