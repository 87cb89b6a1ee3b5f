"""The mapping seeds (map_*.csv): draft them from names, and check them.

Each company has its own folder of them (`Settings.mappings_dir`: dbt_project/seeds for the
single-company default, `mappings` in the companies file otherwise), because they hold that
company's QuickBooks ids; dbt loads the folder through FIELDBOOKS_SEEDS_DIR.

`suggest` proposes each operations category, trade, branch and tax jurisdiction's QuickBooks
target by fuzzy name match and writes the seeds for an accountant to review, never over a
reviewed row; `check` says, in an accountant's words, which rows need a person.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from fieldbooks.config import Settings, project_root
from fieldbooks.errors import ErrorClass
from fieldbooks.warehouse.connection import WarehouseConnection, connect

# Below this a proposal is a guess: the row is written without a target, the closest
# name in its note, so nothing is posted on a weak match.
MIN_CONFIDENCE = 0.6
# Two words count as the same word from this similarity on (a plural, a typo).
TOKEN_MATCH = 0.8
# Only identical names (after case, punctuation and spacing) are certain.
NOT_IDENTICAL_CAP = 0.95
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "x"})

# What an expense can be in operations (ops.schema.expenses.category); the data may add more.
EXPENSE_CATEGORIES = ("material", "subcontract", "permit", "equipment_rental")
ITEM_TYPES_NOT_SOLD = frozenset({"Category"})
COST_ACCOUNT_TYPES = frozenset({"Expense", "Cost of Goods Sold", "Other Expense"})


class MappingError(Exception):
    """The mapping files or the warehouse cannot be read as they are."""

    error_class = ErrorClass.CONFIG


@dataclass(frozen=True)
class MappingSpec:
    """One seed: which operations records it maps to which QuickBooks list."""

    seed: str
    key: str
    ops_columns: tuple[str, ...]
    entity: str
    target_id: str
    target_name: str
    ops_noun: str
    target_noun: str
    # what uses the operations record: (raw_ops table, column, what one row of it is)
    usage: tuple[str, str, str] | None = None
    suggested: bool = True

    @property
    def file_name(self) -> str:
        """The CSV file's name."""
        return f"{self.seed}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        """The seed's columns, in file order."""
        tail = ("confidence", "reviewed", "note") if self.suggested else ("note",)
        return (self.key, *self.ops_columns, self.target_id, self.target_name, *tail)


SERVICE_CATEGORIES = MappingSpec(
    seed="map_service_categories",
    key="category_id",
    ops_columns=("category_name", "category_kind"),
    entity="Item",
    target_id="qbo_item_id",
    target_name="qbo_item_name",
    ops_noun="service category",
    target_noun="item",
    usage=("invoice_lines", "category_id", "invoice line"),
)
EXPENSE_ACCOUNTS = MappingSpec(
    seed="map_expense_categories",
    key="expense_category",
    ops_columns=("expense_category_name",),
    entity="Account",
    target_id="qbo_account_id",
    target_name="qbo_account_name",
    ops_noun="expense category",
    target_noun="account",
    usage=("expenses", "category", "expense"),
)
TRADES = MappingSpec(
    seed="map_trades",
    key="trade_id",
    ops_columns=("trade_code", "trade_name"),
    entity="Class",
    target_id="qbo_class_id",
    target_name="qbo_class_name",
    ops_noun="trade",
    target_noun="class",
    usage=("jobs", "trade_id", "job"),
)
BRANCHES = MappingSpec(
    seed="map_branches",
    key="branch_id",
    ops_columns=("branch_code", "branch_name"),
    entity="Department",
    target_id="qbo_department_id",
    target_name="qbo_department_name",
    ops_noun="branch",
    target_noun="location",
    usage=("jobs", "branch_id", "job"),
)
TAX_JURISDICTIONS = MappingSpec(
    seed="map_tax_jurisdictions",
    key="tax_jurisdiction",
    ops_columns=("tax_rate_name",),
    entity="TaxCode",
    target_id="qbo_tax_code_id",
    target_name="qbo_tax_code_name",
    ops_noun="tax jurisdiction",
    target_noun="tax code",
    usage=("invoices", "tax_jurisdiction", "invoice"),
)
CUSTOMER_LINKS = MappingSpec(
    seed="map_customer_links",
    key="ops_customer_id",
    ops_columns=("ops_customer_name",),
    entity="Customer",
    target_id="qbo_customer_id",
    target_name="qbo_customer_name",
    ops_noun="customer",
    target_noun="customer",
    suggested=False,
)
SPECS: tuple[MappingSpec, ...] = (
    SERVICE_CATEGORIES,
    EXPENSE_ACCOUNTS,
    TRADES,
    BRANCHES,
    TAX_JURISDICTIONS,
    CUSTOMER_LINKS,
)


