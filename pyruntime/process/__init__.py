"""The container process: identity, capabilities, rlimits, attributes, terminal, hooks."""
