"""A simulated year of the learning loop: deterministic against exploring rankings.
``python -m bench.loop [--quick]`` (not part of ``make bench``).

A practice runs for 52 weeks through the product's own code paths: every week new clients
arrive and are stored and ranked by the policy under test (``submit_intake`` on a
``Store``, ``Matcher.rank``); each client picks one of the suggestions shown (a position
bias: the first is picked most often) and a coordinator places them under capacity
(``record_choice``, ``place_client``; the next suggestion when the chosen one is full, a
new ranking the week after when all are); the early relationship becomes known four weeks
later, drawn from the simulator's truth and imported as an outcome; placements end
(``end_placement``) and free their places; every four weeks the model retrains through
the real path and gate (``training_set_from_store``, ``train_and_register``); six new
therapists join between weeks 12 and 32. The practice starts with a year-old log of
uniformly logged placements (with their propensities), as a practice that has run
before.

Measured per run (the same world, clients and seeds for both policies):

* the cumulative rate of good early relationships: the mean true click probability of
  every placement of the year (and the realised rate);
* the learned model's gain at month 12: the normalised top-1 quality of the model in
  use at the end (the gate's choice) on fresh clients of the same roster, minus the
  prior's (quality 0 = a random eligible therapist, 1 = the best; see bench.quality);
* the share of therapists ever placed during the year;
* new therapists' time to first placement, in weeks (never placed: censored);
* the expected score the exploring policy gave up (a share of the top score).

Texts are embedded by a hashing bag-of-words embedder by default (fast and offline; the
product's real embedder with ``--embedder real``). docs/model.md holds the last report.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import HashingEmbedder

#: Founding therapists, and new ones joining mid-year (one in each of these weeks).
FOUNDING = 60
JOIN_WEEKS = (12, 16, 20, 24, 28, 32)
WEEKS = 52
ARRIVALS = 20  # new clients a week
HISTORY = 2500  # clients placed before the year starts (their outcomes are the log)
#: Places added to every simulated therapist's capacity (the simulator's 0-6 is a snapshot
#: of a busy practice; a year of flow needs room for clients to start).
EXTRA_PLACES = 3
RETRAIN_EVERY = 4  # weeks
#: A newcomer's placements are counted over their first this many weeks.
EARLY_WEEKS = 8
OUTCOME_LAG = 4  # weeks from placement to a known early relationship
#: Weeks a placement lasts: a good start, a poor start that stays, a drop-out.
LASTS = {"clicked": 12, "stayed": 8, "dropped": OUTCOME_LAG}
#: How often a client picks the suggestion at each position (renormalised over those shown).
POSITION_CHOICE = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
FRESH_CLIENTS = 500
K = 5
SEEDS = (11, 12, 13)
REGIMES = ("default", "therapist_effects")
POLICIES = ("deterministic", "explore")
QUICK = {"seeds": (11,), "weeks": 26, "arrivals": 16}
IMAGE = Path(__file__).resolve().parent.parent / "docs" / "images" / "learning-loop.png"


@dataclass
class Year:
    """One simulated year under one policy."""

    regime: str
    seed: int
    policy: str
    weekly_expected: list[float] = field(default_factory=list)  # cumulative, per week
    expected: list[float] = field(default_factory=list)  # true P(click) per placement
    realised: list[int] = field(default_factory=list)
    quality_gated: float = float("nan")
    quality_prior: float = float("nan")
    quality_candidate: float = float("nan")
    promotions: int = 0
    placed_share: float = float("nan")
    first_placement: list[float] = field(default_factory=list)  # weeks; inf: never
    early_placements: list[int] = field(default_factory=list)  # in a newcomer's first weeks
    losses: list[float] = field(default_factory=list)
    drawn: int = 0
    rankings: int = 0
    waiting_at_end: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return float(np.mean(self.expected)) if self.expected else float("nan")

    @property
    def gain(self) -> float:
        return self.quality_gated - self.quality_prior


def _outcome_row(client_id, therapist_id, click, dropped, effect, rng) -> dict[str, str]:
    """An outcome as the simulator's history writes one (matcher.simulation.history)."""
    from matcher.simulation.vocabulary import IMPROVEMENT_BASE, IMPROVEMENT_CLICK, IMPROVEMENT_SD
    from matcher.vocab import ALLIANCE_CUTOFF

    if click:
        sessions, alliance = 3 + rng.poisson(6.0), ALLIANCE_CUTOFF + 4.0 * rng.beta(2.0, 1.5)
    elif dropped:
        sessions, alliance = 1 + int(rng.random() < 0.45), rng.uniform(8.0, 30.0)
    else:
        sessions, alliance = 3 + rng.poisson(3.0), min(18.0 + 17.9 * rng.beta(2.5, 1.8), 35.9)
    improvement = IMPROVEMENT_BASE + effect + IMPROVEMENT_CLICK * click
    improvement += rng.normal(0.0, IMPROVEMENT_SD)
    return {
        "client_id": client_id,
        "therapist_id": therapist_id,
        "sessions": str(sessions),
        "dropped_out": "yes" if dropped else "no",
        "alliance": "" if dropped and rng.random() < 0.6 else f"{min(alliance, 40.0):.1f}",
        "improvement": "" if rng.random() < (0.7 if dropped else 0.05) else f"{improvement:.1f}",
        "click": "",
    }