@dataclass(frozen=True)
class OpsRecord:
    """An operations record a seed maps: its key, the columns shown beside it, its names."""

    key: str
    columns: Mapping[str, str]
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        """How a person recognises it."""
        shown = [*self.names, *self.columns.values()]
        return next((n for n in shown if n), self.key)


@dataclass(frozen=True)
class QboTarget:
    """A QuickBooks list object a mapping can point at."""

    id: str
    name: str
    active: bool = True
    deleted: bool = False
    kind: str = ""  # Item.Type, Account.AccountType


@dataclass(frozen=True)
class Proposal:
    """The best target for one operations record, or none, and why."""

    target: QboTarget | None
    confidence: float | None
    note: str


@dataclass
class SeedOutcome:
    """What suggest did to one seed file."""

    spec: MappingSpec
    path: Path
    proposed: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One thing `check` found: attention ones make it fail, notes do not."""

    seed: str
    key: str | None
    # unmapped, gone, inactive, wrong_type, unreviewed, orphan, renamed
    kind: str
    message: str
    attention: bool = True
    # the row in a few words, for grouped output (unreviewed proposals)
    detail: str = ""


# --------------------------------------------------------------------------- names


def normalize(name: str | None) -> str:
    """A name for comparison: ASCII, case-folded, `&` as `and`, punctuation as spaces."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    text = text.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _stem(word: str) -> str:
    """A crude singular: `permits` and `permit` are one word, `glass` stays."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def similarity(a: str | None, b: str | None) -> float:
    """How alike two names are, 0 to 1; 1.0 only when they are the same name.

    Words are matched one to one (a word counts when it is at least TOKEN_MATCH alike), so
    two names sharing only a generic word ("Roofing Service", "Plumbing Service") stay low.
    """
    na, nb = normalize(a), normalize(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    words_a = [_stem(w) for w in na.split()]
    words_b = [_stem(w) for w in nb.split()]
    remaining = list(words_b)
    matched = 0.0
    for word in words_a:
        best, best_at = 0.0, -1
        for at, other in enumerate(remaining):
            ratio = 1.0 if word == other else SequenceMatcher(None, word, other).ratio()
            if ratio > best:
                best, best_at = ratio, at
        if best >= TOKEN_MATCH:
            matched += best
            remaining.pop(best_at)
    words = 2 * matched / (len(words_a) + len(words_b))
    # a name written without its spaces ("AirCon Service") still counts on its letters
    letters = SequenceMatcher(None, na.replace(" ", ""), nb.replace(" ", "")).ratio()
    score = max(words, letters if letters >= 0.9 else 0.0)
    return round(min(score, NOT_IDENTICAL_CAP), 2)


def propose(record: OpsRecord, targets: Iterable[QboTarget], noun: str) -> Proposal:
    """The live target whose name is most like one of the record's names."""
    scored: list[tuple[float, QboTarget]] = []
    for target in targets:
        if not target.active or target.deleted:
            continue
        score = max((similarity(name, target.name) for name in record.names if name), default=0)
        scored.append((score, target))
    scored.sort(key=lambda s: (-s[0], _natural(s[1].id)))
    if not scored or scored[0][0] == 0:
        return Proposal(None, None, f"no QuickBooks {noun} has a name like it")
    best_score, best = scored[0]
    if best_score < MIN_CONFIDENCE:
        return Proposal(
            None,
            None,
            f"no QuickBooks {noun} has a name like it (closest: {_plain(best)}, {best_score:.2f})",
        )
    tied = [t for s, t in scored if s == best_score]
    if len(tied) > 1:
        names = ", ".join(_plain(t) for t in tied)
        return Proposal(None, None, f"several QuickBooks {noun}s fit equally: {names}; choose one")
    return Proposal(best, best_score, "")


