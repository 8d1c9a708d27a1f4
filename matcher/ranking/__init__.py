"""Ranking: from an intake and a roster to an explained, constraint-safe ranking.

embed (texts to vectors) -> style (four axes) -> features (roster arrays, client
profiles, pair features) -> filters (hard constraints) -> scoring (the prior or
a learned scorer) -> policy (deterministic, or exploring among near-ties) -> explain
(reasons) -> rank (suggestions and near-misses).
Imports only :mod:`matcher.errors`, :mod:`matcher.vocab` and :mod:`matcher.schema`.
"""

from .concerns import ConcernReader
from .embed import CachedEmbedder, Embedder, SentenceTransformerEmbedder, text_key
from .explain import slot_label
from .features import (
    CLICK_FEATURES,
    FEATURE_NAMES,
    STYLE_FEATURES,
    ClientProfile,
    encode_clients,
    pair_features,
)
from .filters import (
    CONSTRAINTS,
    constraint_masks,
    constraint_masks_many,
    eligible,
    unmet_constraints,
)
from .negation import split_sentences
from .policy import (
    DEFAULT_LOSS_BOUND,
    POLICIES,
    PRIOR_UNCERTAINTY,
    PolicyLog,
    PolicySettings,
)
from .rank import LOGGED_CANDIDATES, NearMiss, Ranking, Suggestion, rank_client, track_record_of
from .roster import Roster, concerns_text, specialties_text
from .scoring import PriorScorer, Scorer
from .style import StyleInferrer, resolve_style

__all__ = [
    "CLICK_FEATURES",
    "CONSTRAINTS",
    "DEFAULT_LOSS_BOUND",
    "LOGGED_CANDIDATES",
    "POLICIES",
    "PRIOR_UNCERTAINTY",
    "PolicyLog",
    "PolicySettings",
    "FEATURE_NAMES",
    "STYLE_FEATURES",
    "CachedEmbedder",
    "ClientProfile",
    "ConcernReader",
    "Embedder",
    "NearMiss",
    "PriorScorer",
    "Ranking",
    "Roster",
    "Scorer",
    "SentenceTransformerEmbedder",
    "StyleInferrer",
    "Suggestion",
    "concerns_text",
    "constraint_masks",
    "constraint_masks_many",
    "eligible",
    "unmet_constraints",
    "encode_clients",
    "pair_features",
    "rank_client",
    "resolve_style",
    "slot_label",
    "specialties_text",
    "split_sentences",
    "text_key",
    "track_record_of",
]
