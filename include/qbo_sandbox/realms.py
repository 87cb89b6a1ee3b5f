"""Companies (realms): the demo and empty fixtures, new companies on demand, reset."""

from typing import Any

from qbo_sandbox import demo_company
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import ENTITIES
from qbo_sandbox.oauth import issue_refresh_token
from qbo_sandbox.operations import create
from qbo_sandbox.store import Store

FIXTURES = ("demo", "empty")


class RealmExists(ValueError):
    """A company with this realm id is already there."""


def next_realm_id(store: Store) -> str:
    """The next free realm id after the demo one (which stays reserved for `--demo`)."""
    numbers = [
        int(r["realm_id"])
        for r in store.list_realms()
        if r["realm_id"].isascii() and r["realm_id"].isdigit()
    ]
    return str(max(numbers + [int(demo_company.REALM_ID)]) + 1)


def fixture_objects(demo: bool, company_name: str | None) -> list[tuple[str, dict[str, Any]]]:
    """What a new company starts with: the demo contents or just a CompanyInfo."""
    if demo:
        objects = demo_company.demo_objects()
    else:
        objects = [("CompanyInfo", demo_company.company_info(demo_company.EMPTY_COMPANY_NAME))]
    if company_name:
        objects = [
            (
                entity,
                {**body, "CompanyName": company_name, "LegalName": company_name}
                if entity == "CompanyInfo"
                else body,
            )
            for entity, body in objects
        ]
    return objects


def _seed(
    store: Store,
    config: SandboxConfig,
    realm_id: str,
    now: int,
    objects: list[tuple[str, dict[str, Any]]],
) -> None:
    """Create fixture objects quietly (no webhooks: QuickBooks sends none for a new company)."""
    ctx = Ctx(store, realm_id, now, config)
    with store.quiet():
        for entity, body in objects:
            create(ctx, ENTITIES[entity], body, internal=True)


def create_realm(
    store: Store,
    config: SandboxConfig,
    now: int,
    demo: bool = True,
    realm_id: str | None = None,
    company_name: str | None = None,
    refresh_token: str | None = None,
) -> tuple[str, str]:
    """Create a company (demo contents or just a CompanyInfo); returns (realm id, refresh token)."""
    with store.transaction():
        realm_id = realm_id or next_realm_id(store)
        if store.realm_exists(realm_id):
            raise RealmExists(realm_id)
        store.add_realm(realm_id, now, demo)
        _seed(store, config, realm_id, now, fixture_objects(demo, company_name))
        token = issue_refresh_token(store, config, realm_id, now, refresh_token)
    return realm_id, token


def reset_realm(
    store: Store, config: SandboxConfig, now: int, realm_id: str, demo: bool | None = None
) -> None:
    """Wipe a company back to its fixture (tokens stay, so connections keep working)."""
    if demo is None:
        demo = store.realm_is_demo(realm_id)
    with store.transaction():
        company = store.get_object(realm_id, "CompanyInfo", "1")
        name = company.body.get("CompanyName") if company is not None else None
        store.wipe_realm(realm_id)
        _seed(store, config, realm_id, now, fixture_objects(demo, name))


def _upgrade_demo(store: Store, config: SandboxConfig, realm_id: str, now: int) -> None:
    """Add fixture objects a demo company made by an older version lacks."""
    with store.transaction():
        missing = []
        for entity, body in demo_company.demo_objects():
            key = "CompanyName" if entity == "CompanyInfo" else "Name"
            wanted = str(body.get(key))
            present = {str(record.body.get(key)) for record in store.list_objects(realm_id, entity)}
            if wanted not in present and not (entity == "CompanyInfo" and present):
                missing.append((entity, body))
        if missing:
            _seed(store, config, realm_id, now, missing)


def ensure_demo_realm(store: Store, config: SandboxConfig, now: int) -> tuple[str, str]:
    """Create the fixed demo company if missing, and (re)arm its fixed refresh token."""
    realm_id = demo_company.REALM_ID
    if not store.realm_exists(realm_id):
        return create_realm(
            store,
            config,
            now,
            demo=True,
            realm_id=realm_id,
            refresh_token=demo_company.REFRESH_TOKEN,
        )
    _upgrade_demo(store, config, realm_id, now)
    # Like a person reconnecting the company: the fixed token works again after a restart.
    token = issue_refresh_token(store, config, realm_id, now, demo_company.REFRESH_TOKEN)
    return realm_id, token


def ensure_empty_realm(store: Store, config: SandboxConfig, now: int) -> tuple[str, str]:
    """Create the fixed empty company if missing, and (re)arm its fixed refresh token."""
    realm_id = demo_company.EMPTY_REALM_ID
    if not store.realm_exists(realm_id):
        return create_realm(
            store,
            config,
            now,
            demo=False,
            realm_id=realm_id,
            refresh_token=demo_company.EMPTY_REFRESH_TOKEN,
        )
    token = issue_refresh_token(store, config, realm_id, now, demo_company.EMPTY_REFRESH_TOKEN)
    return realm_id, token
