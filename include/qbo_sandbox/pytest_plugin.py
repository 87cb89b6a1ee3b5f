"""A pytest fixture for any project: `qbo_sandbox` serves the emulator with its demo company
on a free loopback port in a background thread, for one test.

    # conftest.py
    pytest_plugins = ["qbo_sandbox.pytest_plugin"]

    def test_something(qbo_sandbox):
        ...  # qbo_sandbox.base_url, realm_id, refresh_token, client_id, client_secret

Plain http: the fixture sets OAUTHLIB_INSECURE_TRANSPORT=1 for the test, as
requests-oauthlib (under python-quickbooks) refuses http otherwise.
"""

from collections.abc import Iterator

import pytest

from qbo_sandbox.testing import SandboxHandle, running_sandbox


@pytest.fixture
def qbo_sandbox(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxHandle]:
    """The emulator with the demo company, state in this test's temporary directory."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running_sandbox(tmp_path / "qbo_sandbox.sqlite3", demo=True) as handle:
        yield handle
