"""Therapist–client matching: explained rankings under hard constraints.

The public API is small::

    from matcher import Matcher
    matcher = Matcher.load(therapists="therapists.csv")
    for suggestion in matcher.rank({"concerns": "anxiety", "language": "english",
                                    "modality": "telehealth"}):
        print(suggestion.therapist_id, suggestion.score, suggestion.reasons)
"""

from .api import Matcher
from .errors import MatcherError, ModelArtifactError, NotFoundError, Problem, ValidationError
from .ranking.rank import NearMiss, Ranking, Suggestion

__all__ = [
    "Matcher",
    "MatcherError",
    "ModelArtifactError",
    "NearMiss",
    "NotFoundError",
    "Problem",
    "Ranking",
    "Suggestion",
    "ValidationError",
]