def run_year(
    regime: str,
    seed: int,
    policy: str,
    *,
    weeks: int = WEEKS,
    arrivals: int = ARRIVALS,
    embedder_kind: str = "hashing",
) -> Year:
    """Simulate one year of one practice under one ranking policy."""
    from matcher import Matcher, parse_intake
    from matcher.clinic import Store, end_placement, submit_intake, training_set_from_store
    from matcher.errors import MatcherError
    from matcher.learning import registry, train_and_register
    from matcher.ranking import CachedEmbedder, PolicySettings, PriorScorer
    from matcher.schema import frame_records, validate_frame
    from matcher.simulation import simulate_world

    began, cpu = time.perf_counter(), time.process_time()
    logging.getLogger("matcher").setLevel(logging.ERROR)
    year = Year(regime, seed, policy)
    n_therapists = FOUNDING + len(JOIN_WEEKS)
    world = simulate_world(n_therapists, HISTORY + weeks * arrivals, seed=seed, regime=regime)
    roster = world.therapists.copy()
    roster["capacity"] = (roster["capacity"].astype(int) + EXTRA_PLACES).astype(str)
    roster = validate_frame(roster, "therapists")
    intakes = validate_frame(world.intakes, "intakes")
    records = frame_records(intakes)
    # the practice's past: the first clients' logged placements with founding therapists
    history = world.outcomes_with_propensity().head(HISTORY)
    history = history[history["therapist_id"].isin(set(roster["therapist_id"][:FOUNDING]))]
    base = (
        HashingEmbedder(128, "bench-hashing-bow-128")
        if embedder_kind == "hashing"
        else _real_embedder()
    )
    rng = np.random.default_rng([seed, 1 + POLICIES.index(policy)])  # clients and outcomes
    with tempfile.TemporaryDirectory(prefix="matcher-loop-") as folder:
        store = Store(f"sqlite:///{Path(folder) / 'practice.db'}")
        model_dir = Path(folder) / "models"
        store.import_tables(
            therapists=roster.head(FOUNDING),
            intakes=intakes[intakes["client_id"].isin(set(history["client_id"]))],
            outcomes=validate_frame(history.reset_index(drop=True), "outcomes"),
        )
        matcher = Matcher(
            registry.load_current(model_dir),
            CachedEmbedder(base, store.embeddings),
            store=store,
            model_dir=model_dir,
            policy=PolicySettings(policy),
            policy_seed=seed,
        )
        sim_row = {}  # stored client id -> the world's client row
        t_row = {str(t): i for i, t in enumerate(roster["therapist_id"])}
        joined = {str(roster.at[FOUNDING + i, "therapist_id"]): w for i, w in enumerate(JOIN_WEEKS)}
        first: dict[str, int] = {}
        early: dict[str, int] = {}
        ever: set[str] = set()
        pending: list[tuple[int, str, str]] = []  # (week the outcome is known, client, therapist)
        ends: list[tuple[int, str, str]] = []  # (week the placement ends, client, status)
        waiting: list[str] = []
        next_client = HISTORY

        def shown(ranking) -> None:
            year.rankings += 1
            year.drawn += int(bool(ranking.policy and ranking.policy.near_ties))
            year.losses.append(ranking.policy.expected_loss if ranking.policy else 0.0)

        for week in range(weeks):
            for i, at in enumerate(JOIN_WEEKS):
                if at == week:
                    store.import_tables(therapists=roster.iloc[[FOUNDING + i]])
            for _ in range(arrivals):
                stored = submit_intake(store, matcher, parse_intake(records[next_client]), k=K)
                sim_row[stored.client_id] = next_client
                next_client += 1
                waiting.append(stored.client_id)
                shown(store.latest_ranking(stored.client_id))
            still = []
            for client_id in waiting:
                ranking = store.latest_ranking(client_id)
                placed = _place(store, matcher, client_id, ranking, rng)
                if placed is None:  # nobody shown has a place: a new ranking next week
                    still.append(client_id)
                    ranking = matcher.rank(records[sim_row[client_id]], k=K)
                    store.save_ranking(client_id, ranking)
                    shown(ranking)
                    continue
                row = sim_row[client_id]
                year.expected.append(
                    float(world.truth.pair_click_probability([row], [t_row[placed]])[0])
                )
                ever.add(placed)
                if placed in joined and placed not in first:
                    first[placed] = week - joined[placed]
                if placed in joined and week - joined[placed] < EARLY_WEEKS:
                    early[placed] = early.get(placed, 0) + 1
                pending.append((week + OUTCOME_LAG, client_id, placed))
            waiting = still
            for _, client_id, therapist_id in [x for x in pending if x[0] == week]:
                row, j = sim_row[client_id], t_row[therapist_id]
                click = bool(rng.random() < world.truth.pair_click_probability([row], [j])[0])
                dropped = (not click) and rng.random() < 0.5
                effect = world.truth.effectiveness[j, world.truth.primary_concern[row]]
                outcome = _outcome_row(client_id, therapist_id, click, dropped, effect, rng)
                store.import_tables(outcomes=validate_frame(pd.DataFrame([outcome]), "outcomes"))
                year.realised.append(int(click))
                status = "clicked" if click else "dropped" if dropped else "stayed"
                ends.append((week + LASTS[status] - OUTCOME_LAG, client_id, status))
            pending = [x for x in pending if x[0] != week]
            for _, client_id, status in [x for x in ends if x[0] <= week]:
                status = "dropped_out" if status == "dropped" else "ended"
                end_placement(store, client_id, by="coordinator", status=status)
            ends = [x for x in ends if x[0] > week]
            if week % RETRAIN_EVERY == RETRAIN_EVERY - 1:
                try:
                    ts = training_set_from_store(store, base)
                    result = train_and_register(ts, model_dir, seed=seed, embedding_model=base.name)
                    year.promotions += int(result.promoted)
                except MatcherError:  # too few outcomes, say: the model in use stays
                    pass
            year.weekly_expected.append(year.rate)
        year.waiting_at_end = len(waiting)
        on_roster = {str(t) for t in matcher.roster.ids}
        year.placed_share = len(ever & on_roster) / len(on_roster)
        year.first_placement = [float(first.get(t, np.inf)) for t in joined]
        year.early_placements = [early.get(t, 0) for t in joined]
        # month 12: the model in use, the prior and the last candidate, on fresh clients
        fresh = simulate_world(
            n_therapists,
            FRESH_CLIENTS,
            seed=seed,
            client_seed=seed + 1000,
            history=False,
            regime=regime,
        )
        judge = Matcher(PriorScorer(), CachedEmbedder(base), therapists=roster)
        quality = _judge(fresh, judge)
        year.quality_prior = quality(PriorScorer())
        current = registry.load_current(model_dir)
        year.quality_gated = (
            year.quality_prior if isinstance(current, PriorScorer) else quality(current)
        )
        newest, _ = registry.outcomes_at_last_training(model_dir)
        if newest is not None:
            year.quality_candidate = quality(registry.load_version(model_dir, newest))
        store.engine.dispose()
    year.seconds = time.perf_counter() - began
    year.cpu_seconds = time.process_time() - cpu
    return year


