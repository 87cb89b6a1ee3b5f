"""sqlfluff's stand-in for dbt's `adapter` so the project's dispatched macros render when linting.

sqlfluff lints with its jinja templater (no warehouse connection), where dbt's `adapter`
object does not exist. `adapter.dispatch('name', 'package')` here picks the macro dbt
would pick on DuckDB (the dialect sqlfluff lints in): `duckdb__name`, else `default__name`.
dbt never imports this file.
"""

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


@pass_context
def dispatch(context: Context, macro_name: str, macro_namespace: str | None = None) -> Any:
    """The DuckDB implementation of a dispatched macro, as dbt-duckdb would choose it."""
    for candidate in (f"duckdb__{macro_name}", f"default__{macro_name}"):
        macro = context.get(candidate)
        if macro is not None:
            return macro
    raise KeyError(f"no duckdb__ or default__ implementation of {macro_name}")
