"""Learning curves: how good are the rankings on fresh clients, prior vs learned, as the
outcome history grows? ``python -m bench.quality [--quick]`` (not part of ``make bench``).

For each simulated regime and history size, a 300-therapist practice logs one placement
per client (``n`` outcomes, with the logging policy's true propensities); the real path
trains on it (``build_training_set`` with the real embedder, ``train``, ``gate``), and
1,000 fresh clients (a ``client_seed`` never trained on, same roster) are ranked by the
prior, by what the gate lets rank ("gated": the learned model if promoted, else the prior)
and by the learned model regardless of the gate ("ungated", for information).

Quality of a ranking for one client is the true click probability of its top suggestion
as a share of the way from a random *eligible* therapist (the mean over those who pass
the client's hard constraints) to the best eligible one::

    (p_top - p_random) / (p_best - p_random)

averaged over clients with at least two eligible therapists: 0 is no better than
picking among the eligible at random, 1 is the oracle (the ceiling, by construction).

The histories of one regime are nested: the ``n``-outcome history is the first ``n``
clients of one simulated world (a practice whose log grows). Texts are encoded once with
the real model and kept in ``$MATCHER_BENCH_CACHE/quality-embeddings.npz``, so a second
run encodes nothing. docs/learning-curves.md holds the last full report.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Therapists on the simulated roster.
ROSTER_THERAPISTS = 300
#: Fresh clients ranked per regime.
FRESH_CLIENTS = 1000
#: k of the rankings (only the top suggestion is scored).
RANK_K = 5
ROSTER_SEED = 2024
#: The fresh clients' seed: never used for a training history.
FRESH_CLIENT_SEED = 777
SIZES = (500, 2_000, 5_000, 20_000)
QUICK_SIZES = (500, 2_000)
REGIMES = (
    "default",
    "style_weak",
    "therapist_effects",
    "concern_fit",
    "popular_logging",
    "noisy_labels",
    "alt_phrasing",
)
QUICK_REGIMES = ("default", "concern_fit", "popular_logging")
#: Regimes trained on the largest history in a full run. alt_phrasing is left out: its
#: texts come from another phrase bank, so 20,000 clients' texts would have to be encoded
#: a second time (about ten minutes on two cores), and the run would last over half an hour.
LARGEST_REGIMES = (
    "default",
    "style_weak",
    "therapist_effects",
    "concern_fit",
    "popular_logging",
    "noisy_labels",
)
CACHE_FILE = "quality-embeddings.npz"


@dataclass
class Quality:
    """Mean normalised top-1 quality over the scored clients, with its standard error,
    and the per-client values (for paired comparisons)."""

    per_client: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.per_client.mean())

    def paired_difference(self, other: Quality) -> tuple[float, float]:
        """Mean of (self - other) over the same clients, and its standard error."""
        diff = self.per_client - other.per_client
        return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


@dataclass
class Truth:
    """The fresh clients' true click probabilities over the roster and their eligibility."""

    probability: np.ndarray  # (clients, roster) in roster row order
    eligible: np.ndarray  # (clients, roster) bool
    row_of: dict[str, int]
    scored: np.ndarray = field(init=False)  # (clients,) bool: at least 2 eligible
    random: np.ndarray = field(init=False)
    best: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        counts = self.eligible.sum(axis=1)
        self.random = (self.probability * self.eligible).sum(axis=1) / np.maximum(counts, 1)
        self.best = np.where(self.eligible, self.probability, -np.inf).max(axis=1)
        self.scored = (counts >= 2) & (self.best > self.random)

    def quality(self, rankings: list) -> Quality:
        """Normalised top-1 quality of one ranking per fresh client (in order)."""
        values = []
        for i in np.flatnonzero(self.scored):
            ranking = rankings[i]
            row = self.row_of[ranking[0].therapist_id]
            if not self.eligible[i, row]:
                raise AssertionError(f"client {i}: top suggestion fails a hard constraint")
            values.append(
                (self.probability[i, row] - self.random[i]) / (self.best[i] - self.random[i])
            )
        return Quality(np.asarray(values, dtype=float))


