"""What entity rules are handed for one request: store, company, clock reading, config."""

from dataclasses import dataclass, field
from typing import Any

from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.store import Store


@dataclass
class Ctx:
    """One request's view of one company; `cache` holds read-time aggregates until a write."""

    store: Store
    realm: str
    now: int
    config: SandboxConfig
    cache: dict[str, Any] = field(default_factory=dict)
