"""Ranking policies: the deterministic top k, or exploring only among near-ties.

A deterministic ranking shows every client the same best k, so the log never sees a
therapist outside them, and a therapist without a track record has no way in. The
exploring policy randomises only where the model cannot tell candidates apart:

1. **Near-tie set.** Candidate ``i`` is a near-tie of the best candidate ``b`` when
   ``s_b - s_i <= NEAR_TIE_Z * sqrt(sigma_b**2 + sigma_i**2)``, ``sigma`` being the
   scorer's own uncertainty about each score (``score_uncertainty(features, ids)``
   when the scorer has it; :data:`PRIOR_UNCERTAINTY` for every candidate otherwise).
   At most :data:`MAX_NEAR_TIES`, those most plausibly the best (``s + sigma``) first.
2. **Plackett–Luce.** The first ``m = min(k, |T|)`` positions are drawn from the
   near-tie set ``T`` without replacement, each with probability proportional to
   ``exp(s_i / tau)`` among those left; the temperature starts at the set's pooled
   uncertainty ``sqrt(mean(sigma**2))``. Any positions left are filled with the best
   remaining candidates by score.
3. **Loss bound.** The expected score lost against the deterministic top k,
   ``sum_r w_r (s_det[r] - E[s_shown[r]]) / s_top`` with position weights
   ``w_r ∝ 1 / log2(r + 1)`` summing to 1, is computed exactly (a dynamic programme
   over the subsets drawn so far) and must not exceed ``loss_bound`` (default 1% of
   the top score): the temperature is lowered (by bisection) until it holds, and the
   lowest-scored near-tie is dropped when even the sorted order of the set exceeds it.

Only eligible candidates are ever passed in, so no hard constraint can be crossed.
Each shown suggestion's propensity is the probability of the shown prefix order
through its position, ``prod_{j <= r} P(a_j | a_1..a_{j-1})`` (1 for the deterministic
policy, and 1 for the fill after a fully drawn near-tie set).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..errors import MatcherError

#: The ranking policies: "deterministic" (the top k by score) and "explore".
POLICIES: tuple[str, ...] = ("deterministic", "explore")
DEFAULT_POLICY = "deterministic"
#: Configuration: the policy in force, and the loss bound as a share of the top score.
POLICY_ENV = "MATCHER_RANKING_POLICY"
LOSS_BOUND_ENV = "MATCHER_EXPLORATION_LOSS_BOUND"
#: The expected score lost against the deterministic top k, as a share of the top score.
DEFAULT_LOSS_BOUND = 0.01
#: The prior scorer states no uncertainty of its own: its scores are taken to be known to
#: about 3 points of probability (the hand-set weights were never fitted, so this is a
#: stated default, not an estimate).
PRIOR_UNCERTAINTY = 0.03
#: Near-ties lie within this many standard errors (of the difference) of the best.
NEAR_TIE_Z = 1.0
#: At most this many near-ties are sampled among (it bounds the exact loss computation).
MAX_NEAR_TIES = 8
#: Bisection steps on the temperature when the loss bound binds.
TEMPERATURE_STEPS = 20


@dataclass(frozen=True)
class PolicySettings:
    """Which policy ranks, and how much score exploration may cost."""

    name: str = DEFAULT_POLICY
    loss_bound: float = DEFAULT_LOSS_BOUND

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise MatcherError(
                f"unknown ranking policy {self.name!r}; choose one of {', '.join(POLICIES)}"
            )
        if not 0.0 <= self.loss_bound < 1.0:
            raise MatcherError(f"the loss bound must be in [0, 1), got {self.loss_bound!r}")

    @property
    def explores(self) -> bool:
        return self.name == "explore"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PolicySettings:
        """The configured policy: ``MATCHER_RANKING_POLICY`` (default deterministic) and
        ``MATCHER_EXPLORATION_LOSS_BOUND`` (default 0.01)."""
        environ = os.environ if environ is None else environ
        name = (environ.get(POLICY_ENV) or DEFAULT_POLICY).strip().lower()
        raw = (environ.get(LOSS_BOUND_ENV) or "").strip()
        try:
            bound = float(raw) if raw else DEFAULT_LOSS_BOUND
        except ValueError:
            raise MatcherError(f"{LOSS_BOUND_ENV} must be a number, got {raw!r}") from None
        return cls(name, bound)

    def with_name(self, name: str | None) -> PolicySettings:
        """These settings under another policy name (None keeps this one)."""
        return self if name is None else replace(self, name=name)


@dataclass(frozen=True)
class PolicyLog:
    """What the policy did for one ranking, stored with it (``Ranking.policy``).

    ``expected_loss`` and ``loss_bound`` are shares of the top score; ``near_ties`` are
    the therapists whose order was drawn (empty when nothing was drawn).
    """

    name: str = DEFAULT_POLICY
    loss_bound: float = DEFAULT_LOSS_BOUND
    expected_loss: float = 0.0
    temperature: float = 0.0
    uncertainty: float = 0.0
    near_ties: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["near_ties"] = list(self.near_ties)
        for key in ("loss_bound", "expected_loss", "temperature", "uncertainty"):
            data[key] = round(float(data[key]), 6)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyLog:
        return cls(
            name=str(data.get("name", DEFAULT_POLICY)),
            loss_bound=float(data.get("loss_bound", DEFAULT_LOSS_BOUND)),
            expected_loss=float(data.get("expected_loss", 0.0)),
            temperature=float(data.get("temperature", 0.0)),
            uncertainty=float(data.get("uncertainty", 0.0)),
            near_ties=tuple(str(t) for t in data.get("near_ties", ())),
        )


@dataclass(frozen=True)
class Decision:
    """An order over candidates: ``order`` indexes the score array, best shown first."""

    order: np.ndarray  # (<= k,) int
    propensity: np.ndarray  # (<= k,) prefix probabilities
    drawn: int  # how many leading positions were drawn from the near-tie set
    near_ties: np.ndarray  # indices of the near-tie set sampled among
    temperature: float
    uncertainty: float
    expected_loss: float  # share of the top score


# --- Plackett–Luce ---------------------------------------------------------------------------


def position_weights(k: int) -> np.ndarray:
    """(k,) weights ``1 / log2(r + 1)`` of positions 1..k, summing to 1."""
    w = 1.0 / np.log2(np.arange(2, k + 2))
    return w / w.sum()


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    top = np.max(logits, axis=1, keepdims=True)
    e = np.exp(logits - np.where(np.isfinite(top), top, 0.0))
    return e / e.sum(axis=1, keepdims=True)


def pl_position_means(values: np.ndarray, logits: np.ndarray, m: int) -> np.ndarray:
    """(m,) expected ``values`` at positions 1..m when an order of ``len(values)`` items is
    drawn by Plackett–Luce with these ``logits``; exact, over the subsets drawn so far."""
    n = len(values)
    masks = np.zeros(1, dtype=np.int64)
    prob = np.ones(1)
    bits = np.int64(1) << np.arange(n, dtype=np.int64)
    means = np.zeros(m)
    for r in range(m):
        member = (masks[:, None] & bits[None, :]) != 0  # (states, n)
        q = _softmax_rows(np.where(member, -np.inf, logits[None, :]))
        means[r] = float(prob @ (q @ values))
        if r + 1 == m:
            break
        state, item = np.nonzero(~member)
        grown = masks[state] | bits[item]
        masks, where = np.unique(grown, return_inverse=True)
        prob = np.bincount(where, prob[state] * q[state, item], minlength=len(masks))
    return means


def prefix_propensities(logits: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(len(order),) probability of the drawn prefix through each position."""
    logits = logits - logits.max()  # shift-invariant; keeps large logits exact
    left = np.ones(len(logits), dtype=bool)
    out = np.empty(len(order))
    log_p = 0.0
    for r, item in enumerate(order):
        rest = logits[left]
        top = rest.max()
        log_p += logits[item] - (top + math.log(np.exp(rest - top).sum()))
        out[r] = math.exp(log_p)
        left[item] = False
    return out