def _judge(fresh, judge):
    """quality(scorer): the mean normalised top-1 quality of the scorer's deterministic
    ranking of the fresh clients (as bench.quality, scoring the eligible without reasons)."""
    from matcher.ranking import (
        constraint_masks_many,
        eligible,
        encode_clients,
        pair_features,
        track_record_of,
    )
    from matcher.schema import frame_records, validate_frame

    records = frame_records(validate_frame(fresh.intakes, "intakes"))
    roster = judge.roster
    ids = [str(t) for t in roster.ids]
    probability = fresh.click_probability([r["client_id"] for r in records], ids)
    mask = np.asarray(eligible(constraint_masks_many(records, roster)), dtype=bool)
    counts = mask.sum(axis=1)
    random = (probability * mask).sum(axis=1) / np.maximum(counts, 1)
    best = np.where(mask, probability, -np.inf).max(axis=1)
    scored = np.flatnonzero((counts >= 2) & (best > random))
    profiles = encode_clients(records, judge.embedder, judge.styles, judge.concerns)

    def quality(scorer) -> float:
        values = []
        for i in scored:
            rows = np.flatnonzero(mask[i])
            features = pair_features(profiles[i], roster, rows, track_record_of(scorer))
            top = rows[int(np.argmax(scorer.score(features)))]  # the first of any tie
            values.append((probability[i, top] - random[i]) / (best[i] - random[i]))
        return float(np.mean(values))

    return quality


