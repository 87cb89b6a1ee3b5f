"""fieldbooks' sync-status page inside the Airflow UI: a FastAPI app on the api-server and
its entry in the UI's navigation. The figures and the HTML are fieldbooks.status's; this file
only wires them to Airflow (who the caller is, what they may do, triggering the retry DAG).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

URL_PREFIX = "/fieldbooks/status"
RETRY_DAG_ID = "fieldbooks_retry_issues"

app = FastAPI(title="fieldbooks sync status", docs_url=None, redoc_url=None, openapi_url=None)
_bearer = HTTPBearer(auto_error=False)
_cache: Any = None


class _NotSignedIn(Exception):
    """The caller has no valid Airflow token."""


async def _user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """The Airflow user of the request (its bearer token, else the UI's token cookie)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import HTTPException

    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        raise _NotSignedIn(str(exc.detail)) from exc


@app.exception_handler(_NotSignedIn)
async def _sign_in(request: Request, exc: _NotSignedIn) -> Response:
    """Send a person to Airflow's login, and back here after it."""
    from airflow.api_fastapi.app import get_auth_manager

    if request.method == "GET":
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return HTMLResponse(f"<p>Sign in to Airflow first ({exc}).</p>", status_code=401)


def _csrf_secret() -> str:
    from airflow.configuration import conf

    return conf.get("api_auth", "jwt_secret", fallback="") or conf.get(
        "api", "secret_key", fallback="fieldbooks"
    )


def _statuses() -> list:
    """Every company's figures (cached; never waits on a sync)."""
    global _cache
    from fieldbooks.status import StatusCache, load_company_refs

    if _cache is None:
        _cache = StatusCache()
    return [_cache.status(company) for company in load_company_refs()]


def _page(user: Any, notice: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    from fieldbooks.status import csrf_token, render_page

    try:
        statuses = _statuses()
    except Exception as exc:  # a broken companies file: say so on the page
        statuses, notice = [], {"error": f"Cannot read the companies: {exc}"}
    html = render_page(statuses, csrf_token(_csrf_secret(), user.get_name()), notice)
    return HTMLResponse(html, status_code=status_code)


@app.get("/", response_class=HTMLResponse)
def page(
    user: Annotated[Any, Depends(_user)], retried: str = "", company: str = ""
) -> HTMLResponse:
    """The status page; after a Retry, it names the run it started."""
    notice = {"run_id": retried, "company": company} if retried else None
    return _page(user, notice)


def _may_trigger(user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    return get_auth_manager().is_authorized_dag(
        method="POST",
        access_entity=DagAccessEntity.RUN,
        details=DagDetails(id=RETRY_DAG_ID),
        user=user,
    )


def _trigger(conf: dict, user: Any) -> str:
    """Start a run of the retry DAG with this conf as the user; return its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    run = trigger_dag(
        RETRY_DAG_ID,
        triggered_by=DagRunTriggeredByType.UI,
        triggering_user_name=user.get_name(),
        conf=conf,
    )
    if run is None:
        raise RuntimeError(f"{RETRY_DAG_ID} started no run")
    return run.run_id


@app.post("/retry", response_class=HTMLResponse)
def retry(
    user: Annotated[Any, Depends(_user)],
    company: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    issue_id: Annotated[list[str] | None, Form()] = None,
    kind: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Trigger fieldbooks_retry_issues for the issues (or kinds) of one company."""
    from fieldbooks.status import csrf_ok, load_company_refs, retry_conf

    if not csrf_ok(_csrf_secret(), user.get_name(), csrf):
        return _page(user, {"error": "The form expired; reload the page and retry."}, 403)
    if not _may_trigger(user):
        return _page(user, {"error": f"You may not trigger {RETRY_DAG_ID}."}, 403)
    if company not in {c.key for c in load_company_refs()}:
        return _page(user, {"error": f"No company {company!r}."}, 400)
    try:
        conf = retry_conf(company, issue_id, kind)
        run_id = _trigger(conf, user)
    except Exception as exc:  # shown to the person, who can act on it (DAG not deployed...)
        return _page(user, {"error": f"Retry not started: {exc}"}, 400)
    # POST-redirect-GET: reloading the page does not trigger the DAG again
    query = urlencode({"retried": run_id, "company": company})
    return RedirectResponse(f"./?{query}", status_code=303)


class FieldbooksStatusPlugin(AirflowPlugin):
    """The sync-status page, a top-level entry of the Airflow UI's navigation."""

    name = "fieldbooks_status"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "fieldbooks sync status"}]
    external_views = [
        {
            "name": "Sync status",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "nav_top_level": True,
            "url_route": "fieldbooks-status",
        }
    ]