def _describe(target: QboTarget) -> str:
    """`"Plumbing Service" (Id 1)`."""
    return f'"{target.name}" (Id {target.id})'


def _plain(target: QboTarget) -> str:
    """`Plumbing Service (Id 1)`, for a note inside a CSV cell."""
    return f"{target.name} (Id {target.id})"


def _natural(value: str) -> tuple[int, int | str]:
    """Sort numeric ids as numbers and everything else after them as text."""
    return (0, int(value)) if value.isdigit() else (1, value)


# --------------------------------------------------------------------------- seed files


def is_reviewed(row: Mapping[str, str | None], has_column: bool) -> bool:
    """Whether a person vouched for the row; a file without the column was written by hand."""
    if not has_column:
        return True
    return (row.get("reviewed") or "").strip().casefold() in TRUE_WORDS


def read_seed(path: Path, spec: MappingSpec) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a seed file ([] and [] when it does not exist yet)."""
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    if header and spec.key not in header:
        raise MappingError(f"{path.name} has no {spec.key} column: the first row must name it")
    return header, [r for r in rows if r.get(spec.key)]


def write_seed(path: Path, header: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """Write a seed file whole, or leave the old one (written beside it, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(header), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in header})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def proposal_row(spec: MappingSpec, record: OpsRecord, proposal: Proposal) -> dict[str, str]:
    """The seed row suggest writes for a record: unreviewed, with its confidence and note."""
    row = {spec.key: record.key, **{c: record.columns.get(c, "") for c in spec.ops_columns}}
    target = proposal.target
    row[spec.target_id] = target.id if target else ""
    row[spec.target_name] = target.name if target else ""
    row["confidence"] = "" if proposal.confidence is None else f"{proposal.confidence:.2f}"
    row["reviewed"] = "false"
    row["note"] = proposal.note
    return row


def merge_seed(
    spec: MappingSpec,
    header: Sequence[str],
    existing: Sequence[Mapping[str, str]],
    records: Sequence[OpsRecord],
    proposals: Mapping[str, Proposal],
    outcome: SeedOutcome,
) -> tuple[list[str], list[dict[str, str]]]:
    """The seed's new header and rows: reviewed rows as they are, every other row proposed afresh.

    A reviewed row is never changed; only columns its file did not have yet are filled in.
    An unreviewed row whose record is gone from operations is dropped.
    """
    has_reviewed = "reviewed" in header
    by_key = {row[spec.key]: row for row in existing}
    live = {record.key: record for record in records}
    extras = [c for c in header if c not in spec.columns]
    rows: list[dict[str, str]] = []
    for key in sorted(set(by_key) | set(live), key=_natural):
        old, record = by_key.get(key), live.get(key)
        if old is not None and is_reviewed(old, has_reviewed):
            kept = {c: old.get(c, "") for c in header}
            for column in spec.columns:
                if column not in header:
                    kept[column] = _filled(column, record)
            rows.append(kept)
            outcome.kept.append(_kept_line(spec, kept, record))
            continue
        if record is None:
            outcome.dropped.append(
                f"{spec.key} {key}: no longer in the operations DB (unreviewed row removed)"
            )
            continue
        proposal = proposals[key]
        new = {
            **{c: (old or {}).get(c, "") for c in extras},
            **proposal_row(spec, record, proposal),
        }
        rows.append(new)
        target = proposal.target
        if target is None:
            outcome.unmatched.append(f'{spec.ops_noun} {key} "{record.label}": {proposal.note}')
        else:
            outcome.proposed.append(
                f'{spec.ops_noun} {key} "{record.label}" -> {spec.target_noun} '
                f"{_describe(target)}, confidence {proposal.confidence:.2f}"
            )
    return [*spec.columns, *extras], rows