def _place(store, matcher, client_id, ranking, rng) -> str | None:
    """The client picks a suggestion (position bias); the coordinator places them with it,
    or with the next one shown that still has a place. None when nobody shown has one."""
    from matcher.clinic import PlacementError, place_client, record_choice

    if ranking is None or not len(ranking):
        return None
    weights = POSITION_CHOICE[: len(ranking)] / POSITION_CHOICE[: len(ranking)].sum()
    chosen = int(rng.choice(len(ranking), p=weights))
    record_choice(store, client_id, "therapist", ranking[chosen].therapist_id)
    for i in [chosen, *(j for j in range(len(ranking)) if j != chosen)]:
        try:
            place_client(
                store,
                matcher,
                client_id,
                ranking[i].therapist_id,
                by="coordinator",
                client_chose=i == chosen,
            )
        except PlacementError:
            continue
        return ranking[i].therapist_id
    return None


def _real_embedder():
    from .common import cached_embedder

    return cached_embedder()


# --- the report ----------------------------------------------------------------------------------


def _mean_sd(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _weeks(values: list[float]) -> str:
    finite = [v for v in values if np.isfinite(v)]
    never = len(values) - len(finite)
    median = statistics.median(values) if values else float("nan")
    text = "never" if not np.isfinite(median) else f"{median:.0f}"
    return f"{text} ({never} of {len(values)} never)" if never else text


def report(years: list[Year], *, quick: bool) -> str:
    from .common import table

    lines = []
    for regime in dict.fromkeys(y.regime for y in years):
        rows = []
        for policy in POLICIES:
            runs = [y for y in years if y.regime == regime and y.policy == policy]
            if not runs:
                continue
            rows.append(
                [
                    policy,
                    _mean_sd([y.rate for y in runs]),
                    _mean_sd([float(np.mean(y.realised)) for y in runs]),
                    _mean_sd([y.gain for y in runs]),
                    _mean_sd([y.quality_candidate - y.quality_prior for y in runs]),
                    f"{sum(y.promotions for y in runs)}",
                    _mean_sd([y.placed_share for y in runs], 2),
                    _weeks([w for y in runs for w in y.first_placement]),
                    f"{np.mean([n for y in runs for n in y.early_placements]) / EARLY_WEEKS:.2f}",
                    _mean_sd([100 * float(np.mean(y.losses)) for y in runs], 2),
                    _mean_sd([y.drawn / max(y.rankings, 1) for y in runs], 2),
                ]
            )
        lines += [
            f"**{regime}** ({len(runs)} seed{'s' if len(runs) != 1 else ''}, mean ± sd)",
            "",
            table(
                [
                    "policy",
                    "good early relationships (true P)",
                    "realised",
                    "gain at month 12 (gated)",
                    "gain (last candidate)",
                    "promotions",
                    "therapists ever placed",
                    "new therapists: weeks to first placement (median)",
                    f"new therapists: placements a week, first {EARLY_WEEKS} weeks",
                    "expected loss (% of top score)",
                    "rankings drawn",
                ],
                rows,
            ),
            "",
        ]
        paired = []
        for seed in dict.fromkeys(y.seed for y in years if y.regime == regime):
            pair = {y.policy: y for y in years if y.regime == regime and y.seed == seed}
            if len(pair) == 2:
                d, e = pair["deterministic"], pair["explore"]
                paired.append(
                    [
                        str(seed),
                        f"{e.rate - d.rate:+.3f}",
                        f"{e.gain - d.gain:+.3f}",
                        f"{e.placed_share - d.placed_share:+.2f}",
                        f"{_weeks(d.first_placement)} → {_weeks(e.first_placement)}",
                    ]
                )
        if paired:
            lines += [
                table(
                    [
                        "seed",
                        "rate: explore − deterministic",
                        "gain at month 12: explore − deterministic",
                        "share placed: explore − deterministic",
                        "new therapists' median weeks: deterministic → explore",
                    ],
                    paired,
                ),
                "",
            ]
    lines.append(verdict(years))
    return "\n".join(lines)


def verdict(years: list[Year]) -> str:
    """Whether the issue's bar is met: in every regime, the exploring policy's cumulative
    rate within 1 point of the deterministic one, a better learned model at month 12 and
    new therapists placed sooner (medians over seeds)."""
    met, notes = True, []
    for regime in dict.fromkeys(y.regime for y in years):
        d = [y for y in years if y.regime == regime and y.policy == "deterministic"]
        e = [y for y in years if y.regime == regime and y.policy == "explore"]
        if not d or not e:
            continue
        rate = np.mean([y.rate for y in e]) - np.mean([y.rate for y in d])
        gain = np.mean([y.gain for y in e]) - np.mean([y.gain for y in d])
        weeks_d = statistics.median([w for y in d for w in y.first_placement])
        weeks_e = statistics.median([w for y in e for w in y.first_placement])
        ok = rate >= -0.01 and gain > 0 and weeks_e < weeks_d
        met &= bool(ok)
        notes.append(
            f"{regime}: rate {rate:+.3f}, month-12 gain {gain:+.3f}, new therapists' median "
            f"weeks {weeks_d} → {weeks_e}: {'meets' if ok else 'does not meet'} the bar"
        )
    head = "Verdict: exploration " + ("meets" if met else "does not meet") + " the issue's bar."
    return "\n".join([head, "", *(f"- {n}" for n in notes)])


def plot(years: list[Year], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    regimes = list(dict.fromkeys(y.regime for y in years))
    figure = Figure(figsize=(4.2 * len(regimes), 3.6), dpi=100)
    axes = figure.subplots(1, len(regimes), squeeze=False)[0]
    colours = {"deterministic": "#1f5f8b", "explore": "#c4622d"}
    for ax, regime in zip(axes, regimes, strict=True):
        for policy in POLICIES:
            runs = [y for y in years if y.regime == regime and y.policy == policy]
            if not runs:
                continue
            series = np.nanmean([y.weekly_expected for y in runs], axis=0)
            ax.plot(np.arange(1, len(series) + 1), series, color=colours[policy], label=policy)
        ax.set_title(regime, fontsize=10)
        ax.set_xlabel("week")
        ax.set_ylabel("cumulative rate of good early relationships")
        ax.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def _run(args: tuple) -> Year:
    regime, seed, policy, weeks, arrivals, embedder = args
    year = run_year(regime, seed, policy, weeks=weeks, arrivals=arrivals, embedder_kind=embedder)
    print(
        f"  {regime} seed {seed} {policy}: rate {year.rate:.3f}, gain {year.gain:+.3f}, "
        f"placed {year.placed_share:.2f}, new {year.first_placement}, {year.seconds:.0f} s "
        f"({year.cpu_seconds:.0f} s CPU)",
        file=sys.stderr,
        flush=True,
    )
    return year


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loop", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="one seed, 26 weeks, 16 clients a week"
    )
    parser.add_argument("--regimes", nargs="+", default=list(REGIMES))
    parser.add_argument("--seeds", nargs="+", type=int)
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--embedder", choices=["hashing", "real"], default="hashing")
    parser.add_argument("--plot", type=Path, default=IMAGE, help=f"default {IMAGE}")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING)
    seeds = tuple(args.seeds) if args.seeds else QUICK["seeds"] if args.quick else SEEDS
    weeks = QUICK["weeks"] if args.quick else WEEKS
    arrivals = QUICK["arrivals"] if args.quick else ARRIVALS
    tasks = [
        (regime, seed, policy, weeks, arrivals, args.embedder)
        for regime in args.regimes
        for seed in seeds
        for policy in POLICIES
    ]
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            years = list(pool.map(_run, tasks))
    else:
        years = [_run(task) for task in tasks]
    text = report(years, quick=args.quick)
    print(text)
    print(f"\nTotal: {time.perf_counter() - started:.0f} s ({len(tasks)} runs, {args.jobs} jobs).")
    plot(years, args.plot)
    print(f"(plot written to {args.plot})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
