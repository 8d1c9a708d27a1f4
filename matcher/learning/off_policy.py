"""Off-policy estimates of a ranking's value from logged placements.

Each logged placement ``i`` is a client ``x_i``, the therapist ``a_i`` they were
placed with, whether it went well (``r_i`` in {0, 1}) and the probability
``p_i`` with which the logging policy made that placement. A target policy
``pi`` (here: "the client starts with one of the ranking's top k, each equally
likely") gives ``pi(a_i | x_i)``; the importance weight is ``w_i = pi_i / p_i``.
Definitions follow Open Bandit Pipeline (Saito et al.):

* IPS:   ``mean(w * r)``
* SNIPS: ``sum(w * r) / sum(w)``
* DR:    ``mean(q_pi + w * (r - q_logged))`` where ``q_pi = sum_a pi(a | x) q(x, a)``
  is a reward model's value of the target policy and ``q_logged = q(x_i, a_i)``.

Intervals are percentile bootstraps over clients; comparisons between two
policies use the same resamples for both (a paired bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("ips", "snips", "dr")
#: Bootstrap resamples for intervals and paired comparisons.
N_BOOTSTRAP = 300
CONFIDENCE = 0.95


@dataclass(frozen=True)
class LoggedOutcomes:
    """What one target policy needs of the log, aligned by logged placement (all (n,)).

    ``weight`` is ``pi(a_i | x_i) / p_i``; ``q_policy`` the reward model's value of the
    target policy for client ``i``; ``q_logged`` its prediction for the logged pair;
    ``group`` the client each placement belongs to (the bootstrap's unit).
    """

    reward: np.ndarray
    weight: np.ndarray
    q_policy: np.ndarray
    q_logged: np.ndarray
    group: np.ndarray


def ips(reward: np.ndarray, weight: np.ndarray) -> float:
    """Inverse propensity scoring: ``mean(w * r)``; unbiased, high variance."""
    return float(np.mean(weight * reward)) if len(reward) else float("nan")


def snips(reward: np.ndarray, weight: np.ndarray) -> float:
    """Self-normalised IPS: ``sum(w * r) / sum(w)``; NaN when no weight is positive."""
    total = float(np.sum(weight))
    return float(np.sum(weight * reward)) / total if total > 0 else float("nan")


def doubly_robust(
    reward: np.ndarray, weight: np.ndarray, q_policy: np.ndarray, q_logged: np.ndarray
) -> float:
    """``mean(q_pi + w * (r - q_logged))``: unbiased if either the propensities or the
    reward model are right, and lower variance than IPS when the model is close."""
    if not len(reward):
        return float("nan")
    return float(np.mean(q_policy + weight * (reward - q_logged)))


def estimates(log: LoggedOutcomes) -> dict[str, float]:
    """All three estimators on one log."""
    return {
        "ips": ips(log.reward, log.weight),
        "snips": snips(log.reward, log.weight),
        "dr": doubly_robust(log.reward, log.weight, log.q_policy, log.q_logged),
    }


def bootstrap_indices(
    group: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0
) -> list[np.ndarray]:
    """Resamples of the log's rows, drawing whole clients with replacement."""
    rng = np.random.default_rng(seed)
    clients, inverse = np.unique(group, return_inverse=True)
    rows_of = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse))[:-1])
    resamples = []
    for _ in range(n_bootstrap):
        drawn = rng.integers(0, len(clients), len(clients))
        resamples.append(np.concatenate([rows_of[c] for c in drawn]) if len(drawn) else drawn)
    return resamples


def _subset(log: LoggedOutcomes, rows: np.ndarray) -> LoggedOutcomes:
    return LoggedOutcomes(
        log.reward[rows], log.weight[rows], log.q_policy[rows], log.q_logged[rows], log.group[rows]
    )


def bootstrap_estimates(log: LoggedOutcomes, resamples: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each estimator on each resample: {estimator: (n_bootstrap,)}."""
    draws = [estimates(_subset(log, rows)) for rows in resamples]
    return {name: np.array([d[name] for d in draws]) for name in ESTIMATORS}


def interval(draws: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of bootstrap draws (NaN draws ignored)."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.nanpercentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def summary(log: LoggedOutcomes, draws: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{estimator: {"value", "low", "high"}} from the point estimates and bootstrap draws."""
    point = estimates(log)
    out = {}
    for name in ESTIMATORS:
        low, high = interval(draws[name])
        out[name] = {"value": point[name], "low": low, "high": high}
    return out
