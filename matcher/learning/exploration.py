"""What exploring costs and what it buys, from the log of rankings shown and placements.

The cost is the expected score each ranking gave up against the deterministic top k
(logged with it by :mod:`matcher.ranking.policy`, a share of its top score); what it
buys is coverage: how many therapists have ever been placed, and who is still waiting
for a first placement (a therapist without a record is who exploration is for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ExplorationSummary:
    """Exploration's cost and coverage (see :func:`exploration_summary`)."""

    rankings: int  # the latest ranking of each client
    exploring: int  # of them, ranked under the exploring policy
    drawn: int  # of them, with an order drawn among near-ties
    mean_loss: float  # mean expected loss, share of the top score (NaN: none logged)
    max_loss: float
    loss_bound: float  # the largest bound in force (NaN: none logged)
    therapists: int
    placed: int  # therapists ever placed
    waiting: tuple[str, ...]  # therapist ids never placed yet


def exploration_summary(
    shown: pd.DataFrame, roster_ids: Iterable[str], placed_ids: Iterable[str]
) -> ExplorationSummary:
    """Summarise ``shown`` (``Store.shown_rankings()``: a row per suggestion, with the
    ranking's policy, expected_loss and loss_bound) and the therapists ever placed.

    A ranking was drawn when its first suggestion's propensity is below 1. Rankings
    stored before losses were logged (deterministic) count as costing nothing.
    """
    roster = list(dict.fromkeys(str(t) for t in roster_ids))
    placed = {str(t) for t in placed_ids}
    first = shown[shown["rank"] == 1]
    loss = pd.to_numeric(first["expected_loss"], errors="coerce").fillna(0.0)
    bound = pd.to_numeric(first["loss_bound"], errors="coerce")
    propensity = pd.to_numeric(first["propensity"], errors="coerce")
    return ExplorationSummary(
        rankings=len(first),
        exploring=int((first["policy"] == "explore").sum()),
        drawn=int((propensity < 1).sum()),
        mean_loss=float(loss.mean()) if len(loss) else float("nan"),
        max_loss=float(loss.max()) if len(loss) else float("nan"),
        loss_bound=float(bound.max()) if bound.notna().any() else float("nan"),
        therapists=len(roster),
        placed=sum(1 for t in roster if t in placed),
        waiting=tuple(t for t in roster if t not in placed),
    )