def sample_plackett_luce(logits: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """The first ``m`` of a Plackett–Luce order (Gumbel-max: sort logits plus Gumbel noise)."""
    noisy = logits + rng.gumbel(size=len(logits))
    return np.argsort(-noisy, kind="stable")[:m]


# --- the exploring policy ----------------------------------------------------------------------


def near_tie_set(scores: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Indices of the candidates within their uncertainty of the best, best-plausible first.

    ``scores`` may hold ``-inf`` for candidates not scored (never near-ties).
    """
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) == 0:
        return finite
    best = finite[np.argmax(scores[finite])]
    gap = scores[best] - scores[finite]
    within = gap <= NEAR_TIE_Z * np.sqrt(sigma[best] ** 2 + sigma[finite] ** 2) + 1e-12
    members = finite[within]
    optimistic = scores[members] + NEAR_TIE_Z * sigma[members]
    keep = members[np.lexsort((members, -optimistic))][:MAX_NEAR_TIES]
    if best not in keep:  # the best always belongs
        keep = np.concatenate([[best], keep[: MAX_NEAR_TIES - 1]])
    return keep[np.argsort(-scores[keep], kind="stable")]  # by score, best first


def _deterministic(scores: np.ndarray, k: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    return finite[np.argsort(-scores[finite], kind="stable")][:k]


def _fill(scores: np.ndarray, near: np.ndarray, k: int, n: int) -> np.ndarray:
    """The ``n`` best candidates by score outside ``near`` (the positions after the draw)."""
    best = _deterministic(scores, k + len(near))
    return best[~np.isin(best, near)][:n]


def expected_loss(scores: np.ndarray, near: np.ndarray, temperature: float, k: int) -> float:
    """Expected position-weighted score lost against the deterministic top ``k``, as a
    share of the top score, when the first positions are drawn from ``near`` at this
    temperature (0: ``near`` in score order) and the rest filled by score."""
    det = _deterministic(scores, k)
    shown = len(det)
    if shown == 0:
        return 0.0
    m = min(shown, len(near))
    values = scores[near]
    if temperature > 0:
        drawn = pl_position_means(values, (values - values.max()) / temperature, m)
    else:
        drawn = np.sort(values)[::-1][:m]
    filled = np.concatenate([drawn, scores[_fill(scores, near, k, shown - m)]])
    w = position_weights(shown)
    top = float(scores[det[0]])
    lost = float(w @ (scores[det] - filled))
    return max(lost, 0.0) / top if top > 0 else 0.0


def explore(
    scores: np.ndarray,
    sigma: np.ndarray,
    k: int,
    loss_bound: float,
    rng: np.random.Generator,
) -> Decision:
    """Draw an order among the near-ties within the loss bound (see the module's notes).

    Parameters
    ----------
    scores : (n,) the eligible candidates' scores (``-inf``: not scored, never shown)
    sigma : (n,) the scorer's uncertainty about each score
    """
    near = near_tie_set(scores, sigma)
    while len(near) >= 2:
        tau0 = float(np.sqrt(np.mean(sigma[near] ** 2)))
        if expected_loss(scores, near, 0.0, k) <= loss_bound:
            tau = _temperature(scores, near, tau0, k, loss_bound)
            if tau > 0:
                return _draw(scores, near, tau, tau0, k, rng)
            break
        near = near[:-1]  # even their sorted order costs too much: drop the lowest-scored
    order = _deterministic(scores, k)
    return Decision(order, np.ones(len(order)), 0, order[:0], 0.0, 0.0, 0.0)


def _temperature(scores: np.ndarray, near: np.ndarray, tau0: float, k: int, bound: float) -> float:
    """The largest temperature up to ``tau0`` (within bisection) whose loss is in bound."""
    if tau0 <= 0:
        return 0.0
    if expected_loss(scores, near, tau0, k) <= bound:
        return tau0
    low, high = 0.0, tau0
    for _ in range(TEMPERATURE_STEPS):
        middle = 0.5 * (low + high)
        if expected_loss(scores, near, middle, k) <= bound:
            low = middle
        else:
            high = middle
    return low


def _draw(
    scores: np.ndarray,
    near: np.ndarray,
    tau: float,
    tau0: float,
    k: int,
    rng: np.random.Generator,
) -> Decision:
    shown = min(k, int(np.isfinite(scores).sum()))
    m = min(shown, len(near))
    logits = (scores[near] - scores[near].max()) / tau
    picked = sample_plackett_luce(logits, m, rng)
    propensity = prefix_propensities(logits, picked)
    rest = _fill(scores, near, k, shown - m)
    order = np.concatenate([near[picked], rest]).astype(int)
    propensity = np.concatenate([propensity, np.full(len(rest), propensity[-1])])
    loss = expected_loss(scores, near, tau, k)
    return Decision(order, propensity, m, near, tau, tau0, loss)