def _filled(column: str, record: OpsRecord | None) -> str:
    """A column a reviewed row's file lacked: operations' value, or its review state."""
    if column == "reviewed":
        return "true"  # the file had no such column: a person wrote every row
    if record is not None:
        return record.columns.get(column, "")
    return ""


def _kept_line(spec: MappingSpec, row: Mapping[str, str], record: OpsRecord | None) -> str:
    """How suggest reports a reviewed row it left alone."""
    label = record.label if record else next((row.get(c) for c in spec.ops_columns), "")
    target = row.get(spec.target_id) or "(none)"
    name = row.get(spec.target_name)
    shown = f'{target} "{name}"' if name else target
    return f'{spec.ops_noun} {row[spec.key]} "{label}" -> {spec.target_noun} {shown} (reviewed)'


# --------------------------------------------------------------------------- warehouse


def _rows(wh: WarehouseConnection, schema: str, table: str, sql: str) -> list[dict[str, Any]]:
    """Rows of a query over one table; [] when the table does not exist yet."""
    if not wh.table_exists(schema, table):
        return []
    return wh.fetchdicts(sql)


def _live_filter(wh: WarehouseConnection, table: str) -> str:
    """A WHERE clause keeping the rows operations has not deleted."""
    columns = set(wh.columns("raw_ops", table))
    clauses = ["true"]
    if "_deleted" in columns:
        clauses.append("not coalesce(_deleted, false)")
    if "deleted_at" in columns:
        clauses.append("deleted_at is null")
    return " and ".join(clauses)


def _text(value: Any) -> str:
    """A value as seed text (ids as strings, never `1.0`)."""
    return "" if value is None else str(value).strip()


def load_ops_records(wh: WarehouseConnection) -> dict[str, list[OpsRecord]]:
    """The operations records each seed maps, read from raw_ops.*."""
    for table in ("service_categories", "trades", "branches", "tax_rates"):
        if not wh.table_exists("raw_ops", table):
            raise MappingError(
                f"raw_ops.{table} is missing: run `fieldbooks extract ops` before mapping"
            )
    found: dict[str, list[OpsRecord]] = {}
    found[SERVICE_CATEGORIES.seed] = [
        OpsRecord(
            _text(r["id"]),
            {"category_name": _text(r["name"]), "category_kind": _text(r["kind"])},
            (_text(r["name"]),),
        )
        for r in wh.fetchdicts(
            "select id, name, kind from raw_ops.service_categories "
            f"where {_live_filter(wh, 'service_categories')}"
        )
    ]
    expense_categories = set(EXPENSE_CATEGORIES)
    if wh.table_exists("raw_ops", "expenses"):
        expense_categories |= {
            _text(r[0])
            for r in wh.fetchall(
                "select distinct category from raw_ops.expenses "
                f"where {_live_filter(wh, 'expenses')}"
            )
            if r[0]
        }
    found[EXPENSE_ACCOUNTS.seed] = [
        OpsRecord(c, {"expense_category_name": _label(c)}, (_label(c),))
        for c in sorted(expense_categories)
    ]
    found[TRADES.seed] = [
        OpsRecord(
            _text(r["id"]),
            {"trade_code": _text(r["code"]), "trade_name": _text(r["name"])},
            (_text(r["name"]), _text(r["code"])),
        )
        for r in wh.fetchdicts(
            f"select id, code, name from raw_ops.trades where {_live_filter(wh, 'trades')}"
        )
    ]
    found[BRANCHES.seed] = [
        OpsRecord(
            _text(r["id"]),
            {"branch_code": _text(r["code"]), "branch_name": _text(r["name"])},
            (_text(r["name"]), _text(r["code"])),
        )
        for r in wh.fetchdicts(
            f"select id, code, name from raw_ops.branches where {_live_filter(wh, 'branches')}"
        )
    ]
    rate_names = {
        _text(r["jurisdiction"]): _text(r["name"])
        for r in wh.fetchdicts(
            "select jurisdiction, name from raw_ops.tax_rates "
            f"where {_live_filter(wh, 'tax_rates')}"
        )
    }
    # a jurisdiction an invoice charges without a rate row still needs a tax code
    for r in _rows(
        wh,
        "raw_ops",
        "invoices",
        "select distinct tax_jurisdiction from raw_ops.invoices where tax_jurisdiction is not null",
    ):
        rate_names.setdefault(_text(r["tax_jurisdiction"]), "")
    found[TAX_JURISDICTIONS.seed] = [
        OpsRecord(j, {"tax_rate_name": name}, (name, j)) for j, name in rate_names.items() if j
    ]
    customers = []
    if wh.table_exists("raw_ops", "customers"):
        customers = wh.fetchdicts(
            f"select id, display_name from raw_ops.customers where {_live_filter(wh, 'customers')}"
        )
    found[CUSTOMER_LINKS.seed] = [
        OpsRecord(_text(r["id"]), {"ops_customer_name": _text(r["display_name"])}, ())
        for r in customers
    ]
    return found


