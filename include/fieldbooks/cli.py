"""The `fieldbooks` command: every pipeline step outside Airflow, with the DAG's own functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from fieldbooks.config import Settings, load_settings

# the company every command works on (`--company KEY`); None: FIELDBOOKS_* as today
_COMPANY: str | None = None


def _settings() -> Settings:
    """The settings of the company the command line names, else of the deployment."""
    if _COMPANY is None:
        return load_settings()
    from fieldbooks.companies import CompaniesFileError, load_company

    try:
        return load_company(_COMPANY).settings
    except CompaniesFileError as exc:
        raise SystemExit(f"fieldbooks: {exc}") from None


def _print(value: Any) -> None:
    """Print a step's result as readable JSON."""
    print(json.dumps(value, indent=2, default=str))


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from qbo_sandbox.server import main as sandbox_main

    argv = ["--host", args.host, "--port", str(args.port), "--db", args.db]
    if args.demo:
        argv.append("--demo")
    # Everything else (company fixture, limits, fault plan, TLS, webhooks) is the
    # emulator's own option, passed through as given: `python -m qbo_sandbox --help`.
    return sandbox_main(argv + args.sandbox_options) or 0


def _cmd_ops_seed(args: argparse.Namespace) -> int:
    from fieldbooks.ops.seed import seed

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    counts = seed(
        settings.ops_url,
        args.scale,
        seed=args.seed,
        customers=args.customers,
        invoices=args.invoices,
        dirty=args.dirty,
    )
    _print(counts.rows)
    return 0


def _cmd_ops_simulate(args: argparse.Namespace) -> int:
    from datetime import datetime

    from fieldbooks.ops.simulate import simulate

    start = datetime.fromisoformat(args.start) if args.start else None
    report = simulate(_settings().ops_url, args.days, seed=args.seed, start=start)
    _print(report.as_dict())
    return 0


