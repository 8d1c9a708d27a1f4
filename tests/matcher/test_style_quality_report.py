"""The held-out report of ``python -m bench.style_quality``: per set and pooled."""

from __future__ import annotations

import numpy as np

from bench.style_quality import HELDOUT_SETS, _bootstrap_intervals, heldout_records, heldout_report


def test_the_pooled_report_counts_every_set_and_gives_intervals(fake_embedder):
    names = HELDOUT_SETS[:2]
    total = sum(len(heldout_records(name)) for name in names)
    report = heldout_report(fake_embedder, *names)
    assert report.startswith(f"Held-out style sentences ({names[0]} + {names[1]}, {total})")
    sign = next(line for line in report.splitlines() if line.startswith("- sign:"))
    low, high = (float(x) for x in sign.split("(")[1].split(")")[0].split("-"))
    value = float(sign.split()[2])
    assert 0.0 <= low <= value <= high <= 1.0


def test_bootstrap_intervals_of_a_hand_worked_case():
    records = [
        {"text": "a", "kind": "plain", "challenge": 1},
        {"text": "b", "kind": "negated", "directive": -1},
        {"text": "c", "kind": "neutral"},
    ]
    values = np.zeros((3, 4))
    values[0, 3], values[1, 0] = 2.0, -1.0  # both right
    assert _bootstrap_intervals(values, records) == {
        "sign": " (1.000-1.000)",
        "negated": " (1.000-1.000)",
    }
    values[1, 0] = 1.0  # the negated one wrong: always 0 of 1
    assert _bootstrap_intervals(values, records)["negated"] == " (0.000-0.000)"
