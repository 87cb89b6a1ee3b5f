"""Benchmark: invoices into the QuickBooks sandbox with its limits on, against the most they allow.

    .venv/bin/python bench/load_qbo.py all --invoices 10000 --others 5000 --window 20
    .venv/bin/python bench/load_qbo.py all --invoices 1000 --quick            # a quick check
    .venv/bin/python bench/load_qbo.py all --invoices 2000 --quick --profile  # cProfile of
                                                            # the load: /tmp/load_qbo.profile.txt

Issue 7's proof: N invoices (10,000 by default) written through fieldbooks' real write
path into the sandbox's demo company with QuickBooks' limits on (500 requests and 40 batch
requests per window, 10 in flight) and the window shrunk from a minute to `--window`
seconds; fieldbooks is given the same limits and window through its settings
(FIELDBOOKS_QBO_*), so its pacer paces to them. Achieved writes per window against
`CompanyPacer.writes_per_window()` (every batch request full, the rest of the request budget
spent on single writes).

`all`, for each tool, starts a fresh sandbox (`python -m qbo_sandbox --demo`, its own
process: QuickBooks is another machine, and the sandbox must not share the loader's GIL),
creates the customers the invoices bill (limits off, before anything is timed), reads them
and the demo company's service items back with a query, then turns the limits on
(`PUT /_sandbox/limits`, which starts counting afresh) and clears the request log. The tool
then runs in a child process; afterwards the parent reads the sandbox's request log (429s,
batch and single requests) and every invoice (how many of the run's DocNumbers exist, and
how many exist more than once).

- fieldbooks: `push.Loader.write_all` over `push.Write`s built with `payloads.invoice_payload`
  (two lines, one taxable; DocNumber the marker), a DuckDB warehouse with the state tables
  (`ensure_state`: ledger, events, issues), the client from `client.open_client` (paced).
  The product as it is: the Loader is subclassed only to observe (time its steps:
  warehouse before, requests, warehouse after; stamp when each chunk's writes were
  recorded and when each batch request was answered), nothing in its behaviour changes.
- fieldbooks_postgres: the same with a PostgreSQL warehouse (a diagnostic: the same code
  with statements that cost a fraction of a millisecond).
- batch_create: python-quickbooks `batch_create` (chunks of 30, no pacing) over `Invoice`
  objects, as documented: one call over every invoice.
- batch_create_retry: the same as a careful user would run it: one `batch_create` per 30
  invoices, and on a throttle error wait as Intuit advises (a minute, shrunk to the window)
  and send the chunk again.
- save_loop: a plain loop of `Invoice.save()`, no pacing, each failure counted and skipped.

Every child has a time cap; one that hits it is reported as capped.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import _harness as harness
from sandbox_throughput import CLIENT, REALM, REFRESH_TOKEN, access_token, free_port, wait_until_up

QBO_LIMITS = {"requests_per_minute": 500, "batch_requests_per_minute": 40}
CONCURRENCY = 10
BATCH_ITEMS = 30
CUSTOMERS = 25
CAP_SECONDS = 900
QUIET_ENV = {"GX_ANALYTICS_ENABLED": "false", **harness.QUIET_ENV}
TOOLS = (
    "fieldbooks",
    "fieldbooks_postgres",
    "batch_create",
    "batch_create_retry",
    "save_loop",
)


# ---- the sandbox: its own process, set up with limits off ---------------------------


def start_sandbox(port: int, db: str) -> subprocess.Popen:
    """The emulator as a user runs it, demo company, limits off until `limits_on`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qbo_sandbox", "--port", str(port), "--db", db, "--demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, "/_sandbox/health")
    return process


