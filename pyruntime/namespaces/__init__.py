"""Namespaces: which to create or join (plan), entering them, id maps, sysctl, loopback."""
