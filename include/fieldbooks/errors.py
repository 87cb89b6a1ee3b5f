"""Errors classified once: every caller decides from the class, never from a message string."""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    """What kind of failure this is, and so what to do about it."""

    TRANSIENT = "transient"  # retry now, with backoff: throttling, timeouts, 5xx
    CONFLICT = "conflict"  # someone changed it first: re-read, decide by policy, retry
    DATA = "data"  # this record cannot be written as it is: raise an issue
    CONFIG = "config"  # a mapping or setting is wrong: raise an issue naming it
    AUTH = "auth"  # the company must be reconnected: stop writing to it


# QuickBooks fault codes by class (QBO_FACTS.md, "Optimistic concurrency and errors").
_CODE_CLASSES = {
    610: ErrorClass.DATA,
    2020: ErrorClass.DATA,
    3100: ErrorClass.AUTH,  # ApplicationAuthorizationFailed (HTTP 403): no permission
    3200: ErrorClass.AUTH,
    4000: ErrorClass.DATA,
    5010: ErrorClass.CONFLICT,
    6000: ErrorClass.DATA,
    6140: ErrorClass.DATA,
    6210: ErrorClass.DATA,
    6240: ErrorClass.DATA,
    6540: ErrorClass.DATA,
    6190: ErrorClass.AUTH,  # Invalid Company Status: the subscription ended or is suspended
}

# The issue kind recorded for a fault code (DESIGN.md, sync_issues.kind).
ISSUE_KINDS = {
    5010: "stale_object",
    6140: "duplicate_doc_number",
    6210: "duplicate_doc_number",
    6240: "duplicate_name",
    6540: "deposited_payment_edit",
    3200: "auth_failed",
    3100: "permission_denied",
    6190: "company_unavailable",
}


def classify_qbo_error(exc: BaseException) -> ErrorClass:
    """Classify an exception raised while talking to QuickBooks."""
    import requests
    from quickbooks import exceptions as qbe

    if isinstance(exc, requests.RequestException):
        return ErrorClass.TRANSIENT
    if isinstance(exc, qbe.AuthorizationException):
        return ErrorClass.AUTH
    if isinstance(exc, qbe.QuickbooksException):
        code = _int_code(exc)
        if code in _CODE_CLASSES:
            return _CODE_CLASSES[code]
        text = f"{exc.message} {getattr(exc, 'detail', '')}"
        # A 429 answers in XML, which python-quickbooks reports as code 10000.
        if code == 10000 and ("ThrottleExceeded" in text or "statusCode=429" in text):
            return ErrorClass.TRANSIENT
        if code == 10000 and ("status code '5" in text or "Error reading json" in text):
            return ErrorClass.TRANSIENT
        if 1 <= code < 500:
            return ErrorClass.AUTH
        return ErrorClass.DATA
    return (
        ErrorClass.TRANSIENT if isinstance(exc, TimeoutError | ConnectionError) else ErrorClass.DATA
    )


def _int_code(exc: BaseException) -> int:
    """The QuickBooks error code of an exception, 0 when it has none."""
    try:
        return int(getattr(exc, "error_code", 0) or 0)
    except (TypeError, ValueError):
        return 0


def is_in_doubt(exc: BaseException) -> bool:
    """Whether a write may have happened although no answer came: the request went out and
    the answer timed out (a refused or reset connection before sending is no doubt)."""
    import requests

    return isinstance(exc, requests.exceptions.ReadTimeout)


def issue_kind_for(exc: BaseException) -> str:
    """The sync_issues kind for a failed QuickBooks write."""
    if is_in_doubt(exc):
        return "no_answer"
    code = _int_code(exc)
    if code in ISSUE_KINDS:
        return ISSUE_KINDS[code]
    cls = classify_qbo_error(exc)
    if cls is ErrorClass.TRANSIENT:
        text = f"{getattr(exc, 'message', exc)} {getattr(exc, 'detail', '')}"
        throttled = "ThrottleExceeded" in text or "statusCode=429" in text
        return "throttled" if throttled else "quickbooks_unavailable"
    return {ErrorClass.AUTH: "auth_failed"}.get(cls, "rejected_by_quickbooks")


# What a person can do, by issue kind; the class's generic hint applies otherwise.
ISSUE_HINTS = {
    "duplicate_name": (
        "A customer, vendor or employee in QuickBooks (perhaps an inactive one) already has "
        "this name: rename one of them, or reactivate it so fieldbooks links to it."
    ),
    "duplicate_doc_number": (
        "Another QuickBooks transaction already uses this number: renumber one of them."
    ),
    "deposited_payment_edit": (
        "The payment is deposited in QuickBooks and its amount cannot change: receive "
        "another payment or issue a refund instead."
    ),
    "stale_object": "Someone edited the record in QuickBooks meanwhile; the next run re-reads it.",
    "permission_denied": (
        "The QuickBooks user fieldbooks connected as may not do this: reconnect the company "
        "(fieldbooks connect) as a company admin; nothing is lost, the next run retries it."
    ),
    "company_unavailable": (
        "The QuickBooks company cannot take writes (its subscription ended or is "
        "suspended): renew it in QuickBooks; nothing is lost, the next run retries it."
    ),
    "no_answer": (
        "QuickBooks did not answer in time, so the write may have happened. Nothing to do: "
        "once QuickBooks' own timeout has passed, the next run looks the record up by its "
        "marker and sends it only if it is not there."
    ),
}
