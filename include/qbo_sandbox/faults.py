"""QuickBooks faults: the error the emulator raises and the JSON body it answers with."""

from typing import Any

# QBO names whoever won an edit race; the emulator has no users, so it names this one.
STALE_USER = "Sandbox User"


class QboError(Exception):
    """One QuickBooks error, answered as a Fault body (HTTP 400 unless told otherwise)."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict[str, Any]:
        """The `Fault` object QBO returns for this error."""
        return {
            "Error": [
                {
                    "Message": self.message,
                    "Detail": self.detail,
                    "code": self.code,
                    "element": self.element,
                }
            ],
            "type": self.fault_type,
        }


def not_found(entity: str, object_id: str) -> QboError:
    """610: the object does not exist or was deleted."""
    return QboError(
        "610",
        "Object Not Found",
        f"Object Not Found : Another user has deleted this transaction. ({entity} Id={object_id})",
    )


def stale_object() -> QboError:
    """5010: the SyncToken sent is not the current one."""
    return QboError(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {STALE_USER} were working on this at the same time. "
        f"{STALE_USER} finished before you did, so your work was not saved.",
    )


def required(element: str) -> QboError:
    """2020: a required field was not sent."""
    return QboError(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_property(detail: str, element: str = "") -> QboError:
    """2010: a field has a value of the wrong kind."""
    return QboError("2010", "Request has invalid or unsupported property", detail, element=element)


def business(detail: str, element: str = "") -> QboError:
    """6000: a business rule refused the request."""
    return QboError(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def invalid_reference(code: str, detail: str, element: str) -> QboError:
    """A reference to a missing or inactive object (code configurable, see SandboxConfig)."""
    if code == "610":
        return QboError("610", "Object Not Found", f"Object Not Found : {detail}", element)
    if code == "2500":
        return QboError("2500", "Invalid Reference Id", f"Invalid Reference Id : {detail}", element)
    return QboError(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def duplicate_name(detail: str) -> QboError:
    """6240: DisplayName or Name already used."""
    return QboError(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : {detail}",
    )


def duplicate_doc_number(
    code: str, doc_number: str, txn_id: str, txn_type: str = "Invoice"
) -> QboError:
    """6140 (or 6210): DocNumber already used by another document of the same kind."""
    return QboError(
        code,
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number "
        f"has already been used. DocNumber={doc_number} is assigned to TxnType={txn_type} "
        f"with TxnId={txn_id}",
        element="DocNumber",
    )


def unsupported(detail: str) -> QboError:
    """500: the operation is not offered for this entity."""
    return QboError("500", "Unsupported Operation", detail)


def query_parse(detail: str) -> QboError:
    """4000: the query text could not be parsed."""
    return QboError("4000", "Error parsing query", f"QueryParserError: {detail}")


def authentication_failed(detail: str) -> QboError:
    """3200: missing, unknown or expired access token (HTTP 401)."""
    return QboError(
        "3200",
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        detail,
        status=401,
        fault_type="AUTHENTICATION",
    )


THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; '
    "errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  "
    "Try again later</Detail></Error></Fault>"
)