def _http(
    port: int, method: str, path: str, body: object = None, token: str | None = None
) -> object:
    """One JSON request to the sandbox; the parsed answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
    return json.loads(raw)


def prepare_company(port: int, tag: str) -> dict:
    """Customers to bill (the demo company has none) and the service items, as queried back."""
    token = access_token(port)
    base = f"/v3/company/{REALM}"
    for n in range(CUSTOMERS):
        _http(
            port,
            "POST",
            f"{base}/customer?minorversion=75",
            {"DisplayName": f"Bench {tag} {n}"},
            token,
        )

    def query(text: str) -> list[dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            f"{base}/query?minorversion=75",
            body=text,
            headers={
                "Authorization": "Bearer " + token,
                "Content-Type": "application/text",
                "Accept": "application/json",
            },
        )
        answer = json.loads(conn.getresponse().read())
        conn.close()
        entity = text.split()[3]
        return answer["QueryResponse"].get(entity, [])

    customers = [
        c["Id"]
        for c in query("select * from Customer MAXRESULTS 1000")
        if c["DisplayName"].startswith(f"Bench {tag} ")
    ]
    items = [i["Id"] for i in query("select * from Item MAXRESULTS 1000") if i["Type"] == "Service"]
    return {"customers": customers, "items": items}


def limits_on(port: int, window: float) -> dict:
    """QuickBooks' limits with the window shrunk; counting starts afresh, the log is emptied."""
    settings = _http(
        port,
        "PUT",
        "/_sandbox/limits",
        {**QBO_LIMITS, "max_concurrent_requests": CONCURRENCY, "throttle_window_seconds": window},
    )
    _http(port, "DELETE", f"/_sandbox/realms/{REALM}/requests")
    return settings


def sandbox_view(port: int, tag: str) -> dict:
    """What the sandbox saw: requests by kind and status, and the run's invoices by DocNumber."""
    log = _http(port, "GET", f"/_sandbox/realms/{REALM}/requests")
    statuses = Counter()
    for line in log:
        kind = "batch" if line["operation"] == "batch" else line["operation"] or "other"
        statuses[f"{kind} {line['status']}"] += 1
    invoices = _http(port, "GET", f"/_sandbox/realms/{REALM}/objects/Invoice")
    numbers = Counter(
        i.get("DocNumber")
        for i in invoices
        if i.get("status") != "Deleted" and str(i.get("DocNumber", "")).startswith(tag)
    )
    return {
        "sandbox_requests": dict(sorted(statuses.items())),
        "sandbox_429": sum(1 for line in log if line["status"] == 429),
        "invoices_in_quickbooks": len(numbers),
        "duplicate_doc_numbers": sum(1 for n in numbers.values() if n > 1),
    }


# ---- what every tool writes: the same invoices --------------------------------------


def invoice_rows(n: int, tag: str, refs: dict) -> list[tuple[dict, list[dict], str]]:
    """(sync_qbo_invoices row, its lines, customer id) for n invoices, each a unique DocNumber."""
    customers, items = refs["customers"], refs["items"]
    start = date(2026, 10, 1)
    rows = []
    for i in range(n):
        day = start + timedelta(days=i % 60)
        row = {
            "doc_number": f"{tag}-{i:05d}",
            "txn_date": day,
            "due_date": day + timedelta(days=30),
            "private_note": f"fieldbooks:invoice:{tag}-{i}",
            "tax_code_id": "1",
        }
        lines = [
            {
                "line_number": 1,
                "amount": Decimal("150.00") + i % 97,
                "description": "Service call",
                "qbo_item_id": items[i % len(items)],
                "quantity": Decimal("2"),
                "unit_price": (Decimal("150.00") + i % 97) / 2,
                "tax_code": "TAX",
            },
            {
                "line_number": 2,
                "amount": Decimal("49.50"),
                "description": "Trip charge",
                "qbo_item_id": items[(i + 1) % len(items)],
                "quantity": Decimal("1"),
                "unit_price": Decimal("49.50"),
                "tax_code": "NON",
            },
        ]
        rows.append((row, lines, customers[i % len(customers)]))
    return rows


# ---- children: one tool, one process ------------------------------------------------


