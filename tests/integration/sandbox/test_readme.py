"""The README's python-quickbooks example runs as written; the pytest plugin works."""

import re
from pathlib import Path

from quickbooks.objects.item import Item

from qbo_sandbox.pytest_plugin import qbo_sandbox  # noqa: F401 - the fixture under test

from .helpers import connect

README = Path(__file__).resolve().parents[3] / "include" / "qbo_sandbox" / "README.md"
HEADING = "## Using the sandbox for any QuickBooks integration"


def example_code() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(HEADING) :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_runs(monkeypatch, capsys):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # restored after the test
    exec(compile(example_code(), str(README), "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.split() == ["1001", "12.38", "162.38"]


def test_pytest_plugin_serves_the_demo_company(qbo_sandbox):  # noqa: F811
    assert len(Item.all(qb=connect(qbo_sandbox))) == 6
