"""The QuickBooks webhook receiver, served by the Airflow api-server at
`POST /webhooks/quickbooks` (see fieldbooks.webhooks).

Importing this file builds the FastAPI app only: no database, connection or file is read
until the first notification arrives, so every Airflow component can load the plugin.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from fieldbooks.webhooks import create_app

URL_PREFIX = "/webhooks"


class FieldbooksWebhooksPlugin(AirflowPlugin):
    """Mounts the receiver on the api-server."""

    name = "fieldbooks_webhooks"
    fastapi_apps = [
        {
            "app": create_app(),
            "url_prefix": URL_PREFIX,
            "name": "fieldbooks QuickBooks webhooks",
        }
    ]