def fieldbooks_env(port: int, home: str, window: float, warehouse: str) -> dict[str, str]:
    """A fieldbooks deployment against the sandbox, paced to the sandbox's limits and window."""
    base = f"http://127.0.0.1:{port}"
    return {
        "FIELDBOOKS_HOME": home,
        "FIELDBOOKS_WAREHOUSE_URL": warehouse,
        "FIELDBOOKS_QBO_BASE_URL": base,
        "FIELDBOOKS_QBO_DISCOVERY_URL": f"{base}/.well-known/openid_configuration",
        "FIELDBOOKS_QBO_REALM_ID": REALM,
        "FIELDBOOKS_QBO_REFRESH_TOKEN": REFRESH_TOKEN,
        "FIELDBOOKS_QBO_CLIENT_ID": CLIENT[0],
        "FIELDBOOKS_QBO_CLIENT_SECRET": CLIENT[1],
        "FIELDBOOKS_QBO_REQUESTS_PER_MINUTE": str(QBO_LIMITS["requests_per_minute"]),
        "FIELDBOOKS_QBO_BATCHES_PER_MINUTE": str(QBO_LIMITS["batch_requests_per_minute"]),
        "FIELDBOOKS_QBO_BATCH_ITEMS": str(BATCH_ITEMS),
        "FIELDBOOKS_QBO_CONCURRENCY": str(CONCURRENCY),
        "FIELDBOOKS_QBO_LIMIT_WINDOW_SECONDS": str(window),
        # Intuit's "wait a minute after a 429", shrunk with the minute
        "FIELDBOOKS_QBO_THROTTLED_WAIT_SECONDS": str(window),
    }


def per_window(
    chunks: list[tuple[float, int, float]], started: float, window: float
) -> tuple[list[int], list[float]]:
    """Writes recorded in each window [k*W, (k+1)*W) from the start, and the warehouse
    bookkeeping's milliseconds per write in it."""
    writes: list[int] = []
    ledger: list[float] = []
    for at, n, seconds in chunks:
        k = int((at - started) // window)
        writes.extend([0] * (k + 1 - len(writes)))
        ledger.extend([0.0] * (k + 1 - len(ledger)))
        writes[k] += n
        ledger[k] += seconds
    return writes, [
        round(1000 * s / n, 1) if n else 0.0 for s, n in zip(ledger, writes, strict=True)
    ]


def busiest_window(chunks: list[tuple[float, int, float]], window: float) -> int:
    """The most writes recorded in any window-long stretch (sliding)."""
    best = total = left = 0
    for at, n, _ in chunks:
        total += n
        while chunks[left][0] <= at - window:
            total -= chunks[left][1]
            left += 1
        best = max(best, total)
    return best


def run_fieldbooks(args) -> dict:
    """fieldbooks' write path: Loader.write_all over invoice Writes, the ledger in the warehouse."""
    import cProfile
    import pstats

    from fieldbooks.config import load_settings
    from fieldbooks.money import dumps_exact
    from fieldbooks.qbo import push
    from fieldbooks.qbo.client import open_client
    from fieldbooks.qbo.payloads import invoice_payload
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.state import ensure_state

    class TimedLoader(push.Loader):
        """The real Loader, each step timed: per chunk, when its writes were recorded, how
        many, and the seconds spent on the warehouse (ledger, audit log, issues)."""

        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, **kw)
            self.seconds: Counter = Counter()
            self.chunks: list[tuple[float, int, float]] = []
            self.batch_answers: list[float] = []
            self._ok = 0

        def _timed(self, key: str, call, *a, **kw):
            started = time.perf_counter()
            try:
                return call(*a, **kw)
            finally:
                self.seconds[key] += time.perf_counter() - started

        def _write_chunk(self, chunk):
            sent = self.seconds["send_batch"] + self.seconds["send_single"]
            started = time.perf_counter()
            self._timed("chunk", super()._write_chunk, chunk)
            now = time.perf_counter()
            sending = self.seconds["send_batch"] + self.seconds["send_single"] - sent
            self.chunks.append((now, self._ok, now - started - sending))

        def _send_batch(self, batch):
            outcomes = self._timed("send_batch", super()._send_batch, batch)
            self.batch_answers.append(time.perf_counter())
            return outcomes

        def _send_alone(self, plan, suspect=False, fresh_token=False):
            return self._timed("send_single", super()._send_alone, plan, suspect, fresh_token)

        def _finish(self, outcomes):
            self._timed("ledger_after", super()._finish, outcomes)
            self._ok = sum(1 for _, outcome in outcomes if not isinstance(outcome, Exception))

    settings = load_settings(fieldbooks_env(args.port, args.home, args.window, args.warehouse))
    refs = json.loads(args.refs)
    writes = []
    for row, lines, customer in invoice_rows(args.invoices, args.tag, refs):
        body = invoice_payload(row, lines, customer)
        writes.append(
            push.Write(
                entity="invoice",
                ops_id=row["doc_number"],
                operation="create",
                body=body,
                payload_hash=hashlib.sha256(dumps_exact(body).encode()).hexdigest(),
                marker=row["doc_number"],
            )
        )
    client = open_client(settings.qbo, settings.token_store)
    pacer = client.pacer
    report = push.LoadReport()
    profile = cProfile.Profile() if args.profile else None
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        loader = TimedLoader(wh, client, REALM, "bench-load-qbo", report, settings.qbo.limits)
        started = time.perf_counter()
        if profile:
            profile.enable()
        loader.write_all(writes)
        if profile:
            profile.disable()
        seconds = time.perf_counter() - started
        ledger = dict(
            wh.fetchall(
                "select state, count(*) from fieldbooks.sync_ledger "
                "where entity = 'invoice' group by state"
            )
        )
    if profile:
        stats = pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(45)
    writes_per_window, ledger_ms = per_window(loader.chunks, started, args.window)
    timed = loader.seconds
    sends = timed["send_batch"] + timed["send_single"]
    return {
        "caller_written": report.written["invoice"],
        "caller_failed": sum(report.failed.values()),
        "seconds": seconds,
        "requests": dict(loader.sent),
        "client_429": pacer.throttled,
        "pacer_wait_seconds": round(pacer.waited_seconds, 2),
        "max_per_window": pacer.writes_per_window(),
        "per_window": writes_per_window,
        "ledger_ms_per_write_per_window": ledger_ms,
        "busiest_window": busiest_window(loader.chunks, args.window),
        # window n's first batch request (its quota's first) answered this long after n × W
        "window_late_seconds": [
            round(at - started - n * args.window, 2)
            for n, at in enumerate(loader.batch_answers[:: settings.qbo.limits.batches_per_window])
        ],
        "seconds_in": {
            "ledger_before": round(timed["chunk"] - sends - timed["ledger_after"], 2),
            "requests_incl_pacer_wait": round(sends, 2),
            "ledger_after": round(timed["ledger_after"], 2),
            "plan_and_ledger_read": round(seconds - timed["chunk"], 2),
        },
        "ledger_states": ledger,
    }


