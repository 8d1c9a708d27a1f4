"""Values the simulator draws and the numbers of its generative model.

The contract's names (columns, concern tags, slots...) live in :mod:`matcher.vocab`; the
words of the texts live in ``data/*.toml`` (:mod:`.phrases`). What is here is what the
simulator samples from, and with which weights.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CITIES",
    "FAITHS",
    "FREE_CONCERNS",
    "GENDERS",
    "INSURERS",
    "LANGUAGES",
    "THERAPY_MODALITIES",
]

CITIES: tuple[str, ...] = ("Springfield", "Riverton", "Lakeside", "Hillview", "Brookfield")
CITY_WEIGHTS = np.array([0.32, 0.24, 0.18, 0.14, 0.12])

LANGUAGES: tuple[str, ...] = (
    "english",
    "spanish",
    "french",
    "mandarin",
    "arabic",
    "portuguese",
    "vietnamese",
    "hindi",
)
#: Probability that a therapist speaks each language (English almost always).
THERAPIST_LANGUAGE_P = np.array([1.0, 0.15, 0.04, 0.04, 0.03, 0.03, 0.02, 0.02])
#: Relative frequency of each language among clients (before restricting to the roster's).
CLIENT_LANGUAGE_W = np.array([0.86, 0.08, 0.015, 0.015, 0.01, 0.01, 0.005, 0.005])

GENDERS: tuple[str, ...] = ("woman", "man", "nonbinary")
INSURERS: tuple[str, ...] = ("aetna", "bluecross", "cigna", "medicaid", "united")
FAITHS: tuple[str, ...] = ("christian", "jewish", "muslim", "buddhist")

THERAPY_MODALITIES: tuple[str, ...] = (
    "cbt",
    "act",
    "psychodynamic",
    "emdr",
    "dbt",
    "person_centred",
    "schema",
    "ifs",
    "narrative",
    "solution_focused",
    "compassion_focused",
    "mindfulness",
)
#: Style loadings of each modality on (directive, intensity, past_focus, challenge).
MODALITY_LOADINGS = np.array(
    [
        [1.0, 0.0, -0.8, 1.0],  # cbt
        [0.2, 0.0, -0.5, 0.3],  # act
        [-0.8, 0.5, 1.2, 0.0],  # psychodynamic
        [0.3, 0.8, 0.5, 0.0],  # emdr
        [0.8, 0.0, -0.3, 0.7],  # dbt
        [-1.2, 0.0, 0.0, -1.0],  # person_centred
        [0.2, 0.3, 0.8, 0.3],  # schema
        [-0.3, 0.5, 0.4, 0.0],  # ifs
        [-0.5, 0.0, 0.2, -0.2],  # narrative
        [0.5, -0.3, -1.2, 0.6],  # solution_focused
        [0.0, -0.2, 0.0, -0.7],  # compassion_focused
        [0.0, -0.6, -0.4, 0.0],  # mindfulness
    ]
)

#: Free concern tags clients sometimes use, and the fixed tag the ground truth maps them to.
FREE_CONCERNS: dict[str, str] = {
    "loneliness": "relationships",
    "burnout": "work_stress",
    "perfectionism": "anxiety",
    "procrastination": "adhd",
    "caregiving": "family",
    "body_image": "self_esteem",
}

#: How often each fixed concern tag is a client's concern (therapists' specialties follow
#: the same popularity, flattened).
CONCERN_POPULARITY: dict[str, float] = {
    "anxiety": 0.16,
    "depression": 0.15,
    "trauma": 0.08,
    "grief": 0.05,
    "relationships": 0.09,
    "family": 0.06,
    "work_stress": 0.08,
    "self_esteem": 0.07,
    "identity": 0.03,
    "substance_use": 0.03,
    "eating": 0.02,
    "ocd": 0.02,
    "adhd": 0.03,
    "anger": 0.03,
    "sleep": 0.03,
    "life_transition": 0.05,
    "chronic_illness": 0.02,
    "bipolar": 0.01,
}

#: Proportion of therapists with reliably poorer improvement.
POOR_THERAPIST_RATE = 0.05
SELF_RATING_RATE = 0.6
CLIENT_STATES_AXIS_RATE = 0.7
FREE_CONCERN_RATE = 0.06
#: Probability that a style sentence is written one level off the latent value.
TEXT_LEVEL_SLIP = 0.15
#: Latent style values below each edge take phrase levels 0..4.
LEVEL_EDGES = np.array([-1.8, -0.6, 0.6, 1.8])
ALLIANCE_CUTOFF = 36.0
IMPROVEMENT_BASE = 2.0
IMPROVEMENT_CLICK = 3.0
IMPROVEMENT_SD = 3.0
