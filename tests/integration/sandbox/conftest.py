"""Fixtures of the sandbox conformance suite.

One emulator serves the whole session; each test gets its own demo company (a fresh realm
made through the admin API), so tests never see each other's objects. Tests that move the
clock or need another configuration start their own emulator with `running_sandbox`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from quickbooks import QuickBooks

from qbo_sandbox.testing import SandboxHandle, running_sandbox

from .helpers import admin, connect


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plain http on loopback; the TLS test turns this off again.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """The shared emulator (demo company at its fixed realm)."""
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running_sandbox(tmp_path_factory.mktemp("qbo") / "shared.sqlite3") as handle:
        yield handle


@dataclass(frozen=True)
class Company:
    """A fresh demo company on the shared emulator."""

    handle: SandboxHandle
    realm_id: str
    refresh_token: str

    def client(self) -> QuickBooks:
        """A new python-quickbooks client for this company."""
        return connect(self.handle, self.realm_id, self.refresh_token)

    def admin(self, method: str, path: str, **kwargs):
        """Admin call under `/_sandbox/realms/<realm>`."""
        return admin(self.handle, method, f"/realms/{self.realm_id}{path}", **kwargs)


@pytest.fixture
def company(server: SandboxHandle) -> Company:
    """A new demo company for this test."""
    created = admin(server, "POST", "/realms", json={"demo": True}).json()
    return Company(server, created["realm_id"], created["refresh_token"])


@pytest.fixture
def qb(company: Company) -> QuickBooks:
    """A python-quickbooks client for this test's company."""
    return company.client()