def fresh_truth(world, matcher, intakes: pd.DataFrame) -> Truth:
    """True click probabilities and eligibility of the fresh clients over the matcher's roster."""
    from matcher.ranking import constraint_masks_many, eligible
    from matcher.schema import frame_records

    roster = matcher.roster
    ids = [str(i) for i in roster.ids]
    probability = world.click_probability(list(intakes["client_id"]), ids)
    mask = eligible(constraint_masks_many(frame_records(intakes), roster))
    return Truth(probability, np.asarray(mask, dtype=bool), {t: r for r, t in enumerate(ids)})


@dataclass
class Row:
    outcomes: int
    prior: Quality
    gated: Quality
    ungated: Quality | None
    promoted: bool
    candidate: str
    reason: str
    seconds: float


def history_tables(world, n: int) -> dict[str, pd.DataFrame]:
    """Validated tables of the first ``n`` clients of ``world`` (outcomes carry the logging
    policy's true propensity in their ``extra`` column)."""
    from matcher.schema import validate_frame

    intakes = world.intakes.head(n)
    outcomes = world.outcomes_with_propensity()
    outcomes = outcomes[outcomes["client_id"].isin(set(intakes["client_id"]))]
    return {
        "therapists": validate_frame(world.therapists, "therapists"),
        "intakes": validate_frame(intakes.reset_index(drop=True), "intakes"),
        "outcomes": validate_frame(outcomes.reset_index(drop=True), "outcomes"),
    }


def learning_curve(
    regime: str, sizes: tuple[int, ...], embedder, *, log=print, save=lambda: None
) -> tuple[list[Row], dict[str, float]]:
    """Train at each size on nested histories of one regime and score the rankings of
    fresh clients; returns the rows and the fresh clients' absolute click rates."""
    from matcher import Matcher
    from matcher.errors import MatcherError
    from matcher.learning import build_training_set
    from matcher.learning.datasets import logged_propensities
    from matcher.learning.training import gate, train
    from matcher.ranking import PriorScorer
    from matcher.schema import validate_frame
    from matcher.simulation import simulate_world

    world = simulate_world(ROSTER_THERAPISTS, max(sizes), seed=ROSTER_SEED, regime=regime)
    fresh = simulate_world(
        ROSTER_THERAPISTS,
        FRESH_CLIENTS,
        seed=ROSTER_SEED,
        client_seed=FRESH_CLIENT_SEED,
        history=False,
        regime=regime,
    )
    if not fresh.therapists.equals(world.therapists):
        raise AssertionError("the fresh clients' world has another roster")
    therapists = validate_frame(world.therapists, "therapists")
    fresh_intakes = validate_frame(fresh.intakes, "intakes")
    prior_matcher = Matcher(PriorScorer(), embedder, therapists=therapists)
    truth = fresh_truth(fresh, prior_matcher, fresh_intakes)
    prior = truth.quality(prior_matcher.rank_many(fresh_intakes, k=RANK_K))
    save()
    rows = []
    for n in sizes:
        began = time.perf_counter()
        tables = history_tables(world, n)
        ts = build_training_set(
            **tables, embedder=embedder, propensities=logged_propensities(tables["outcomes"])
        )
        save()
        try:
            result = train(ts)
        except MatcherError as error:  # too few outcomes: the prior stays
            rows.append(Row(n, prior, prior, None, False, "-", str(error), 0.0))
            continue
        promoted, reason = gate(result.card)
        learned = Matcher(result.scorer, embedder, therapists=therapists)
        ungated = truth.quality(learned.rank_many(fresh_intakes, k=RANK_K))
        seconds = time.perf_counter() - began
        row = Row(
            n,
            prior,
            ungated if promoted else prior,
            ungated,
            promoted,
            result.card["candidate"],
            reason,
            seconds,
        )
        rows.append(row)
        log(
            f"  {regime}, {n:,} outcomes: prior {prior.mean:.3f}, ungated {ungated.mean:.3f}, "
            f"{'promoted' if promoted else 'not promoted'} ({result.card['candidate']}), "
            f"{seconds:.0f} s"
        )
        del ts, result, learned
        gc.collect()
    s = truth.scored
    rates = {
        "scored": int(s.sum()),
        "random": float(truth.random[s].mean()),
        "best": float(truth.best[s].mean()),
    }
    return rows, rates


def _signed(value: float, error: float) -> str:
    return f"{value:+.3f} ± {2 * error:.3f}"


