"""Retrain the matching model from outcome data (the same as ``matcher train``).

    python train.py                        # from the database (DATABASE_URL or instance/matcher.db)
    python train.py --therapists T.csv --intakes I.csv --outcomes O.csv --model-dir DIR

A new version is saved under the model folder and becomes current only when it
beats the current model and the prior on the same held-out clients
(``--force`` overrides). A thin shim over :func:`matcher.cli.main`.
"""

from __future__ import annotations

import sys

from matcher.cli import main as matcher_main


def main(argv: list[str] | None = None, embedder=None) -> int:
    """``matcher train`` with ``argv``; ``embedder`` replaces the bundled model (tests)."""
    args = sys.argv[1:] if argv is None else argv
    return matcher_main(["train", *args], embedder=embedder)


if __name__ == "__main__":
    sys.exit(main())