def _label(category: str) -> str:
    """`equipment_rental` as a person writes it: `Equipment rental`."""
    return category.replace("_", " ").strip().capitalize()


def load_usage(wh: WarehouseConnection, spec: MappingSpec) -> dict[str, int]:
    """How many live operations records use each key (what an unmapped key holds back)."""
    if spec.usage is None:
        return {}
    table, column, _ = spec.usage
    if not wh.table_exists("raw_ops", table):
        return {}
    rows = wh.fetchall(
        f"select cast({column} as varchar), count(*) from raw_ops.{table} "
        f"where {_live_filter(wh, table)} and {column} is not null group by 1"
    )
    return {_text(k): int(n) for k, n in rows}


def load_qbo_targets(wh: WarehouseConnection, realm_id: str) -> dict[str, dict[str, QboTarget]]:
    """Every QuickBooks object a seed can point at (inactive and deleted ones included)."""
    found: dict[str, dict[str, QboTarget]] = {}
    for entity in {spec.entity for spec in SPECS}:
        table = entity.lower()
        if not wh.table_exists("raw_qbo", table):
            if entity == "Customer":
                found[entity] = {}
                continue
            raise MappingError(
                f"raw_qbo.{table} is missing: run `fieldbooks extract qbo` before mapping"
            )
        targets: dict[str, QboTarget] = {}
        for row in wh.fetchdicts(
            f"select id, deleted, payload from raw_qbo.{table} where realm_id = %s", (realm_id,)
        ):
            payload = row["payload"]
            body = json.loads(payload) if isinstance(payload, str | bytes) else (payload or {})
            name_key = "DisplayName" if entity == "Customer" else "Name"
            targets[_text(row["id"])] = QboTarget(
                id=_text(row["id"]),
                name=_text(body.get(name_key)),
                active=body.get("Active") is not False,
                deleted=bool(row["deleted"]) or body.get("status") == "Deleted",
                kind=_text(body.get("AccountType") or body.get("Type")),
            )
        found[entity] = targets
    return found


def candidates(spec: MappingSpec, targets: Mapping[str, QboTarget]) -> list[QboTarget]:
    """The QuickBooks objects a record of this seed may map to."""
    return [t for t in targets.values() if fits(spec, t)]


def fits(spec: MappingSpec, target: QboTarget) -> bool:
    """Whether a target is of a kind this seed can use (an expense needs a cost account)."""
    if spec is SERVICE_CATEGORIES:
        return target.kind not in ITEM_TYPES_NOT_SOLD
    if spec is EXPENSE_ACCOUNTS:
        return target.kind in COST_ACCOUNT_TYPES
    return True


# --------------------------------------------------------------------------- commands


