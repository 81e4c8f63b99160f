"""Per-category confidence calibration (agent/signals/calibration.yaml, fitted by bench/crossval.py)."""

from __future__ import annotations

import pytest

from agent.signals import default_calibration, load_calibration

TABLE = """
points:
  - [0.6, 0.8]
  - [0.9, 0.95]
categories:
  network:
    - [0.6, 0.5]
    - [0.9, 0.6]
"""


def test_a_category_with_a_table_uses_it_and_others_use_the_table_over_all() -> None:
    table = load_calibration(TABLE)
    assert table.apply(0.9, "network") == pytest.approx(0.6)
    assert table.apply(0.75, "network") == pytest.approx(0.55)
    assert table.apply(0.9, "lint") == pytest.approx(0.95)
    assert table.apply(0.9) == pytest.approx(0.95)


def test_a_table_without_categories_still_loads() -> None:
    assert load_calibration("points:\n  - [0.5, 0.7]\n").apply(0.9, "test") == pytest.approx(0.7)


def test_a_falling_category_table_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match=r"categories\.network"):
        load_calibration(
            "points:\n  - [0.5, 0.7]\ncategories:\n  network:\n    - [0.5, 0.7]\n    - [0.9, 0.6]\n"
        )


def test_packaged_tables_rise_and_network_answers_read_less_sure_than_lint() -> None:
    # Measured on the development folds: at the same raw confidence network answers were right about half
    # the time and lint answers nearly always (docs/benchmarks.md).
    table = default_calibration()
    raws = [i / 100 for i in range(101)]
    for category in (*table.by_category, None):
        calibrated = [table.apply(r, category) for r in raws]
        assert calibrated == sorted(calibrated) and all(0.0 <= c <= 1.0 for c in calibrated)
    assert table.apply(0.9, "network") < table.apply(0.9, "test") < table.apply(0.9, "lint")
