"""Settings of one emulator instance; every figure QBO_FACTS calls uncertain is a field here.

Throttling (`requests_per_minute`, `batch_requests_per_minute`, `max_concurrent_requests`,
`report_requests_per_minute`) is off unless a limit is set; QuickBooks' own figures are
500, 40, 10 and 200 (`QBO_LIMITS`). Fault injection is off unless a plan is given, and
webhooks are off unless a URL is given. Limits and the fault plan can also be changed while
the emulator runs (`/_sandbox/limits`, `/_sandbox/faults`).
"""

from dataclasses import dataclass
from typing import Any

DEFAULT_CLIENT_ID = "fieldbooks-demo"
DEFAULT_CLIENT_SECRET = "fieldbooks-demo-secret"
DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
# QuickBooks Online's documented limits per company (QBO_FACTS "Limits and throttling").
QBO_LIMITS = {
    "requests_per_minute": 500,
    "batch_requests_per_minute": 40,
    "max_concurrent_requests": 10,
    "report_requests_per_minute": 200,
}
LIMIT_FIELDS = (*QBO_LIMITS, "throttle_window_seconds")
WEBHOOK_FORMATS = ("classic", "cloudevents", "both")


@dataclass
class SandboxConfig:
    """Everything an emulator instance can be told; defaults follow QBO_FACTS."""

    db_path: str = "qbo_sandbox.sqlite3"  # ":memory:" keeps state in memory only
    demo: bool = False
    # The empty-company fixture (realm demo_company.EMPTY_REALM_ID).
    empty_company: bool = False

    # OAuth
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 100 * 86400
    # Intuit changes the refresh token's value about once a day; None never rotates it.
    refresh_token_rotate_seconds: int | None = 86400
    # How long a rotated-out refresh token keeps working (Intuit: "within 24 h").
    rotated_refresh_token_grace_seconds: int = 0
    authorization_code_ttl_seconds: int = 600

    # Times are shown in the company's fixed offset, like QBO's Pacific-time stamps.
    company_utc_offset_minutes: int = -480

    # Validation switches
    duplicate_doc_number_check: bool = True
    duplicate_doc_number_code: str = "6140"  # some Intuit pages say 6210
    # QBO answers a reference to a missing or inactive object with 610 or 2500 depending on
    # the entity; the brief settled on 6000 with a clear message.
    invalid_reference_code: str = "6000"

    # Query, CDC, batch, idempotency
    query_default_max_results: int = 100
    query_max_results: int = 1000
    cdc_window_days: int = 30
    cdc_max_objects: int = 1000
    batch_max_items: int = 30
    request_id_ttl_seconds: int = 86400

    # Throttling: None means unlimited. The window is a minute in QuickBooks; tests shrink it.
    requests_per_minute: int | None = None
    batch_requests_per_minute: int | None = None
    max_concurrent_requests: int | None = None
    report_requests_per_minute: int | None = None
    throttle_window_seconds: float = 60.0

    # Fault injection: a plan as injection.FaultPlan reads it ({"seed": .., "rules": [..]}).
    fault_plan: dict[str, Any] | None = None

    # Outgoing webhooks (off without a URL).
    webhook_url: str | None = None
    webhook_verifier_token: str = "sandbox-verifier-token"
    webhook_format: str = "classic"  # classic | cloudevents | both
    # Changes are gathered this long and sent together, as Intuit batches them.
    webhook_batch_seconds: float = 1.0
    webhook_timeout_seconds: float = 3.0
    # Waits before each retry of a failed delivery; Intuit keeps retrying for hours.
    webhook_retry_delays_seconds: tuple[float, ...] = (1.0, 10.0, 60.0, 300.0)

    access_log: bool = False