def default_seeds_dir(settings: Settings) -> Path:
    """The company's mapping folder, which its `dbt build` loads."""
    return settings.mappings_dir


def template_dir(settings: Settings) -> Path:
    """The project's own seeds: every seed file dbt expects, with its columns (the demo's)."""
    return settings.dbt_project_dir / "seeds"


def seed_file_names(settings: Settings) -> list[str]:
    """Every mapping seed's file name, as the dbt project defines them."""
    return sorted(p.name for p in template_dir(settings).glob("map_*.csv"))


def shown_path(settings: Settings, name: str = "") -> str:
    """A mapping file as a person finds it: relative to the checkout when inside it."""
    path = settings.mappings_dir / name if name else settings.mappings_dir
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return str(path)


def require_mappings(settings: Settings) -> Path:
    """The company's mapping folder, or a MappingError naming what is missing and how to
    draft it: dbt must never fall back to another company's QuickBooks ids."""
    missing = [n for n in seed_file_names(settings) if not (settings.mappings_dir / n).is_file()]
    if missing:
        raise MappingError(
            f"the mapping folder {settings.mappings_dir} lacks {', '.join(missing)}: each "
            "company maps to its own QuickBooks ids. Draft them from this company's data with "
            "`fieldbooks --company <key> mapping suggest` after its first extract, have an "
            "accountant review them (docs/mapping.md), then rerun; or set `mappings` in the "
            "companies file to a folder that holds them"
        )
    return settings.mappings_dir


def start_missing_seeds(settings: Settings, seeds_dir: Path) -> list[str]:
    """Give a new mapping folder every seed file suggest does not draft (customer links,
    expense payment accounts) with its columns and no rows, so dbt can load the folder and
    whatever needs a row is held as an issue, never mapped to a guess."""
    seeds_dir.mkdir(parents=True, exist_ok=True)
    drafted = {spec.file_name for spec in SPECS if spec.suggested}
    started = []
    for name in seed_file_names(settings):
        path = seeds_dir / name
        if name in drafted or path.exists():
            continue
        with (template_dir(settings) / name).open(newline="") as template:
            header = next(csv.reader(template))
        write_seed(path, header, [])
        started.append(name)
    return started


def suggest_seeds(
    seeds_dir: Path,
    records: Mapping[str, Sequence[OpsRecord]],
    targets: Mapping[str, Mapping[str, QboTarget]],
) -> list[SeedOutcome]:
    """Propose every unreviewed mapping and rewrite the seed files; reviewed rows stay."""
    outcomes = []
    for spec in SPECS:
        if not spec.suggested:
            continue
        path = seeds_dir / spec.file_name
        header, existing = read_seed(path, spec)
        pool = candidates(spec, targets.get(spec.entity, {}))
        proposals = {r.key: propose(r, pool, spec.target_noun) for r in records.get(spec.seed, ())}
        outcome = SeedOutcome(spec, path)
        new_header, rows = merge_seed(
            spec, header, existing, records.get(spec.seed, ()), proposals, outcome
        )
        write_seed(path, new_header, rows)
        outcomes.append(outcome)
    return outcomes


def suggest(settings: Settings, seeds_dir: Path | None = None) -> list[SeedOutcome]:
    """`fieldbooks mapping suggest`: read raw_ops and raw_qbo, write the proposals (a new
    folder also gets the seeds suggest does not draft, empty)."""
    seeds_dir = seeds_dir or default_seeds_dir(settings)
    with connect(settings.warehouse_url) as wh:
        records = load_ops_records(wh)
        targets = load_qbo_targets(wh, settings.qbo.realm_id)
    start_missing_seeds(settings, seeds_dir)
    return suggest_seeds(seeds_dir, records, targets)


