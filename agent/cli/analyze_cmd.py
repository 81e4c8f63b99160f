"""`cimedic analyze`: placeholder until the engine lands."""

from __future__ import annotations


def analyze_command() -> None:
    """Analyze CI logs."""
    raise SystemExit("not yet")