def _qb_client(port: int):
    """A python-quickbooks client as its README sets one up (no pacer)."""
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    base = f"http://127.0.0.1:{port}"
    auth = AuthClient(
        CLIENT[0],
        CLIENT[1],
        "http://127.0.0.1/callback",
        environment=f"{base}/.well-known/openid_configuration",
    )
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=REFRESH_TOKEN,
        company_id=REALM,
        minorversion=75,
        use_decimal=True,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = f"{base}/v3"
    return qb


def qb_invoices(n: int, tag: str, refs: dict) -> list:
    """The same invoices as python-quickbooks `Invoice` objects."""
    from quickbooks.objects.base import Ref
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice
    from quickbooks.objects.tax import TxnTaxDetail

    def ref(value: str) -> Ref:
        result = Ref()
        result.value = value
        return result

    invoices = []
    for row, lines, customer in invoice_rows(n, tag, refs):
        invoice = Invoice()
        invoice.CustomerRef = ref(customer)
        invoice.DocNumber = row["doc_number"]
        invoice.TxnDate = str(row["txn_date"])
        invoice.DueDate = str(row["due_date"])
        invoice.PrivateNote = row["private_note"]
        for line in lines:
            item = SalesItemLine()
            item.Amount = line["amount"]
            item.Description = line["description"]
            item.SalesItemLineDetail = SalesItemLineDetail()
            item.SalesItemLineDetail.ItemRef = ref(line["qbo_item_id"])
            item.SalesItemLineDetail.Qty = line["quantity"]
            item.SalesItemLineDetail.UnitPrice = line["unit_price"]
            item.SalesItemLineDetail.TaxCodeRef = ref(line["tax_code"])
            invoice.Line.append(item)
        invoice.TxnTaxDetail = TxnTaxDetail()
        invoice.TxnTaxDetail.TxnTaxCodeRef = ref(row["tax_code_id"])
        invoices.append(invoice)
    return invoices


