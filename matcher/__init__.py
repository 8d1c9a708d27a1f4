"""Therapist–client matching: explained rankings under hard constraints.

The public API is small::

    from matcher import Matcher
    matcher = Matcher.load(therapists="therapists.csv")
    for suggestion in matcher.rank({"concerns": "anxiety", "language": "english",
                                    "modality": "telehealth"}):
        print(suggestion.therapist_id, suggestion.score, suggestion.reasons)
"""

from .api import Matcher, Opening
from .errors import MatcherError, ModelArtifactError, NotFoundError, Problem, ValidationError
from .ranking.rank import NearMiss, Ranking, Suggestion
from .schema import Intake, parse_intake

__all__ = [
    "Intake",
    "Matcher",
    "MatcherError",
    "ModelArtifactError",
    "NearMiss",
    "NotFoundError",
    "Opening",
    "Problem",
    "Ranking",
    "Suggestion",
    "ValidationError",
    "parse_intake",
]
