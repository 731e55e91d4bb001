"""Start-up machinery: what makes a short-lived command cheap to start. Imports nothing.

- ``codeblob``: every module's compiled code in one file made at install, served to the
  import system (and each dataclass's compiled ``__init__``);
- ``dataclass``: a lean ``@dataclass`` (the part of the standard module pyruntime uses);
- ``fastjson``: JSON without the ``json`` package's import cost.

``dataclass`` and ``fastjson`` import nothing of pyruntime; ``codeblob`` tells
``dataclass`` where compiled ``__init__`` methods are when it installs (no import loop).
"""
