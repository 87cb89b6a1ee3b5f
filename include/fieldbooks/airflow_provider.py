"""fieldbooks as an Airflow provider: the `quickbooks` connection type and its form.

Registered by pyproject.toml's `[project.entry-points.apache_airflow_provider]`; Airflow's
ProvidersManager calls `get_provider_info` and reads the form from it (no hook import needed).
The extra fields are stored in the connection's extra JSON under their own names
(fieldbooks.qbo.connection reads them).
"""

from __future__ import annotations

from typing import Any

HOOK_CLASS = "fieldbooks.qbo.hook.QuickBooksHook"


def _text(label: str, description: str, secret: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if secret:
        schema["format"] = "password"  # masked in the form, redacted in logs
    return {"label": label, "schema": schema, "description": description}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "realm_id": _text("Realm ID (company id)", "The QuickBooks company's realmId."),
    "refresh_token": _text(
        "Refresh token",
        "Set by `fieldbooks connect`; the token store keeps the rotated ones after that.",
        secret=True,
    ),
    "environment": {
        "label": "Environment",
        "schema": {
            "type": ["string", "null"],
            "enum": ["production", "sandbox"],
            "default": "production",
        },
        "description": "Intuit's production or developer-sandbox endpoints.",
    },
    "discovery_url": _text(
        "OpenID discovery URL",
        "Where the OAuth endpoints are read from; empty: Intuit's for the environment.",
    ),
    "redirect_uri": _text(
        "Redirect URI", "As registered for the app in Intuit's developer portal."
    ),
    "webhook_verifier_token": _text(
        "Webhook verifier token",
        "Checks the intuit-signature of QuickBooks webhooks for this app.",
        secret=True,
    ),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {"login": "Client ID", "password": "Client secret", "host": "API base URL"},
    "placeholders": {
        "login": "the app's OAuth 2.0 client id",
        "host": "https://quickbooks.api.intuit.com (empty: from the environment)",
        "realm_id": "9130350000000001",
        "redirect_uri": "http://127.0.0.1:8910/callback",
    },
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads from the entry point."""
    return {
        "package-name": "fieldbooks",
        "name": "fieldbooks",
        "description": "QuickBooks Online connections for the fieldbooks sync.",
        "connection-types": [
            {
                "connection-type": "quickbooks",
                "hook-class-name": HOOK_CLASS,
                "hook-name": "QuickBooks Online",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