def check_seeds(
    seeds_dir: Path,
    records: Mapping[str, Sequence[OpsRecord]],
    targets: Mapping[str, Mapping[str, QboTarget]],
    usage: Mapping[str, Mapping[str, int]] | None = None,
) -> list[Finding]:
    """What in the seed files needs a person, and what is only worth knowing."""
    findings: list[Finding] = []
    for spec in SPECS:
        header, rows = read_seed(seeds_dir / spec.file_name, spec)
        has_reviewed = "reviewed" in header
        live = {r.key: r for r in records.get(spec.seed, ())}
        pool = targets.get(spec.entity, {})
        used = (usage or {}).get(spec.seed, {})
        by_key = {row[spec.key]: row for row in rows}
        if spec.suggested:
            for key in sorted(set(live) - set(by_key), key=_natural):
                findings.append(_unmapped(spec, live[key], None, used.get(key)))
        for key in sorted(by_key, key=_natural):
            findings.extend(
                _check_row(spec, by_key[key], live.get(key), pool, used.get(key), has_reviewed)
            )
    return findings


def check(settings: Settings, seeds_dir: Path | None = None) -> list[Finding]:
    """`fieldbooks mapping check`: the seed files against raw_ops and raw_qbo."""
    with connect(settings.warehouse_url) as wh:
        records = load_ops_records(wh)
        targets = load_qbo_targets(wh, settings.qbo.realm_id)
        usage = {spec.seed: load_usage(wh, spec) for spec in SPECS}
    return check_seeds(seeds_dir or default_seeds_dir(settings), records, targets, usage)


def _where(spec: MappingSpec, key: str, label: str) -> str:
    """`map_trades.csv, row trade_id 1 ("Plumbing")`: the row a person opens."""
    return f"{spec.file_name}, row {_row_name(spec, key, label)}"


def _row_name(spec: MappingSpec, key: str, label: str) -> str:
    """`trade_id 1 ("Plumbing")`."""
    shown = f' ("{label}")' if label and label != key else ""
    return f"{spec.key} {key}{shown}"


def _held(spec: MappingSpec, count: int | None) -> str:
    """What an unmapped record holds back: ` 12 invoice lines use it and are held back ...`."""
    if spec.usage is None or not count:
        return ""
    noun = spec.usage[2] + ("s" if count != 1 else "")
    return f" {count} {noun} use it and are held back until then."


def _unmapped(
    spec: MappingSpec, record: OpsRecord, row: Mapping[str, str] | None, count: int | None
) -> Finding:
    """An operations record with no QuickBooks target."""
    if row is None:
        what = (
            f'{spec.file_name} has no row for {spec.ops_noun} {record.key} ("{record.label}"). '
            f"Run `fieldbooks mapping suggest` or add the row, with the Id of the QuickBooks "
            f"{spec.target_noun} in {spec.target_id}."
        )
    else:
        what = (
            f"{_where(spec, record.key, record.label)}: no QuickBooks {spec.target_noun} is "
            f"chosen. Put the Id of the {spec.target_noun} in {spec.target_id} and set reviewed "
            "to true."
        )
        if row.get("note"):
            what += f" (suggest said: {row['note']})"
    return Finding(spec.file_name, record.key, "unmapped", what + _held(spec, count))


