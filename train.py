"""Retrain the matching model from outcome data.

    python train.py                        # from the database (DATABASE_URL or instance/matcher.db)
    python train.py --therapists T.csv --intakes I.csv --outcomes O.csv --model-dir DIR

A new version is saved under the model folder and becomes current only when it
beats the current model on the same held-out clients (``--force`` overrides).
A thin shim: all the work is in ``matcher.training``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from matcher import registry
from matcher.embed import SentenceTransformerEmbedder
from matcher.errors import MatcherError, ValidationError
from matcher.model import TRACK_RECORD_WEIGHT
from matcher.store import Store
from matcher.training import (
    ALLIANCE_THRESHOLD,
    train_and_register,
    training_set_from_files,
    training_set_from_store,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--therapists", help="therapists.csv (default: the database)")
    parser.add_argument("--intakes", help="intakes.csv")
    parser.add_argument("--outcomes", help="outcomes.csv")
    parser.add_argument("--database-url", help="default: DATABASE_URL or instance/matcher.db")
    parser.add_argument("--model-dir", help="model registry folder (default: ./models)")
    parser.add_argument("--force", action="store_true", help="promote even if not better")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when a current model exists (used by make run)",
    )
    parser.add_argument(
        "--alliance-threshold",
        type=float,
        default=ALLIANCE_THRESHOLD,
        help="alliance (0..40) at or above which an early relationship "
        f"counts as a click (default {ALLIANCE_THRESHOLD:g})",
    )
    parser.add_argument(
        "--track-record-weight",
        type=float,
        default=TRACK_RECORD_WEIGHT,
        help="share of the final score from the therapist's track record "
        f"(default {TRACK_RECORD_WEIGHT})",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, embedder=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks are not news
    model_dir = args.model_dir or registry.default_model_dir()
    if args.if_missing and registry.read_registry(model_dir).get("current"):
        print(f"a current model exists in {model_dir}; not training (drop --if-missing to retrain)")
        return 0
    base = embedder or SentenceTransformerEmbedder()
    files = {"therapists": args.therapists, "intakes": args.intakes, "outcomes": args.outcomes}
    try:
        if any(files.values()):
            if not all(files.values()):
                raise MatcherError("give all three of --therapists, --intakes and --outcomes")
            ts = training_set_from_files(
                files, base, alliance_threshold=args.alliance_threshold, progress=True
            )
        else:
            ts = training_set_from_store(
                Store(args.database_url),
                base,
                alliance_threshold=args.alliance_threshold,
                progress=True,
            )
        result = train_and_register(
            ts,
            model_dir,
            force=args.force,
            track_record_weight=args.track_record_weight,
            seed=args.seed,
            embedding_model=base.name,
            progress=True,
        )
    except ValidationError as error:
        print(f"train.py: {error}", file=sys.stderr)
        return 2
    except MatcherError as error:
        print(f"train.py: {error}", file=sys.stderr)
        return 0 if args.if_missing else 1
    status = "promoted to current" if result.promoted else "saved, not promoted"
    print(f"model {result.version}: {status} ({result.reason})")
    model = result.card["metrics"]["model"]
    print(
        f"held-out ROC AUC {model['roc_auc']:.3f}, ECE {model['ece']:.3f}, "
        f"top-1 click rate {model['top1_click_rate']:.3f} "
        f"(prior {result.card['metrics']['prior']['top1_click_rate']:.3f}, "
        f"random {result.card['metrics']['random']['top1_click_rate']:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
