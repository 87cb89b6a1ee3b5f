"""The shared objects of one running emulator, hung on `app.state.sandbox`."""

from dataclasses import dataclass

from qbo_sandbox.clock import SandboxClock
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.injection import FaultPlan
from qbo_sandbox.limits import Limiter
from qbo_sandbox.store import Store
from qbo_sandbox.webhooks import WebhookDispatcher


@dataclass
class SandboxState:
    """Config, store, clock, throttle, fault plan and webhook sender of one instance."""

    config: SandboxConfig
    store: Store
    clock: SandboxClock
    limiter: Limiter
    faults: FaultPlan
    webhooks: WebhookDispatcher
