"""What a pull authenticates with (from the request's AuthConfig); kept apart from the registry
client so that the adapter imports httpx only when it first pulls."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    token: str = ""