def _check_row(
    spec: MappingSpec,
    row: Mapping[str, str],
    record: OpsRecord | None,
    pool: Mapping[str, QboTarget],
    count: int | None,
    has_reviewed: bool,
) -> list[Finding]:
    """Findings about one row of a seed file."""
    key = row[spec.key]
    label = record.label if record else next((row.get(c, "") for c in spec.ops_columns), "")
    where = _where(spec, key, label)
    if record is None:
        # a stale category row does nothing; a link for a customer operations lacks is a mistake
        return [
            Finding(
                spec.file_name,
                key,
                "orphan",
                f"{where}: the operations DB has no {spec.ops_noun} {key}; the row does nothing "
                "and can be deleted.",
                attention=not spec.suggested,
            )
        ]
    target_id = row.get(spec.target_id, "")
    if not target_id:
        return [_unmapped(spec, record, row, count)]
    written = row.get(spec.target_name, "")
    target = pool.get(target_id)
    if target is None or target.deleted:
        shown = f"{spec.target_noun} {target_id}{_quoted(written)}"
        why = "was deleted in QuickBooks" if target else "is not in QuickBooks (a wrong Id?)"
        message = (
            f"{where} points at {shown}, which {why}. Put the Id of another "
            f"{spec.target_noun} in {spec.target_id}."
        )
        return [Finding(spec.file_name, key, "gone", message + _held(spec, count))]
    points_at = f'{spec.target_noun} {target_id} "{target.name}"'
    findings = []
    if not target.active:
        message = (
            f"{where} points at {points_at}, which is inactive in QuickBooks. Make it active "
            f"again in QuickBooks, or put another {spec.target_noun}'s Id in {spec.target_id}."
        )
        findings.append(Finding(spec.file_name, key, "inactive", message + _held(spec, count)))
    if not fits(spec, target):
        message = (
            f"{where} points at {points_at}, an account of type {target.kind or 'unknown'}; "
            "an expense needs an Expense or Cost of Goods Sold account."
        )
        findings.append(Finding(spec.file_name, key, "wrong_type", message))
    if spec.suggested and not is_reviewed(row, has_reviewed):
        confidence = row.get("confidence") or "?"
        detail = f"{_row_name(spec, key, label)} -> {points_at} (confidence {confidence})"
        message = (
            f"{where}: the proposal {points_at} (confidence {confidence}) waits for review. "
            "Check it and set reviewed to true."
        )
        findings.append(Finding(spec.file_name, key, "unreviewed", message, detail=detail))
    if written and normalize(written) != normalize(target.name):
        message = (
            f'{where}: QuickBooks now calls {points_at} (the file says "{written}"). The mapping '
            f"holds by Id; update {spec.target_name} if the new name reads better."
        )
        findings.append(Finding(spec.file_name, key, "renamed", message, attention=False))
    return findings


def _quoted(name: str) -> str:
    """` "name"` when there is one."""
    return f' "{name}"' if name else ""


def suggest_lines(outcomes: Sequence[SeedOutcome]) -> list[str]:
    """What suggest proposed and kept, as the command prints it."""
    lines: list[str] = []
    for o in outcomes:
        lines.append(f"{o.path}  ({o.spec.ops_noun} -> QuickBooks {o.spec.target_noun})")
        lines.extend(f"  proposed  {t}" for t in o.proposed)
        lines.extend(f"  no match  {t}" for t in o.unmatched)
        lines.extend(f"  kept      {t}" for t in o.kept)
        lines.extend(f"  dropped   {t}" for t in o.dropped)
    proposed = sum(len(o.proposed) for o in outcomes)
    unmatched = sum(len(o.unmatched) for o in outcomes)
    kept = sum(len(o.kept) for o in outcomes)
    lines.append(
        f"{proposed} proposed, {unmatched} without a match, {kept} reviewed row(s) kept. "
        "Check the proposals, set reviewed to true on each, then `fieldbooks mapping check`."
    )
    return lines


def check_lines(findings: Sequence[Finding]) -> list[str]:
    """What check found, as the command prints it: problems, then proposals, then notes."""
    problems = [f for f in findings if f.attention and f.kind != "unreviewed"]
    waiting: dict[str, list[Finding]] = {}
    for f in findings:
        if f.attention and f.kind == "unreviewed":
            waiting.setdefault(f.seed, []).append(f)
    notes = [f for f in findings if not f.attention]
    lines: list[str] = []
    if problems:
        lines.append(f"{len(problems)} mapping(s) to fix:")
        lines.extend(f"  - {f.message}" for f in problems)
    for seed, group in waiting.items():
        lines.append(
            f"{seed}: {len(group)} proposal(s) wait for review; check each and set reviewed "
            "to true:"
        )
        lines.extend(f"  - {f.detail}" for f in group)
    if notes:
        lines.append(f"{len(notes)} note(s), nothing to fix:")
        lines.extend(f"  - {f.message}" for f in notes)
    if not problems and not waiting:
        lines.append("Every mapping is complete, reviewed and points at a live QuickBooks record.")
    return lines
