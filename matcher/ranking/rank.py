"""Ranking one client against the roster: filter, score, explain, near-misses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

from .explain import explain_rows
from .features import ClientProfile, pair_features
from .filters import CONSTRAINTS, EXCLUSION_SUMMARY, constraint_masks, eligible, miss_description
from .policy import PRIOR_UNCERTAINTY, Decision, PolicyLog, PolicySettings, explore
from .roster import Roster
from .scoring import Scorer

#: Near-misses fail at most this many constraints, and never capacity (they could not start).
MAX_NEAR_MISS_FAILURES = 2
MAX_NEAR_MISSES = 3
#: With fewer eligible candidates than this, reasons compare against the whole roster.
MIN_BASELINE_CANDIDATES = 10
BASELINE_SAMPLE = 2000
#: A scorer that is not ``exhaustive`` (a tree model: about 5 µs per pair) scores at most
#: a shortlist once there are more candidates than this; see :func:`shortlist_scores`.
SHORTLIST_ABOVE = 4000
#: Candidates scored by the model to fit the cheap surrogate score (evenly spread).
SURROGATE_SAMPLE = 1024
#: The shortlist: this many candidates (at least), best by the surrogate score.
SHORTLIST_SIZE = 2000
SHORTLIST_PER_SUGGESTION = 50
#: A stored ranking logs the best-scored eligible candidates, at most this many, with the
#: eligible count. Bounded on purpose: a national roster has thousands of eligible
#: therapists per client, and the log must stay a few kilobytes per ranking; the top 50
#: covers every policy that shows (or samples among) the first few, since a near-tie set
#: never holds more than ``policy.MAX_NEAR_TIES``, and lets an offline check replay a
#: different ranking of the top candidates.
LOGGED_CANDIDATES = 50
#: Said above the list when its order was drawn among near-ties (by how many there are).
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


@dataclass(frozen=True)
class Suggestion:
    """A therapist who can take the client, with a score in [0, 1] and reasons."""

    rank: int
    therapist_id: str
    name: str
    score: float
    reasons: tuple[str, ...]
    style: tuple[float, ...]  # the therapist's four axes, -3..+3
    model_version: str
    #: Probability, under the policy in force, that the list began with the suggestions
    #: shown down to this one, in this order (1 for the deterministic policy); None in
    #: rankings stored before propensities were logged.
    propensity: float | None = None

    def as_dict(self, *, log: bool = True) -> dict[str, Any]:
        """As JSON-ready data; ``log=False`` leaves out the logged propensity."""
        data = {
            "rank": self.rank,
            "therapist_id": self.therapist_id,
            "name": self.name,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
            "style": [round(v, 2) for v in self.style],
            "model_version": self.model_version,
        }
        if log:
            data["propensity"] = None if self.propensity is None else round(self.propensity, 6)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suggestion:
        """The inverse of :meth:`as_dict` (for a stored ranking)."""
        return cls(
            rank=int(data["rank"]),
            therapist_id=str(data["therapist_id"]),
            name=str(data["name"]),
            score=float(data["score"]),
            reasons=tuple(data.get("reasons", ())),
            style=tuple(float(v) for v in data.get("style", ())),
            model_version=str(data.get("model_version", "")),
            propensity=None if data.get("propensity") is None else float(data["propensity"]),
        )


@dataclass(frozen=True)
class NearMiss:
    """A good fit who fails one or two hard constraints, with what they miss."""

    therapist_id: str
    name: str
    score: float
    misses: tuple[str, ...]
    style: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "therapist_id": self.therapist_id,
            "name": self.name,
            "score": round(self.score, 4),
            "misses": list(self.misses),
            "style": [round(v, 2) for v in self.style],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NearMiss:
        """The inverse of :meth:`as_dict`."""
        return cls(
            therapist_id=str(data["therapist_id"]),
            name=str(data["name"]),
            score=float(data["score"]),
            misses=tuple(data.get("misses", ())),
            style=tuple(float(v) for v in data.get("style", ())),
        )


@dataclass(frozen=True)
class Ranking(Sequence[Suggestion]):
    """The suggestions for one client; behaves as a list of :class:`Suggestion`.

    ``excluded`` counts, per constraint, the therapists who fail it;
    ``near_misses`` is filled only when fewer than ``k`` therapists passed.
    ``candidates`` logs the best-scored eligible therapists (at most
    ``LOGGED_CANDIDATES``, as (therapist id, score)) and ``policy`` what the ranking
    policy did; both are empty or None in rankings stored before they were logged.
    """

    suggestions: tuple[Suggestion, ...]
    near_misses: tuple[NearMiss, ...]
    excluded: dict[str, int]
    eligible: int
    roster_size: int
    client_style: tuple[float, ...]
    client_style_source: tuple[str, ...]
    model_version: str
    k: int = field(default=5)
    #: Concern tags read from the client's story (not ticked), shown to coordinators.
    inferred_concerns: tuple[str, ...] = ()
    candidates: tuple[tuple[str, float], ...] = ()
    policy: PolicyLog | None = None

    @overload
    def __getitem__(self, index: int) -> Suggestion: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Suggestion]: ...
    def __getitem__(self, index):
        return self.suggestions[index]

    def __len__(self) -> int:
        return len(self.suggestions)

    def __iter__(self) -> Iterator[Suggestion]:
        return iter(self.suggestions)

    @property
    def limiting_constraint(self) -> str | None:
        """The constraint that removed the most therapists, when any did."""
        if not self.excluded or max(self.excluded.values()) == 0:
            return None
        return max(CONSTRAINTS, key=lambda name: self.excluded.get(name, 0))

    @property
    def shortfall_message(self) -> str | None:
        """A sentence for the client when fewer than ``k`` therapists can take them."""
        if self.eligible >= self.k:
            return None
        name = self.limiting_constraint
        found = f"We found {self.eligible} therapist{'s' if self.eligible != 1 else ''}"
        if name is None:
            return f"{found} who can take you right now."
        return (
            f"{found} who can take you right now. The main limit: "
            f"{self.excluded[name]} of {self.roster_size} therapists do not "
            f"{EXCLUSION_SUMMARY[name]}."
        )

    @property
    def near_tie_group(self) -> tuple[Suggestion, ...]:
        """The leading suggestions whose order was drawn at random among near-ties."""
        if self.policy is None or len(self.policy.near_ties) < 2:
            return ()
        group = []
        for suggestion in self.suggestions:
            if suggestion.therapist_id not in self.policy.near_ties:
                break
            group.append(suggestion)
        return tuple(group) if len(group) >= 2 else ()

    @property
    def near_tie_message(self) -> str | None:
        """A sentence for the client when the order of the first suggestions is random."""
        n = len(self.near_tie_group)
        if n < 2:
            return None
        count = _COUNT_WORDS.get(n, str(n))
        if n == len(self.suggestions):
            return (
                f"These {count} fit you about equally well, so we list them in a random order: "
                "the first is not a better fit than the others."
            )
        return (
            f"The first {count} fit you about equally well, so we list them in a random "
            "order: the first is not a better fit than the others."
        )

    def as_dict(self, *, log: bool = True) -> dict[str, Any]:
        """As JSON-ready data; ``log=False`` leaves out what is kept for learning (the
        candidates' scores and the propensities), which a caller who stores nothing
        does not need."""
        data = {
            "suggestions": [s.as_dict(log=log) for s in self.suggestions],
            "near_misses": [m.as_dict() for m in self.near_misses],
            "eligible": self.eligible,
            "roster_size": self.roster_size,
            "excluded": dict(self.excluded),
            "limiting_constraint": self.limiting_constraint,
            "message": self.shortfall_message,
            "client_style": [round(v, 2) for v in self.client_style],
            "client_style_source": list(self.client_style_source),
            "model_version": self.model_version,
            "k": self.k,
            "inferred_concerns": list(self.inferred_concerns),
            "policy": None if self.policy is None else self.policy.as_dict(),
            "near_tie_message": self.near_tie_message,
        }
        if log:
            data["candidates"] = [
                {"therapist_id": t, "score": round(v, 4)} for t, v in self.candidates
            ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ranking:
        """The inverse of :meth:`as_dict`: a stored ranking as the typed object again.

        ``limiting_constraint``, ``message`` and ``near_tie_message`` are derived, so they
        are not read back. A payload stored before candidates, propensities and the policy
        were logged loads with none of them.
        """
        policy = data.get("policy")
        return cls(
            suggestions=tuple(Suggestion.from_dict(s) for s in data.get("suggestions", ())),
            near_misses=tuple(NearMiss.from_dict(m) for m in data.get("near_misses", ())),
            excluded={str(k): int(v) for k, v in (data.get("excluded") or {}).items()},
            eligible=int(data.get("eligible", len(data.get("suggestions", ())))),
            roster_size=int(data.get("roster_size", 0)),
            client_style=tuple(float(v) for v in data.get("client_style", ())),
            client_style_source=tuple(data.get("client_style_source", ())),
            model_version=str(data.get("model_version", "")),
            k=int(data.get("k", 5)),
            inferred_concerns=tuple(data.get("inferred_concerns", ())),
            candidates=tuple(
                (str(c["therapist_id"]), float(c["score"])) for c in data.get("candidates") or ()
            ),
            policy=PolicyLog.from_dict(policy) if isinstance(policy, dict) else None,
        )


def rank_client(
    client: ClientProfile,
    roster: Roster,
    scorer: Scorer,
    k: int = 5,
    *,
    exhaustive: bool | None = None,
    policy: PolicySettings | None = None,
    rng: np.random.Generator | None = None,
) -> Ranking:
    """Rank the roster for one client; hard constraints are never violated.

    Parameters
    ----------
    k : int
        How many suggestions at most (>= 1).
    exhaustive : bool, optional
        Score every candidate with the model (True), or allow a shortlist above
        ``SHORTLIST_ABOVE`` candidates (False). Default: the scorer's own
        ``exhaustive`` attribute, True when it has none.
    policy : PolicySettings, optional
        The deterministic top k (the default), or an order drawn among near-ties
        within the loss bound (see :mod:`matcher.ranking.policy`). Either way only
        eligible therapists are candidates.
    rng : numpy.random.Generator, optional
        The exploring policy's draws (default: a generator seeded from the OS).
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, got {k!r}")
    if exhaustive is None:
        exhaustive = bool(scorer.exhaustive)
    policy = policy or PolicySettings()
    masks = constraint_masks(client.record, roster)
    passing = eligible(masks)
    rows = np.flatnonzero(passing)
    suggestions, candidates, log = _suggest(
        client, roster, scorer, rows, k, exhaustive, policy, rng
    )
    near_misses: tuple[NearMiss, ...] = ()
    if len(rows) < k:
        near_misses = _near_misses(client, roster, scorer, masks, exhaustive)
    return Ranking(
        suggestions=suggestions,
        near_misses=near_misses,
        excluded={name: int((~masks[name]).sum()) for name in CONSTRAINTS},
        eligible=len(rows),
        roster_size=len(roster),
        client_style=tuple(float(v) for v in client.preference),
        client_style_source=client.source,
        model_version=scorer.version,
        k=int(k),
        inferred_concerns=client.inferred_concerns,
        candidates=candidates,
        policy=log,
    )


def score_uncertainty(scorer: Scorer, features: pd.DataFrame, therapist_ids) -> np.ndarray:
    """(n,) the scorer's own uncertainty about each score: its ``score_uncertainty``
    method when it has one (a learned scorer), else ``PRIOR_UNCERTAINTY`` for everyone."""
    method = getattr(scorer, "score_uncertainty", None)
    if method is None:
        return np.full(len(features), PRIOR_UNCERTAINTY)
    return np.asarray(method(features, therapist_ids), dtype=float)


def track_record_of(scorer: Scorer | None):
    """The scorer's track record (None for the prior, or for no scorer at all)."""
    return None if scorer is None else scorer.track_record


def _baseline(
    client: ClientProfile, roster: Roster, scorer: Scorer, features: pd.DataFrame
) -> pd.Series:
    """What "average" means when explaining: the eligible candidates, or the
    roster when too few are eligible to stand out against each other."""
    if len(features) >= MIN_BASELINE_CANDIDATES:
        return features.mean()
    rows = np.linspace(0, len(roster) - 1, min(len(roster), BASELINE_SAMPLE)).astype(int)
    return pair_features(client, roster, np.unique(rows), track_record_of(scorer)).mean()


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first; ties keep roster order."""
    if len(scores) > 4 * k:
        # Everyone above the k-th score, then the earliest of those tied with it: an
        # argpartition alone would pick among the tied ones arbitrarily.
        cut = np.partition(-scores, k - 1)[k - 1]
        above = np.flatnonzero(-scores < cut)
        tied = np.flatnonzero(-scores == cut)[: k - len(above)]
        keep = np.sort(np.concatenate([above, tied]))  # roster order for the stable sort
    else:
        keep = np.arange(len(scores))
    return keep[np.argsort(-scores[keep], kind="stable")][:k]


def shortlist_scores(
    scorer: Scorer, features: pd.DataFrame, k: int, exhaustive: bool = True
) -> np.ndarray:
    """Scores in [0, 1] of the rows of ``features``; ``-inf`` for rows not scored.

    Exhaustive, or with at most ``SHORTLIST_ABOVE`` rows, every row is scored in
    one call. Otherwise a cheap surrogate picks the rows worth scoring: the model
    scores ``SURROGATE_SAMPLE`` evenly spread rows, a least-squares fit of their
    logit on the features scores every row, and the model then scores the best
    ``max(SHORTLIST_SIZE, SHORTLIST_PER_SUGGESTION * k)`` rows by the surrogate.
    The top k is exact whenever the true top k is in the shortlist; how often
    that holds on simulated rosters is measured by ``python -m bench`` (see
    docs/performance.md).
    """
    n = len(features)
    if exhaustive or n <= SHORTLIST_ABOVE:
        return np.clip(scorer.score(features), 0.0, 1.0)
    values = features.to_numpy(dtype=np.float64)
    sample = np.unique(np.linspace(0, n - 1, SURROGATE_SAMPLE).astype(int))
    sample_scores = np.clip(scorer.score(features.iloc[sample]), 0.0, 1.0)
    design = np.column_stack([values, np.ones(n)])
    target = np.log(np.clip(sample_scores, 1e-6, 1 - 1e-6) / np.clip(1 - sample_scores, 1e-6, 1))
    weights = np.linalg.lstsq(design[sample], target, rcond=None)[0]
    cheap = design @ weights
    cheap[sample] = np.inf  # already scored
    size = min(n, len(sample) + max(SHORTLIST_SIZE, SHORTLIST_PER_SUGGESTION * k))
    chosen = np.sort(np.argpartition(-cheap, size - 1)[:size])
    fresh = np.setdiff1d(chosen, sample, assume_unique=True)
    scores = np.full(n, -np.inf)
    scores[sample] = sample_scores
    if len(fresh):
        scores[fresh] = np.clip(scorer.score(features.iloc[fresh]), 0.0, 1.0)
    return scores


def _suggest(
    client: ClientProfile,
    roster: Roster,
    scorer: Scorer,
    rows: np.ndarray,
    k: int,
    exhaustive: bool = True,
    policy: PolicySettings | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[tuple[Suggestion, ...], tuple[tuple[str, float], ...], PolicyLog]:
    """The suggestions, the logged candidates and what the policy did."""
    policy = policy or PolicySettings()
    if len(rows) == 0:
        return (), (), PolicyLog(policy.name, policy.loss_bound)
    features = pair_features(client, roster, rows, track_record_of(scorer))
    scores = shortlist_scores(scorer, features, k, exhaustive)
    decision: Decision | None = None
    if policy.explores:
        sigma = score_uncertainty(scorer, features, roster.ids[rows])
        decision = explore(scores, sigma, k, policy.loss_bound, rng or np.random.default_rng())
        best, propensity = decision.order, decision.propensity
    else:
        best = _top(scores, k)
        propensity = np.ones(len(best))
    reasons = explain_rows(client, roster, scorer, rows[best], features.iloc[best], features.mean())
    suggestions = tuple(
        Suggestion(
            rank=position + 1,
            therapist_id=str(roster.ids[rows[i]]),
            name=str(roster.therapists.at[int(rows[i]), "name"]),
            score=float(scores[i]),
            reasons=reasons[position],
            style=tuple(float(v) for v in roster.style[rows[i]]),
            model_version=scorer.version,
            propensity=float(propensity[position]),
        )
        for position, i in enumerate(best)
    )
    logged = [i for i in _top(scores, LOGGED_CANDIDATES) if np.isfinite(scores[i])]
    candidates = tuple((str(roster.ids[rows[i]]), float(scores[i])) for i in logged)
    return suggestions, candidates, _policy_log(policy, decision, roster.ids[rows])


def _policy_log(policy: PolicySettings, decision: Decision | None, ids: np.ndarray) -> PolicyLog:
    if decision is None:
        return PolicyLog(policy.name, policy.loss_bound)
    drawn = decision.drawn >= 2 and decision.temperature > 0
    return PolicyLog(
        name=policy.name,
        loss_bound=policy.loss_bound,
        expected_loss=decision.expected_loss,
        temperature=decision.temperature,
        uncertainty=decision.uncertainty,
        near_ties=tuple(str(ids[i]) for i in decision.near_ties) if drawn else (),
    )


def _near_misses(
    client: ClientProfile,
    roster: Roster,
    scorer: Scorer,
    masks: dict[str, np.ndarray],
    exhaustive: bool = True,
) -> tuple[NearMiss, ...]:
    failures = np.stack([~masks[name] for name in CONSTRAINTS])  # (constraints, n)
    count = failures.sum(axis=0)
    close = (count >= 1) & (count <= MAX_NEAR_MISS_FAILURES) & masks["capacity"]
    rows = np.flatnonzero(close)
    if len(rows) == 0:
        return ()
    # Fewest misses come first, so therapists missing more than the fewest that
    # fill the list can never be shown: leave them unscored.
    enough = np.cumsum(np.bincount(count[rows], minlength=MAX_NEAR_MISS_FAILURES + 1))
    rows = rows[count[rows] <= int(np.argmax(enough >= min(MAX_NEAR_MISSES, len(rows))))]
    features = pair_features(client, roster, rows, track_record_of(scorer))
    scores = np.full(len(rows), -np.inf)
    for misses in np.unique(count[rows]):  # each group scored (or shortlisted) on its own
        group = np.flatnonzero(count[rows] == misses)
        scores[group] = shortlist_scores(scorer, features.iloc[group], MAX_NEAR_MISSES, exhaustive)
    order = np.lexsort((-scores, count[rows]))[:MAX_NEAR_MISSES]  # fewest misses, then best
    result = []
    for i in order:
        row = int(rows[i])
        therapist = roster.record(row)
        misses = tuple(
            miss_description(name, client.record, therapist)
            for c, name in enumerate(CONSTRAINTS)
            if failures[c, row]
        )
        result.append(
            NearMiss(
                therapist_id=str(roster.ids[row]),
                name=str(therapist["name"]),
                score=float(scores[i]),
                misses=misses,
                style=tuple(float(v) for v in roster.style[row]),
            )
        )
    return tuple(result)
