"""The ``matcher`` command: import, rank, style, simulate, demo data, training and models.

A thin edge over the library: parse arguments, call one function, print.
Exit status 0 on success, 2 when an input was rejected, 1 on other errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .api import Matcher
from .clinic.demo import stage_practice
from .clinic.export import write_csv
from .clinic.outbox import SmtpSettings, deliver_due, outbox_counts
from .clinic.retraining import training_set_from_store
from .clinic.store import Store, upgrade_schema
from .errors import MatcherError, Problem, ValidationError
from .learning import registry
from .learning.datasets import training_set_from_files
from .learning.model import TRACK_RECORD_WEIGHT
from .learning.training import train_and_register, training_summary
from .ranking.embed import CachedEmbedder, Embedder, SentenceTransformerEmbedder
from .ranking.policy import POLICIES
from .ranking.style import StyleInferrer
from .schema import read_csv_bytes, read_directory, read_tables, validate_frame
from .simulation import simulate_world
from .vocab import ALLIANCE_CUTOFF, STYLE_AXES

REASON_SEPARATOR = " | "


def _import(args: argparse.Namespace) -> int:
    if args.directory:
        tables = read_directory(args.directory)
    else:
        paths = {
            kind: path
            for kind, path in (
                ("therapists", args.therapists),
                ("intakes", args.intakes),
                ("outcomes", args.outcomes),
            )
            if path
        }
        if not paths:
            raise MatcherError(
                "give a folder, or at least one of --therapists/--intakes/--outcomes"
            )
        tables = read_tables(paths)
    summary = Store(args.database_url).import_tables(**tables)
    print(summary)
    return 0


def _rank(args: argparse.Namespace) -> int:
    matcher = Matcher.load(args.model_dir, args.therapists, database_url=args.database_url)
    intakes = read_tables({"intakes": args.intakes})["intakes"]
    policy = matcher.policy_for(args.policy)
    rankings = matcher.rank_many(intakes, k=args.top, policy=policy)
    rows = []
    for client_id, ranking in zip(intakes["client_id"], rankings, strict=True):
        for suggestion in ranking:
            rows.append(
                {
                    "client_id": client_id,
                    "rank": suggestion.rank,
                    "therapist_id": suggestion.therapist_id,
                    "score": round(suggestion.score, 4),
                    "reasons": REASON_SEPARATOR.join(suggestion.reasons),
                    "propensity": suggestion.propensity,
                }
            )
        if ranking.shortfall_message:
            print(f"{client_id}: {ranking.shortfall_message}", file=sys.stderr)
    columns = ["client_id", "rank", "therapist_id", "score", "reasons"]
    if policy.explores:  # the order was drawn: keep how likely it was
        columns.append("propensity")
    write_csv(pd.DataFrame(rows, columns=columns), args.out)
    print(
        f"ranked {len(intakes)} clients with the {matcher.model_version} scorer "
        f"({policy.name} policy); wrote {args.out}"
    )
    return 0


def _style(args: argparse.Namespace) -> int:
    frame = read_csv_bytes(Path(args.input).read_bytes(), Path(args.input).name)
    missing = [c for c in ("id", "text") if c not in frame.columns]
    if missing:
        name = Path(args.input).name
        raise ValidationError([Problem(c, "required column is missing", name) for c in missing])
    inferrer = StyleInferrer(CachedEmbedder(_embedder(args)))
    styles = inferrer.infer_texts(frame["text"].tolist())
    # rounded as float64: a float32 0.02 would be written as 0.019999999552965164
    out = pd.DataFrame(styles.astype(float).round(2), columns=list(STYLE_AXES))
    out.insert(0, "id", frame["id"].to_numpy())
    write_csv(out, args.out)
    print(f"inferred styles for {len(out)} texts; wrote {args.out}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    world = simulate_world(args.therapists, args.clients, seed=args.seed, history=not args.fresh)
    world.write_csv(args.out)
    print(f"wrote a simulated world (seed {args.seed}) to {args.out}")
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    store = Store(args.database_url)
    if not store.is_empty():
        print(f"the database already holds data ({store.counts()}); not seeding")
        return 0
    world = simulate_world(args.therapists, args.clients, seed=args.seed)
    # new clients of the same roster, still waiting: something for the coordinator's queue
    fresh = simulate_world(
        args.therapists, args.waiting, seed=args.seed, client_seed=args.seed + 1, history=False
    ).intakes
    fresh = fresh.assign(
        client_id=[f"W{i + 1:04d}" for i in range(len(fresh))],
        # the simulator does not model where clients live: spread them over three states
        region=[DEMO_REGIONS[i % len(DEMO_REGIONS)] for i in range(len(fresh))],
        age_group="adults",
    )
    licences = [DEMO_LICENCES[i % len(DEMO_LICENCES)] for i in range(len(world.therapists))]
    therapists = world.therapists.assign(licensed_regions=licences)
    print(
        store.import_tables(
            therapists=_validated(therapists, "therapists"),
            intakes=pd.concat(
                [_validated(world.intakes, "intakes"), _validated(fresh, "intakes")],
                ignore_index=True,
            ),
            outcomes=_validated(world.outcomes, "outcomes"),
        )
    )
    print(f"{args.waiting} of them are new clients waiting for placement")
    # Staging uses the product's own ranking (the prior, before any training).
    matcher = Matcher.load("", embedder=_embedder(args), store=store, strict=False)
    staged = stage_practice(store, matcher)
    print(
        f"staged the practice: {len(staged.placed)} clients placed with session feedback "
        f"(one not on track, one referral awaiting its therapist), client {staged.chose} "
        "chose a therapist"
    )
    return 0


#: Where the demo's therapists are licensed, and where its waiting clients live.
DEMO_LICENCES = ("california", "california;oregon", "oregon;washington", "washington;california")
DEMO_REGIONS = ("california", "oregon", "washington")


def _validated(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return validate_frame(frame, kind, f"simulated {kind}")


def _embedder(args: argparse.Namespace) -> Embedder:
    """The embedding model a caller passed to :func:`main` (tests), else the bundled one."""
    return args.embedder or SentenceTransformerEmbedder()


def _train(args: argparse.Namespace) -> int:
    model_dir = args.model_dir or registry.default_model_dir()
    if args.if_missing and registry.read_registry(model_dir).get("current"):
        print(f"a current model exists in {model_dir}; not training (drop --if-missing to retrain)")
        return 0
    files = {"therapists": args.therapists, "intakes": args.intakes, "outcomes": args.outcomes}
    if args.if_new_outcomes is not None:
        version, trained_on = registry.outcomes_at_last_training(model_dir)
        if args.outcomes:
            available = len(read_tables({"outcomes": args.outcomes})["outcomes"])
        else:
            available = Store(args.database_url).counts()["outcomes"]
        new = available - trained_on
        if new < args.if_new_outcomes:
            since = f"model {version} was trained" if version else "ever (no model yet)"
            print(
                f"{max(new, 0)} new outcomes since {since}, fewer than "
                f"{args.if_new_outcomes}; not training"
            )
            return 0
    embedder = _embedder(args)
    options = {"alliance_threshold": args.alliance_threshold, "progress": True}
    try:
        if any(files.values()):
            if not all(files.values()):
                raise MatcherError("give all three of --therapists, --intakes and --outcomes")
            ts = training_set_from_files(files, embedder, **options)
        else:
            ts = training_set_from_store(Store(args.database_url), embedder, **options)
        result = train_and_register(
            ts,
            model_dir,
            force=args.force,
            track_record_weight=args.track_record_weight,
            seed=args.seed,
            embedding_model=embedder.name,
            progress=True,
        )
    except ValidationError:
        raise
    except MatcherError as error:
        if not args.if_missing:
            raise
        print(f"matcher train: {error}", file=sys.stderr)
        return 0
    status = "promoted to current" if result.promoted else "saved, not promoted"
    print(f"model {result.version}: {status} ({result.reason})")
    print(training_summary(result.card))
    return 0


def _db(args: argparse.Namespace) -> int:
    print(upgrade_schema(args.database_url))
    return 0


def _outbox(args: argparse.Namespace) -> int:
    settings = SmtpSettings.from_env()
    if settings is None:
        raise MatcherError(
            "email is not set up: set MATCHER_SMTP_HOST and MATCHER_MAIL_FROM "
            "(see docs/operations.md); messages wait in the outbox, readable at /admin/outbox"
        )
    store = Store(args.database_url)
    report = deliver_due(store, settings)
    pending = outbox_counts(store)["pending"]
    print(
        f"sent {report.sent}, retried {report.retried}, failed {report.failed}, pending {pending}"
    )
    return 0


def _models(args: argparse.Namespace) -> int:
    model_dir = Path(args.model_dir) if args.model_dir else registry.default_model_dir()
    if args.action == "list":
        current = registry.read_registry(model_dir)
        if not current["versions"]:
            print(f"no trained models in {model_dir}; the prior scorer ranks")
        for version in sorted(current["versions"]):
            card = registry.read_card(model_dir, version)
            marker = "*" if version == current["current"] else " "
            metrics = card.get("metrics", {}).get("model", {})
            summary = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))
            print(f"{marker} {version}  {card.get('candidate', '?')}  {summary}")
    elif args.action == "promote":
        if not args.version:
            raise MatcherError("say which version to promote: matcher models promote VERSION")
        registry.promote(model_dir, args.version)
        print(f"{args.version} is now the current model")
    elif args.action == "rollback":
        print(f"{registry.rollback(model_dir)} is now the current model")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcher", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: DATABASE_URL or instance/matcher.db")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("import", help="validate and store contract CSV files, atomically")
    p.add_argument("directory", nargs="?", help="a folder with therapists/intakes/outcomes.csv")
    p.add_argument("--therapists")
    p.add_argument("--intakes")
    p.add_argument("--outcomes")
    p.set_defaults(run=_import)

    p = commands.add_parser("rank", help="rank therapists for every client in intakes.csv")
    p.add_argument("--therapists", help="therapists.csv (default: the database roster)")
    p.add_argument("--intakes", required=True)
    p.add_argument("--model-dir", help="model registry folder; empty means the prior scorer")
    p.add_argument("--top", type=int, default=5, help="suggestions per client (default 5)")
    p.add_argument(
        "--policy",
        choices=POLICIES,
        help="deterministic top k, or explore among near-ties "
        "(default: MATCHER_RANKING_POLICY, else deterministic)",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(run=_rank)

    p = commands.add_parser("style", help="infer style ratings from texts (columns id,text)")
    p.add_argument("--in", dest="input", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_style)

    p = commands.add_parser("simulate", help="write a simulated world in the CSV contract")
    p.add_argument("--out", required=True)
    p.add_argument("--therapists", type=int, default=60)
    p.add_argument("--clients", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fresh", action="store_true", help="intakes only, no outcome history")
    p.set_defaults(run=_simulate)

    p = commands.add_parser("seed-demo", help="fill an empty database with a simulated world")
    p.add_argument("--therapists", type=int, default=60)
    p.add_argument("--clients", type=int, default=1500, help="clients with history")
    p.add_argument("--waiting", type=int, default=12, help="new clients in the queue")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=_seed_demo)

    p = commands.add_parser("train", help="retrain from outcomes; promote only a better model")
    add_training_arguments(p)
    p.set_defaults(run=_train)

    p = commands.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=["upgrade"], help="apply pending schema migrations")
    p.set_defaults(run=_db)

    p = commands.add_parser("outbox", help="notification emails")
    p.add_argument("action", choices=["send"], help="send the messages that are due, once")
    p.set_defaults(run=_outbox)

    p = commands.add_parser("models", help="list, promote or roll back trained models")
    p.add_argument("action", choices=["list", "promote", "rollback"])
    p.add_argument("version", nargs="?")
    p.add_argument("--model-dir")
    p.set_defaults(run=_models)
    return parser


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``matcher train`` (and of ``python train.py``, its shim)."""
    parser.add_argument("--therapists", help="therapists.csv (default: the database)")
    parser.add_argument("--intakes", help="intakes.csv")
    parser.add_argument("--outcomes", help="outcomes.csv")
    # also accepted after the command, as train.py always did; SUPPRESS keeps a value
    # given before the command when it is not repeated here
    parser.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="default: DATABASE_URL or instance/matcher.db",
    )
    parser.add_argument("--model-dir", help="model registry folder (default: ./models)")
    parser.add_argument("--force", action="store_true", help="promote even if not better")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when a current model exists (used by make run)",
    )
    parser.add_argument(
        "--if-new-outcomes",
        type=int,
        metavar="N",
        help="do nothing (one line, exit 0) unless at least N outcomes arrived since the "
        "last training run (for cron or a systemd timer; see docs/operations.md)",
    )
    parser.add_argument(
        "--alliance-threshold",
        type=float,
        default=ALLIANCE_CUTOFF,
        help="alliance (0..40) at or above which an early relationship "
        f"counts as a click (default {ALLIANCE_CUTOFF:g})",
    )
    parser.add_argument(
        "--track-record-weight",
        type=float,
        default=TRACK_RECORD_WEIGHT,
        help="share of the final score from the therapist's track record "
        f"(default {TRACK_RECORD_WEIGHT})",
    )
    parser.add_argument("--seed", type=int, default=0)


def main(argv: Sequence[str] | None = None, *, embedder: Embedder | None = None) -> int:
    """Run one command; ``embedder`` replaces the bundled embedding model (tests)."""
    args = build_parser().parse_args(argv)
    args.embedder = embedder
    if getattr(args, "top", 1) < 1:
        print("matcher: --top must be at least 1", file=sys.stderr)
        return 2
    if (getattr(args, "if_new_outcomes", None) or 0) < 0:
        print("matcher: --if-new-outcomes must be at least 0", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except ValidationError as error:
        print(f"matcher: {error}", file=sys.stderr)
        return 2
    except MatcherError as error:
        print(f"matcher: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