def _cmd_ops_check(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from fieldbooks.ops.checksum import database_checksum
    from fieldbooks.ops.invariants import check_invariants

    engine = create_engine(_settings().ops_url)
    try:
        violations = check_invariants(engine)
        for v in violations[:50]:
            print(f"{v.rule}: {v.table} {v.record_id}: {v.detail}")
        print(f"{len(violations)} violation(s)")
        print(f"checksum {database_checksum(engine)}")
    finally:
        engine.dispose()
    return 1 if violations else 0


def _cmd_ops_diagram(args: argparse.Namespace) -> int:
    from fieldbooks.ops.diagram import write_docs

    for path in write_docs():
        print(f"wrote {path}")
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    settings = _settings()
    if args.accept_type_change:
        if args.side != "ops":
            raise SystemExit("--accept-type-change applies to `extract ops` only")
        from fieldbooks.ops.extract import accept_type_change

        try:
            kept = accept_type_change(settings, args.accept_type_change)
        except ValueError as exc:
            raise SystemExit(f"fieldbooks: {exc}") from None
        for name in kept:
            print(f"kept the old values in raw_ops.{args.accept_type_change}.{name}")
        print(f"raw_ops.{args.accept_type_change} is re-read in full now")
    if args.side == "ops":
        _print(pipeline.step_extract_ops(settings, pipeline.new_run_id()))
    else:
        _print(pipeline.step_extract_qbo(settings))
    return 0


def _cmd_transform(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    _print(pipeline.step_transform(_settings()))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    step = pipeline.step_validate_raw if args.suites == "raw" else pipeline.step_validate
    _print(step(_settings(), args.run_id or pipeline.new_run_id()))
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    step = pipeline.step_load_quickbooks if args.side == "qbo" else pipeline.step_load_ops
    _print(step(_settings(), args.run_id or pipeline.new_run_id()))
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    result = pipeline.step_reconcile(_settings(), args.run_id or pipeline.new_run_id())
    print("\n".join(result["lines"]))
    return 0 if result["ties_out"] else 1


def _cmd_sync(args: argparse.Namespace) -> int:
    from fieldbooks import pipeline

    result = pipeline.sync(_settings(), args.run_id)
    print("\n".join(result["lines"]))
    return 0 if result["ties_out"] else 1


def _cmd_issues(args: argparse.Namespace) -> int:
    from fieldbooks.issues import dismiss_issue, list_issues, mark_retrying
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.state import ensure_state

    settings = _settings()
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        if args.action == "list":
            rows = list_issues(wh, None if args.all else "open", args.kind)
            for row in rows:
                print(
                    f"{row['issue_id']}  {row['status']:<9} {row['kind']:<22} {row['entity']:<9} "
                    f"ops={row['ops_id'] or '-'} qbo={row['qbo_id'] or '-'} attempts={row['attempts']}"
                )
                print(f"    reason: {row['reason']}")
                print(f"    hint:   {row['hint']}")
            print(f"{len(rows)} issue(s)")
            return 0
        if args.action == "dismiss":
            if len(args.issue_ids) != 1 or not args.reason:
                print("dismiss takes one issue id and --reason", file=sys.stderr)
                return 2
            if not dismiss_issue(wh, args.issue_ids[0], args.reason):
                print(f"no issue {args.issue_ids[0]}", file=sys.stderr)
                return 1
            print(f"dismissed {args.issue_ids[0]}")
            return 0
        if not args.issue_ids and not args.all_retryable:
            print("retry takes issue ids or --all-retryable", file=sys.stderr)
            return 2
        chosen = mark_retrying(wh, None if args.all_retryable else args.issue_ids)
    print(f"{len(chosen)} issue(s) marked for retry")
    if args.no_run or not chosen:
        return 0
    from fieldbooks import pipeline

    result = pipeline.sync(settings)
    print("\n".join(result["lines"]))
    return 0


def _cmd_mapping(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fieldbooks import mapping

    settings = _settings()
    seeds_dir = Path(args.seeds_dir) if args.seeds_dir else mapping.default_seeds_dir(settings)
    try:
        if args.action == "suggest":
            print("\n".join(mapping.suggest_lines(mapping.suggest(settings, seeds_dir))))
            return 0
        findings = mapping.check(settings, seeds_dir)
    except mapping.MappingError as exc:
        print(f"fieldbooks: {exc}", file=sys.stderr)
        return 2
    print("\n".join(mapping.check_lines(findings)))
    return 1 if any(f.attention for f in findings) else 0


def _cmd_dbt_manifest(args: argparse.Namespace) -> int:
    from fieldbooks.orchestration import build_manifest, ensure_manifest

    path = build_manifest() if args.force else ensure_manifest()
    print(f"dbt manifest: {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from fieldbooks.demo import run_demo

    return run_demo(airflow=not args.no_airflow)


def _cmd_connect(args: argparse.Namespace) -> int:
    from fieldbooks.connect import ConnectError, connect

    try:
        connect(
            args.company,
            port=args.port,
            redirect_uri=args.redirect_uri,
            open_browser=not args.no_browser,
            timeout=args.timeout,
            use_airflow=False if args.no_airflow else None,
        )
    except ConnectError as exc:
        print(f"fieldbooks connect: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="fieldbooks", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument(
        "--company",
        metavar="KEY",
        default=None,
        help="the company to work on, from FIELDBOOKS_COMPANIES_FILE (default: the "
        "FIELDBOOKS_* settings, i.e. the company `default`)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the whole job on embedded defaults")
    demo.add_argument(
        "--no-airflow",
        action="store_true",
        help="run the steps directly, not through `airflow dags test`",
    )
    demo.set_defaults(func=_cmd_demo)

    manifest = sub.add_parser(
        "dbt-manifest",
        help="build dbt_project/target/manifest.json, which the Airflow DAGs draw dbt tasks from",
    )
    manifest.add_argument("--force", action="store_true", help="rebuild even when current")
    manifest.set_defaults(func=_cmd_dbt_manifest)

    sandbox = sub.add_parser("sandbox", help="the local QuickBooks Online emulator")
    sandbox_sub = sandbox.add_subparsers(dest="action", required=True)
    serve = sandbox_sub.add_parser("serve", help="start the emulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db", default=str(load_settings().home / "qbo_sandbox.sqlite"))
    serve.add_argument("--demo", action="store_true", help="create the demo company")
    # Any further option is the emulator's own (python -m qbo_sandbox --help), e.g. --tls.
    serve.set_defaults(func=_cmd_sandbox_serve, sandbox_options=[])

    ops = sub.add_parser("ops", help="the reference operations DB")
    ops_sub = ops.add_subparsers(dest="action", required=True)
    seed = ops_sub.add_parser(
        "seed",
        help="create the schema and deterministic data: small (the demo), medium, large",
    )
    seed.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--invoices", type=int, default=None, help="exactly this many invoices")
    seed.add_argument(
        "--customers", type=int, default=None, help="default: the scale's ratio to invoices"
    )
    seed.add_argument(
        "--dirty",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="dirty-on-purpose records (default: on for medium and large, off for small)",
    )
    seed.set_defaults(func=_cmd_ops_seed)
    simulate = ops_sub.add_parser("simulate", help="play working days into the operations DB")
    simulate.add_argument("--days", type=int, required=True)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--start", default=None, help="ISO time of the first day (default: after the newest change)"
    )
    simulate.set_defaults(func=_cmd_ops_simulate)
    check = ops_sub.add_parser("check", help="check the invariants; print the content checksum")
    check.set_defaults(func=_cmd_ops_check)
    diagram = ops_sub.add_parser("diagram", help="redraw docs/ops_schema.md (and .png with dot)")
    diagram.set_defaults(func=_cmd_ops_diagram)

    extract = sub.add_parser("extract", help="step 1 or 2: copy changes into the warehouse")
    extract.add_argument("side", choices=["ops", "qbo"])
    extract.add_argument(
        "--accept-type-change",
        metavar="TABLE",
        help="adopt the operations DB's new column types for TABLE (old values kept), then extract",
    )
    extract.set_defaults(func=_cmd_extract)

    sub.add_parser("transform", help="step 3: dbt build").set_defaults(func=_cmd_transform)

    validate = sub.add_parser(
        "validate", help="step 4: outbound validation suites (raw: the raw contracts, step 2b)"
    )
    validate.add_argument("suites", nargs="?", choices=["outbound", "raw"], default="outbound")
    validate.add_argument("--run-id", default=None)
    validate.set_defaults(func=_cmd_validate)

    for name, func, help_text in (
        ("reconcile", _cmd_reconcile, "step 6: reconciliation and run summary"),
        ("sync", _cmd_sync, "steps 1-6 in order"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--run-id", default=None)
        p.set_defaults(func=func)

    load = sub.add_parser("load", help="step 5: write to QuickBooks (qbo) or operations (ops)")
    load.add_argument("side", choices=["qbo", "ops"])
    load.add_argument("--run-id", default=None)
    load.set_defaults(func=_cmd_load)

    issues = sub.add_parser("issues", help="the discrepancy queue")
    issues.add_argument("action", choices=["list", "dismiss", "retry"])
    issues.add_argument("issue_ids", nargs="*", metavar="ISSUE_ID")
    issues.add_argument("--reason", default=None, help="why an issue is dismissed")
    issues.add_argument("--kind", default=None, help="list only issues of this kind")
    issues.add_argument("--all", action="store_true", help="list resolved and dismissed too")
    issues.add_argument("--all-retryable", action="store_true", help="retry every open issue")
    issues.add_argument("--no-run", action="store_true", help="retry: mark only, sync later")
    issues.set_defaults(func=_cmd_issues)

    mapping = sub.add_parser("mapping", help="the mapping seeds an accountant reviews")
    mapping_sub = mapping.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("suggest", "propose mappings by name into the seed files (reviewed rows are kept)"),
        ("check", "list unmapped records and mappings to inactive or deleted QuickBooks records"),
    ):
        p = mapping_sub.add_parser(name, help=help_text)
        p.add_argument(
            "--seeds-dir",
            default=None,
            help="the seed files' folder (default: the company's mapping folder)",
        )
        p.set_defaults(func=_cmd_mapping)

    connect = sub.add_parser(
        "connect", help="connect a QuickBooks company (OAuth 2.0) and store its connection"
    )
    connect.add_argument(
        "--company",
        default=argparse.SUPPRESS,
        help="company key (the same as the global --company; default: `default`)",
    )
    connect.add_argument(
        "--port", type=int, default=0, help="callback port on 127.0.0.1 (default: a free one)"
    )
    connect.add_argument(
        "--redirect-uri",
        metavar="URL",
        default=None,
        help="the redirect URI registered for the app: an https one (production keys) is not "
        "listened on, you paste the address QuickBooks sent your browser to; a "
        "http://127.0.0.1:<port>/… one is listened on (default: http://127.0.0.1:<port>/callback)",
    )
    connect.add_argument(
        "--no-browser", action="store_true", help="print the address instead of opening it"
    )
    connect.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds to wait for the listener's redirect (not for a pasted address)",
    )
    connect.add_argument("--no-airflow", action="store_true", help="store in the token store only")
    connect.set_defaults(func=_cmd_connect)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line; `sandbox serve` passes options it does not know to the emulator."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.func is not _cmd_sandbox_serve:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.sandbox_options = extra
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fieldbooks` command."""
    global _COMPANY
    args = parse_args(argv)
    _COMPANY = args.company
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