def regime_section(regime: str, rows: list[Row], rates: dict[str, float]) -> str:
    from matcher.simulation import REGIMES as KNOWN

    from .common import table

    cells = []
    for row in rows:
        if row.ungated is None:
            ungated, versus = "-", "-"
        else:
            ungated = f"{row.ungated.mean:.3f}"
            versus = _signed(*row.ungated.paired_difference(row.prior))
        cells.append(
            [
                f"{row.outcomes:,}",
                f"{row.prior.mean:.3f}",
                f"**{row.gated.mean:.3f}**",
                ungated,
                versus,
                "yes" if row.promoted else "no",
                row.candidate,
            ]
        )
    lines = [
        f"### {regime}: {KNOWN[regime].description}",
        "",
        f"{rates['scored']:,} fresh clients scored; their mean true click probability is "
        f"{rates['random']:.3f} for a random eligible therapist and {rates['best']:.3f} for "
        f"the best eligible one (quality 0 and 1).",
        "",
        table(
            [
                "outcomes",
                "prior",
                "gated",
                "ungated",
                "ungated − prior (± 2 se)",
                "promoted?",
                "candidate",
            ],
            cells,
        ),
        "",
        "Gate:",
        "",
    ]
    lines += [f"- {row.outcomes:,}: {row.reason}" for row in rows]
    return "\n".join(lines)


def run(quick: bool, regimes: tuple[str, ...] | None = None, log=print) -> tuple[str, str]:
    """Run the regimes, printing each regime's section as it completes; returns the
    overview table and all sections."""
    from matcher.ranking import CachedEmbedder

    from .common import DiskVectorCache, cache_dir, real_embedder, table

    sizes = QUICK_SIZES if quick else SIZES
    chosen = regimes or (QUICK_REGIMES if quick else REGIMES)
    cache = DiskVectorCache(cache_dir() / CACHE_FILE)
    embedder = CachedEmbedder(real_embedder(), cache)
    sections, summary = [], []
    for regime in chosen:
        began = time.perf_counter()
        wanted = tuple(n for n in sizes if quick or n < max(SIZES) or regime in LARGEST_REGIMES)
        rows, rates = learning_curve(regime, wanted, embedder, log=log, save=cache.save)
        cache.save()
        elapsed = time.perf_counter() - began
        sections.append(regime_section(regime, rows, rates) + f"\n\n_({elapsed:.0f} s)_\n")
        print(sections[-1], flush=True)
        gated = {r.outcomes: f"{r.gated.mean:.3f}" + ("" if r.promoted else " (p)") for r in rows}
        summary.append([regime, *(gated.get(n, "-") for n in sizes)])
    overview = "\n".join(
        [
            "### Gated quality by regime and history size",
            "",
            "(p): not promoted, so the prior ranks; - : not run. Quality 0 = a random "
            "eligible therapist, 1 = the best eligible one.",
            "",
            table(["regime", *(f"{n:,} outcomes" for n in sizes)], summary),
            "",
        ]
    )
    return overview, "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="500 and 2,000 outcomes, three regimes"
    )
    parser.add_argument("--regimes", nargs="+", choices=REGIMES, help="only these regimes")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.WARNING)
    from .common import cache_dir, machine_line

    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    header = [
        f"## Learning curves ({mode}: `python -m bench.quality{' --quick' if args.quick else ''}`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"Roster of {ROSTER_THERAPISTS} therapists (seed {ROSTER_SEED}); histories of one "
        f"placement per client, nested; {FRESH_CLIENTS:,} fresh clients (client seed "
        f"{FRESH_CLIENT_SEED}) ranked with k = {RANK_K}. Quality = (p_top − p_random) / "
        "(p_best − p_random) over the eligible therapists; the oracle scores 1.",
        "",
    ]
    print("\n".join(header), flush=True)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    overview, sections = run(args.quick, tuple(args.regimes) if args.regimes else None, log=log)
    footer = f"Total: {time.perf_counter() - started:.0f} s."
    print(overview)
    print(footer)
    report = "\n".join([*header, overview, sections, footer, ""])
    path = cache_dir() / f"quality{'-quick' if args.quick else ''}.md"
    path.write_text(report)
    print(f"(written to {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
