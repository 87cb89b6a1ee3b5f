"""The shared objects of one running emulator, hung on `app.state.sandbox`."""

from dataclasses import dataclass

from qbo_sandbox.clock import SandboxClock
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.limits import Limiter
from qbo_sandbox.store import Store


@dataclass
class SandboxState:
    """Config, store, clock and throttle of one emulator instance."""

    config: SandboxConfig
    store: Store
    clock: SandboxClock
    limiter: Limiter
