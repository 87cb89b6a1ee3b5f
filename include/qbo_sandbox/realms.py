"""Companies (realms): creating the demo company and blank or demo companies on demand."""

from qbo_sandbox import demo_company
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import ENTITIES
from qbo_sandbox.oauth import issue_refresh_token
from qbo_sandbox.operations import create
from qbo_sandbox.store import Store


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
        ctx = Ctx(store, realm_id, now, config)
        if demo:
            objects = demo_company.demo_objects()
        else:
            objects = [("CompanyInfo", demo_company.company_info("Sandbox Company"))]
        for entity, body in objects:
            if entity == "CompanyInfo" and company_name:
                body = {**body, "CompanyName": company_name, "LegalName": company_name}
            create(ctx, ENTITIES[entity], body, internal=True)
        token = issue_refresh_token(store, config, realm_id, now, refresh_token)
    return realm_id, token


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
    # Like a person reconnecting the company: the fixed token works again after a restart.
    token = issue_refresh_token(store, config, realm_id, now, demo_company.REFRESH_TOKEN)
    return realm_id, token
