"""Safe file access that every concern needs: a path resolved inside a root without leaving it
(``safepath``), and a private procfs instance checked to be procfs (``procfs``)."""
