"""The QuickBooks webhook receiver, served by the Airflow api-server at
`POST /webhooks/quickbooks` (see fieldbooks.webhooks).

Importing this file builds the FastAPI app only: no database, connection or file is read
until the first notification arrives, so every Airflow component can load the plugin. The
FIELDBOOKS_WEBHOOK_* settings are read here, though: a bad one (a retention of 0 days, say)
fails the import with a message naming the variable, and Airflow lists it among the plugin
import errors rather than serve a receiver that would misbehave.
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
