"""Container lifecycle: create (parent, stage-1 child, init and their protocol), start, kill, delete."""
