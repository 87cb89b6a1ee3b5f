"""Validation suites (Great Expectations 1.x) at the boundaries: what enters and what leaves."""
