"""The container's mount tree: safe path resolution, the mount plan and its executor, pivot_root."""
