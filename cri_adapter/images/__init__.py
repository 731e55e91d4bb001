"""Images: references, a registry client, a content-addressed store and a safe layer unpacker."""
