"""The `fieldbooks` command's parser routes every documented subcommand."""

from __future__ import annotations

import pytest

from fieldbooks.cli import build_parser, parse_args


def test_sandbox_serve_passes_the_emulators_own_options_through():
    args = parse_args(
        ["sandbox", "serve", "--port", "9000", "--demo", "--tls", "--requests-per-minute", "500"]
    )
    assert args.port == 9000 and args.demo
    assert args.sandbox_options == ["--tls", "--requests-per-minute", "500"]


def test_every_step_of_the_design_has_a_command():
    parser = build_parser()
    for argv in (
        ["extract", "ops"],
        ["extract", "qbo"],
        ["transform"],
        ["validate"],
        ["validate", "raw"],
        ["load", "qbo"],
        ["load", "ops"],
        ["reconcile"],
        ["sync"],
        ["issues", "list"],
        ["issues", "retry", "--all-retryable"],
        ["ops", "seed"],
        ["ops", "simulate", "--days", "3"],
        ["demo"],
    ):
        assert callable(parser.parse_args(argv).func), argv


def test_unknown_options_elsewhere_are_refused():
    with pytest.raises(SystemExit):
        parse_args(["sync", "--tls"])
