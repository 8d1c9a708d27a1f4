"""Style on the four axes: from ratings where given, else inferred from text.

A therapist's ``approach`` or a client's ``hopes`` is placed on each axis by
comparing its embedding with short descriptions of the axis' two poles:
``gain * (cos(text, positive pole) - cos(text, negative pole))``, clipped to
-3..+3. The pole descriptions mix the therapist's and the client's voice so
both kinds of text land on the same scale.
"""

from __future__ import annotations

import numpy as np

from .embed import Embedder
from .vocab import STYLE_AXES, STYLE_MAX, STYLE_MIN

#: Descriptions of each axis' (negative, positive) poles. Several wordings per
#: pole average out the quirks of any one sentence.
POLE_TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "directive": (
        (
            "You lead the sessions and decide what we talk about.",
            "I follow your pace and let you set the direction.",
            "I want to choose the topics myself and go at my own pace.",
            "A non-directive therapist who lets the client lead.",
        ),
        (
            "I give clear structure, set an agenda and lead each session.",
            "The therapist takes charge, plans the sessions and guides the work step by step.",
            "I want a therapist who tells me what to do and structures our sessions.",
            "A structured, directive approach with a plan and clear steps.",
        ),
    ),
    "intensity": (
        (
            "A calm, steady and contained space where feelings stay manageable.",
            "We go gently and keep things light and safe.",
            "I would rather not get overwhelmed by emotions in sessions.",
            "A low-key, measured conversation without emotional intensity.",
        ),
        (
            "We go into strong feelings and let intense emotions come out.",
            "I encourage you to fully feel and express deep, painful emotions.",
            "I want to cry, get angry and really let my emotions out in therapy.",
            "Emotionally intense work that stays with difficult feelings.",
        ),
    ),
    "past_focus": (
        (
            "We focus on the here and now, on your current problems and future goals.",
            "Practical attention to what is happening today and what you want next.",
            "I want to deal with my life right now, not dig into my childhood.",
            "Present-focused and future-oriented work.",
        ),
        (
            "We explore your childhood, your past and where your patterns come from.",
            "Understanding how early experiences and family history shape you today.",
            "I want to understand the roots of my problems in my past.",
            "Exploring past relationships and formative memories in depth.",
        ),
    ),
    "challenge": (
        (
            "A warm, accepting space where you feel listened to and supported.",
            "I offer empathy, compassion and gentle support without judgement.",
            "I mostly need someone kind who listens and comforts me.",
            "Warm, supportive listening and emotional validation.",
        ),
        (
            "Practical tools, homework and focused problem-solving.",
            "I challenge unhelpful thinking and teach concrete skills and strategies.",
            "I want practical techniques, honest challenge and exercises to solve my problems.",
            "Goal-focused, skills-based work that pushes you to change.",
        ),
    ),
}

#: Maps the cosine-difference onto the -3..+3 rating scale (chosen on the
#: simulated texts so clearly worded texts land near ±2..3; see tests).
DEFAULT_GAIN = 30.0


class StyleInferrer:
    """Places texts on the four style axes.

    Parameters
    ----------
    embedder : Embedder
        Used once to encode the pole descriptions.
    gain : float
        Scale from cosine difference to rating points.
    """

    def __init__(self, embedder: Embedder, gain: float = DEFAULT_GAIN):
        self.embedder = embedder
        self.gain = gain
        self._directions: np.ndarray | None = None

    def directions(self) -> np.ndarray:
        """(4, d) float32: positive-pole centroid minus negative-pole centroid, per axis."""
        if self._directions is None:
            rows = []
            for axis in STYLE_AXES:
                negative, positive = POLE_TEXTS[axis]
                vectors = self.embedder.encode([*negative, *positive])
                neg = _unit(vectors[: len(negative)].mean(axis=0))
                pos = _unit(vectors[len(negative) :].mean(axis=0))
                rows.append(pos - neg)
            self._directions = np.stack(rows).astype(np.float32)
        return self._directions

    def infer(self, embeddings: np.ndarray) -> np.ndarray:
        """Ratings for texts already embedded.

        Parameters
        ----------
        embeddings : (n, d) float32, rows unit length (zero rows mean "no text")

        Returns
        -------
        (n, 4) float32 in [-3, 3], columns in ``STYLE_AXES`` order; 0 for no text.
        """
        raw = embeddings @ self.directions().T
        return np.clip(self.gain * raw, STYLE_MIN, STYLE_MAX).astype(np.float32)

    def infer_texts(self, texts: list[str]) -> np.ndarray:
        """Ratings for raw texts; see :meth:`infer`."""
        return self.infer(self.embedder.encode(texts))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def resolve_style(
    ratings: np.ndarray, inferred: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Combine given ratings with inferred ones.

    Parameters
    ----------
    ratings : (n, 4) float with NaN where no rating was given
    inferred : (n, 4) float, the text-based estimate

    Returns
    -------
    style : (n, 4) float32, the rating where given else the inferred value
    given : (n, 4) bool, True where the value came from a rating
    """
    given = ~np.isnan(ratings)
    return np.where(given, ratings, inferred).astype(np.float32), given
