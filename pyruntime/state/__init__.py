"""State on disk: one locked directory per container, status, and /proc facts about pids."""
