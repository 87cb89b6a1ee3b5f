"""`QuickBooksHook`: the Airflow hook of connection type `quickbooks` (one QuickBooks company).

    from fieldbooks.qbo.hook import QuickBooksHook

    client = QuickBooksHook("fieldbooks_qbo_acme").get_client()   # python-quickbooks, paced

The token refresh goes through fieldbooks.qbo.client.open_client: serialised per company, the
rotated refresh token stored before use. The connection form (fields, labels, hidden fields)
is declared in fieldbooks.airflow_provider, as Airflow 3.2+ reads it without importing this.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from fieldbooks.config import QboSettings
from fieldbooks.qbo.pacing import Limits
from fieldbooks.qbo.tokens import TokenStore


class QuickBooksHook(BaseHook):
    """One QuickBooks Online company, reached through its `quickbooks` Airflow connection."""

    conn_name_attr = "qbo_conn_id"
    default_conn_name = "fieldbooks_qbo_default"
    conn_type = "quickbooks"
    hook_name = "QuickBooks Online"

    def __init__(
        self,
        qbo_conn_id: str = default_conn_name,
        token_store: Path | TokenStore | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__()
        self.qbo_conn_id = qbo_conn_id
        self.token_store = token_store
        self.limits = limits

    def get_settings(self) -> QboSettings:
        """The connection as QboSettings (limits from FIELDBOOKS_QBO_* unless given)."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        from fieldbooks.config import _limits
        from fieldbooks.qbo.connection import get_airflow_connection, parse_connection

        # the SDK's lookup, plus the metadata DB when run outside a task (the command line)
        conn = get_airflow_connection(self.qbo_conn_id)
        if conn is None:
            raise AirflowNotFoundException(f"The conn_id `{self.qbo_conn_id}` isn't defined")
        limits = self.limits if self.limits is not None else _limits(dict(os.environ))
        return parse_connection(conn).qbo_settings(limits)

    def _store(self) -> Path | TokenStore:
        if self.token_store is not None:
            return self.token_store
        from fieldbooks.config import load_settings

        return load_settings().token_store

    def get_client(self) -> Any:
        """A python-quickbooks client with a fresh access token (client.open_client)."""
        from fieldbooks.qbo.client import open_client

        return open_client(self.get_settings(), self._store())

    def get_conn(self) -> Any:
        """The client (Airflow's generic name for it)."""
        return self.get_client()

    def test_connection(self) -> tuple[bool, str]:
        """Check the fields and the discovery document, without refreshing: a refresh rotates
        the token, and this runs on the API server, which may not share the workers' store."""
        import requests

        try:
            settings = self.get_settings()
            answer = requests.get(settings.discovery_url, timeout=10)
            answer.raise_for_status()
            answer.json()["token_endpoint"]
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, (
            f"company {settings.realm_id}: fields complete, discovery document reachable "
            "(the refresh token is tried by the next sync)"
        )