def _throttled(exc: BaseException) -> bool:
    """Whether python-quickbooks raised for a 429 (it cannot read the XML body: code 10000)."""
    text = f"{getattr(exc, 'message', exc)} {getattr(exc, 'detail', '')}"
    return "ThrottleExceeded" in text or "statusCode=429" in text


def run_batch_create(args, retry: bool) -> dict:
    """python-quickbooks' batch_create: over everything at once, or per 30 with a wait on 429."""
    from quickbooks.batch import batch_create

    qb = _qb_client(args.port)
    invoices = qb_invoices(args.invoices, args.tag, json.loads(args.refs))
    written = faults = throttled = 0
    errors: Counter = Counter()
    capped = False
    started = time.perf_counter()
    if not retry:
        try:
            result = batch_create(invoices, qb=qb)
            written, faults = len(result.successes), len(result.faults)
        except Exception as exc:  # what a user's call gets: one exception, partial work
            throttled += _throttled(exc)
            errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
    else:
        for i in range(0, len(invoices), BATCH_ITEMS):
            chunk = invoices[i : i + BATCH_ITEMS]
            while True:
                try:
                    result = batch_create(chunk, qb=qb)
                except Exception as exc:
                    if not _throttled(exc):
                        raise
                    throttled += 1
                    time.sleep(args.window)  # Intuit: wait a minute (shrunk with it)
                    continue
                written += len(result.successes)
                faults += len(result.faults)
                for fault in result.faults:
                    errors[str(fault.Error[0].Message if fault.Error else fault)[:120]] += 1
                break
            if time.perf_counter() - started > args.cap:
                capped = True
                break
    seconds = time.perf_counter() - started
    return {
        "caller_written": written,
        "caller_failed": args.invoices - written,
        "item_faults": faults,
        "client_429": throttled,
        "seconds": seconds,
        "errors": dict(errors.most_common(3)),
        "capped": capped,
    }


def run_save_loop(args) -> dict:
    """Invoice.save() one after another, no pacing; a failure is counted and skipped."""
    qb = _qb_client(args.port)
    invoices = qb_invoices(args.invoices, args.tag, json.loads(args.refs))
    written = throttled = 0
    errors: Counter = Counter()
    capped = False
    started = time.perf_counter()
    for invoice in invoices:
        try:
            invoice.save(qb=qb)
            written += 1
        except Exception as exc:
            throttled += _throttled(exc)
            errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
        if time.perf_counter() - started > args.cap:
            capped = True
            break
    seconds = time.perf_counter() - started
    return {
        "caller_written": written,
        "caller_failed": args.invoices - written,
        "client_429": throttled,
        "seconds": seconds,
        "errors": dict(errors.most_common(3)),
        "capped": capped,
    }


# ---- the parent ---------------------------------------------------------------------


def _summary(record: dict, window: float, max_per_window: int) -> dict:
    """Invoices QuickBooks got (and did not), windows elapsed, writes per window and its
    share of the most the limits allow (when the run lasted a window at least)."""
    seconds = record["seconds"]
    written = record["invoices_in_quickbooks"]
    windows = seconds / window
    record["seconds"] = round(seconds, 2)
    record["not_written"] = record["invoices"] - written
    record["windows"] = round(windows, 2)
    if windows >= 1:
        record["writes_per_window"] = round(written / windows)
        record["percent_of_max"] = round(100 * written / windows / max_per_window, 1)
    return record


