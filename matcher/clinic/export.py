"""Writing CSV for people to open in a spreadsheet, safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

#: A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe.

    Numbers are left alone: ``-3`` is a rating, not a formula.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path | str) -> None:
    """Write ``frame`` as UTF-8 CSV with formula-like text neutralised."""
    safe = frame.apply(lambda column: column.map(spreadsheet_safe))
    safe.to_csv(path, index=False)
