"""QuickBooks failures are classified once, by code and shape, not by the caller."""

from __future__ import annotations

import pytest
import requests
from quickbooks import exceptions as qbe

from fieldbooks.errors import ErrorClass, classify_qbo_error, issue_kind_for

THROTTLE_XML = (
    '<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; '
    "statusCode=429</Message><Detail>The request limit was reached.</Detail></Error></Fault>"
)


@pytest.mark.parametrize(
    ("exc", "expected", "kind"),
    [
        (qbe.QuickbooksException("Stale Object Error", 5010), ErrorClass.CONFLICT, "stale_object"),
        (
            qbe.QuickbooksException("Duplicate Name Exists Error", 6240),
            ErrorClass.DATA,
            "duplicate_name",
        ),
        (qbe.QuickbooksException("Deposited", 6540), ErrorClass.DATA, "deposited_payment_edit"),
        (
            qbe.QuickbooksException("Duplicate Document Number Error", 6140),
            ErrorClass.DATA,
            "duplicate_doc_number",
        ),
        (qbe.AuthorizationException("AuthenticationFailed", 3200), ErrorClass.AUTH, "auth_failed"),
        (
            qbe.ValidationException("Required param missing", 2020),
            ErrorClass.DATA,
            "rejected_by_quickbooks",
        ),
        (
            qbe.QuickbooksException(f"Error reading json response: {THROTTLE_XML}", 10000),
            ErrorClass.TRANSIENT,
            "throttled",
        ),
        (requests.ConnectionError("refused"), ErrorClass.TRANSIENT, "quickbooks_unavailable"),
        (requests.exceptions.ReadTimeout("no answer"), ErrorClass.TRANSIENT, "no_answer"),
        (
            qbe.ValidationException("ApplicationAuthorizationFailed", 3100),
            ErrorClass.AUTH,
            "permission_denied",
        ),
        (
            qbe.QuickbooksException("Invalid Company Status", 6190),
            ErrorClass.AUTH,
            "company_unavailable",
        ),
    ],
)
def test_each_failure_gets_its_class_and_issue_kind(exc, expected, kind):
    assert classify_qbo_error(exc) is expected
    assert issue_kind_for(exc) == kind