def measure(tool: str, invoices: int, window: float, cap: float, profile: bool) -> dict:
    """One tool against a fresh sandbox with the limits on; its record and the sandbox's view."""
    from fieldbooks.qbo.pacing import CompanyPacer, Limits

    max_per_window = CompanyPacer(
        Limits(
            requests_per_window=QBO_LIMITS["requests_per_minute"],
            batches_per_window=QBO_LIMITS["batch_requests_per_minute"],
            batch_items=BATCH_ITEMS,
            window_seconds=window,
        )
    ).writes_per_window()
    tag = f"B{time.strftime('%H%M%S')}"  # DocNumbers at most 21 characters
    workdir = tempfile.mkdtemp(prefix="fb_bench_qbo_")
    database = harness.create_database("fb_bench_") if tool == "fieldbooks_postgres" else None
    warehouse = (
        harness.PG_URL.format(name=database)
        if database
        else f"duckdb:///{workdir}/warehouse.duckdb"
    )
    port = free_port()
    sandbox = start_sandbox(port, os.path.join(workdir, "qbo.sqlite3"))
    try:
        refs = prepare_company(port, tag)
        limits = limits_on(port, window)
        child = [
            "--tool", tool, "--port", str(port), "--invoices", str(invoices), "--window",
            str(window), "--tag", tag, "--refs", json.dumps(refs), "--home", workdir,
            "--cap", str(cap), "--warehouse", warehouse,
        ]  # fmt: skip
        if profile:
            child.append("--profile")
        load_before = [round(x, 2) for x in os.getloadavg()]
        done, seconds = harness.run_child(__file__, child, QUIET_ENV, cap + 120)
        if done is None:
            record = {"capped": True, "seconds": round(seconds)}
        elif done.returncode:
            record = {"error": done.stderr.strip().splitlines()[-8:]}
        else:
            record = harness.last_record(done.stdout)
            if profile:
                record["profile"] = str(Path(tempfile.gettempdir(), "load_qbo.profile.txt"))
                Path(record["profile"]).write_text(done.stderr)
        view = sandbox_view(port, tag)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
        if database:
            harness.drop_database(database)
    record = {
        "tool": tool,
        "invoices": invoices,
        "window_seconds": window,
        "max_per_window": max_per_window,
        **record,
        **view,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "sandbox_limits": limits,
    }
    if "error" not in record:
        record = _summary(record, window, max_per_window)
    return record


def main(argv: list[str] | None = None) -> int:
    """Run one tool (a child), or every tool against its own sandbox."""
    parser, one, every = harness.commands(__doc__)
    one.add_argument("--tool", choices=TOOLS, required=True)
    one.add_argument("--port", type=int, required=True)
    one.add_argument("--invoices", type=int, required=True)
    one.add_argument("--window", type=float, required=True)
    one.add_argument("--tag", required=True)
    one.add_argument("--refs", required=True)
    one.add_argument("--home", required=True)
    one.add_argument("--warehouse", default=None, help="the fieldbooks warehouse URL")
    one.add_argument("--cap", type=float, default=CAP_SECONDS)
    one.add_argument("--profile", action="store_true")
    every.add_argument("--invoices", type=int, default=10_000, help="for the fieldbooks runs")
    every.add_argument("--window", type=float, default=20.0)
    every.add_argument(
        "--others", type=int, default=None, help="for the python-quickbooks runs (default: same)"
    )
    every.add_argument("--tools", default=",".join(TOOLS))
    every.add_argument("--cap", type=float, default=CAP_SECONDS)
    every.add_argument("--profile", action="store_true", help="cProfile the fieldbooks child")
    every.add_argument("--quick", action="store_true", help="fieldbooks (DuckDB) only")
    args = parser.parse_args(argv)
    if args.command == "all":
        harness.emit(
            {
                "machine": harness.machine(
                    load_average=True, packages=("python-quickbooks", "duckdb", "uvicorn")
                )
            }
        )
        tools = ["fieldbooks"] if args.quick else args.tools.split(",")
        for tool in tools:
            count = args.invoices if tool.startswith("fieldbooks") else args.others or args.invoices
            harness.emit(
                measure(tool, count, args.window, args.cap, args.profile and tool == "fieldbooks")
            )
        return 0
    if args.tool.startswith("fieldbooks"):
        result = run_fieldbooks(args)
    elif args.tool == "save_loop":
        result = run_save_loop(args)
    else:
        result = run_batch_create(args, retry=args.tool == "batch_create_retry")
    result["peak_rss_mb"] = harness.peak_rss_mb()
    harness.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
