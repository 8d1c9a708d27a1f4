"""A simulated world with known ground truth: roster, intakes and outcomes.

The simulator writes the three tables of the data contract (``vocab.THERAPIST_COLUMNS``,
``vocab.INTAKE_COLUMNS``, ``vocab.OUTCOME_COLUMNS``; every cell a string as a CSV would hold
it) from an explicit generative model, and keeps the latent quantities so that a learned
model can later be scored against the truth (for example "true click rate of the top-1
suggestion", via :meth:`World.click_probability`).

Generative model
----------------
Notation: ``n_t`` therapists, ``n_c`` clients, ``K = len(vocab.CONCERN_TAGS)`` concern tags,
axes ``a`` in ``vocab.STYLE_AXES`` = (directive, intensity, past_focus, challenge).

Therapists
    * Latent style ``t[j] in [-3, 3]^4``: multivariate normal with sd 1.4 and mild
      correlations (directive~challenge +0.4, intensity~past_focus +0.35,
      directive~past_focus -0.2), clipped to [-3, 3].
    * Self-ratings: 60% of therapists give all four, ``round(clip(t + U(-1, 1), -3, 3))``;
      the other 40% leave all four blank, so their style must be read from ``approach``.
    * Specialties: 2-5 concern tags drawn without replacement (Gumbel top-k) by popularity.
      Modalities: 1-4 drawn with log-weights ``0.6 * W @ t[j]`` so that e.g. CBT leans
      directive/challenging and psychodynamic work leans past-focused.
    * Click effect ``u[j] ~ N(0, 0.5^2)`` (sd 0.5) on the logit of the click.
    * Effectiveness ``e[j, k] = g[j] + h[j, k] + 0.5 * [k in specialties(j)]`` where
      ``g[j] ~ N(0, 0.4^2)`` except for ~5% "reliably poorer" therapists with
      ``g[j] ~ N(-3, 0.3^2)``; ``h[j, k] ~ N(0, 0.6^2)`` plus, with probability 0.06,
      a clear strength or weakness of ``+-U(2, 3.5)``.

Clients
    * Latent preference ``p[i] ~ clip(N(0, 1.5^2), -3, 3)`` per axis.
    * Each axis is stated with probability 0.7 as ``round(p)``; the strength
      ``s[i, a] ~ U(0.4, 1)`` for a stated axis and ``U(0, 0.25)`` for a blank one (a blank
      means "doesn't matter much to me").
    * 1-3 concerns by popularity (the first is the primary concern); about 6% of clients
      replace one by a free tag (``loneliness``, ``burnout``...) that the truth maps to a
      related fixed tag (``FREE_CONCERNS``).

Click (good early relationship)
    ``fit[i, j] = sum_a s[i, a] * (1 - |p[i, a] - t[j, a]| / 3)``  (in [-4, 4])

    ``cov[i, j] = |canon(concerns(i)) & specialties(j)| / |canon(concerns(i))|``  (in [0, 1])

    ``P(click) = sigmoid(b0 + b_style * fit + b_concern * cov + u[j])``

    with ``b0 = -1.25``, ``b_style = 0.65``, ``b_concern = 0.9`` (:data:`CLICK_COEFFICIENTS`):
    the base rate over random reachable placements is about 40%, a well-matched pair
    (high ``fit``, full coverage) about 0.7 and a poorly matched one about 0.2.

History (``history=True``)
    Each client is placed once with a therapist drawn uniformly from those who share the
    client's language and are reachable (telehealth for a client open to telehealth, or in
    person in the client's city for a client open to that): "whoever has an opening", so the
    history explores. Then ``click ~ Bernoulli(P)``;

    * clicked: not dropped out, ``sessions = 3 + Poisson(6)``, ``alliance = 36 + 4 Beta(2, 1.5)``;
    * not clicked, dropped out (probability 0.5): ``sessions`` 1-2, alliance blank (60%) or
      ``U(8, 30)``;
    * not clicked, stayed: ``sessions = 3 + Poisson(3)``, ``alliance = 18 + 17.9 Beta(2.5, 1.8)``;
    * ``improvement = 2 + e[j, primary concern] + 3 * click + N(0, 3^2)``, blank for 70% of
      drop-outs and 5% of the others.

    The ``click`` column stays blank: the label is derived downstream as
    ``not dropped_out and alliance >= 36``, which equals the sampled click by construction.

Texts
    ``approach`` (3-6 sentences) and ``hopes`` (1-3 sentences) are composed from phrase
    banks per axis and level (strong-negative, mild-negative, neutral, mild-positive,
    strong-positive; at least four paraphrases each; therapist voice and client voice). A
    sentence's level is the latent value's level, moved one step with probability 0.15;
    therapists mention a non-neutral axis with probability 0.85 (a neutral one 0.5), clients
    mention their 1-3 strongest axes. Fillers (specialties in words, training, setting,
    experience; for clients a generic wish) add noise, and sentence order is shuffled, so an
    embedding of the text carries real but noisy signal about the latent style. ``story``
    (2-4 sentences) describes each concern in everyday words plus context.

Random streams
    Roster, roster texts, clients, client texts, repairs and history draw from separate
    streams spawned from ``seed``: the same seed gives the same roster whatever
    ``n_clients`` is, and the same intakes with or without history.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import compress
from pathlib import Path

import numpy as np
import pandas as pd

from ..vocab import (
    CONCERN_TAGS,
    INTAKE_COLUMNS,
    LIST_SEPARATOR,
    MODALITIES,
    OUTCOME_COLUMNS,
    SLOTS,
    STYLE_AXES,
    STYLE_MAX,
    STYLE_MIN,
    THERAPIST_COLUMNS,
)

__all__ = [
    "CITIES",
    "CLICK_COEFFICIENTS",
    "FAITHS",
    "FREE_CONCERNS",
    "GENDERS",
    "INSURERS",
    "LANGUAGES",
    "THERAPY_MODALITIES",
    "ClickCoefficients",
    "GroundTruth",
    "World",
    "simulate_world",
]

# --------------------------------------------------------------------------------------
# Simulation vocabularies (values the simulator draws; the contract's names live in vocab)
# --------------------------------------------------------------------------------------

CITIES: tuple[str, ...] = ("Springfield", "Riverton", "Lakeside", "Hillview", "Brookfield")
_CITY_WEIGHTS = np.array([0.32, 0.24, 0.18, 0.14, 0.12])

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
#: Probability that a therapist speaks each non-English language.
_THERAPIST_LANGUAGE_P = np.array([1.0, 0.15, 0.04, 0.04, 0.03, 0.03, 0.02, 0.02])
#: Relative frequency of each language among clients (before restricting to the roster's).
_CLIENT_LANGUAGE_W = np.array([0.86, 0.08, 0.015, 0.015, 0.01, 0.01, 0.005, 0.005])

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
_MODALITY_LOADINGS = np.array(
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
_MODALITY_WORDS: dict[str, str] = {
    "cbt": "CBT",
    "act": "acceptance and commitment therapy",
    "psychodynamic": "psychodynamic therapy",
    "emdr": "EMDR",
    "dbt": "DBT",
    "person_centred": "person-centred counselling",
    "schema": "schema therapy",
    "ifs": "Internal Family Systems",
    "narrative": "narrative therapy",
    "solution_focused": "solution-focused therapy",
    "compassion_focused": "compassion-focused therapy",
    "mindfulness": "mindfulness-based approaches",
}

#: Free concern tags clients sometimes use, and the fixed tag the ground truth maps them to.
FREE_CONCERNS: dict[str, str] = {
    "loneliness": "relationships",
    "burnout": "work_stress",
    "perfectionism": "anxiety",
    "procrastination": "adhd",
    "caregiving": "family",
    "body_image": "self_esteem",
}

_CONCERN_POPULARITY: dict[str, float] = {
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

_CONCERN_WORDS: dict[str, str] = {
    "anxiety": "anxiety",
    "depression": "depression",
    "trauma": "trauma and PTSD",
    "grief": "grief and loss",
    "relationships": "relationship difficulties",
    "family": "family conflict",
    "work_stress": "work stress",
    "self_esteem": "low self-esteem",
    "identity": "identity and LGBTQ+ questions",
    "substance_use": "alcohol and drug use",
    "eating": "eating difficulties",
    "ocd": "OCD",
    "adhd": "adult ADHD",
    "anger": "anger",
    "sleep": "sleep problems",
    "life_transition": "life transitions",
    "chronic_illness": "chronic illness and pain",
    "bipolar": "bipolar disorder",
}

# --------------------------------------------------------------------------------------
# Click model coefficients
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClickCoefficients:
    """Coefficients of the true click model (see the module docstring).

    Attributes
    ----------
    intercept : float
        ``b0``, the logit of a pair with no style fit, no concern coverage and ``u = 0``.
    style : float
        ``b_style``, weight of the strength-weighted style fit (range [-4, 4]).
    concern : float
        ``b_concern``, weight of the share of the client's concerns the therapist lists.
    therapist_sd : float
        Standard deviation of the therapist effect ``u`` on the logit.
    """

    intercept: float = -1.25
    style: float = 0.65
    concern: float = 0.9
    therapist_sd: float = 0.5


CLICK_COEFFICIENTS = ClickCoefficients()

#: Proportion of therapists with reliably poorer improvement.
_POOR_THERAPIST_RATE = 0.05
_SELF_RATING_RATE = 0.6
_CLIENT_STATES_AXIS_RATE = 0.7
_FREE_CONCERN_RATE = 0.06
_TEXT_LEVEL_SLIP = 0.15
_LEVEL_EDGES = np.array([-1.8, -0.6, 0.6, 1.8])
_ALLIANCE_CUTOFF = 36.0
_IMPROVEMENT_BASE = 2.0
_IMPROVEMENT_CLICK = 3.0
_IMPROVEMENT_SD = 3.0

# --------------------------------------------------------------------------------------
# Ground truth and world
# --------------------------------------------------------------------------------------


def _rows(rows: np.ndarray | Sequence[int] | None, n: int) -> np.ndarray:
    """Row indices as an int array; ``None`` means all ``n`` rows."""
    if rows is None:
        return np.arange(n)
    return np.asarray(rows, dtype=np.intp).reshape(-1)


def _logit(
    fit: np.ndarray, coverage: np.ndarray, effect: np.ndarray, coef: ClickCoefficients
) -> np.ndarray:
    """The click logit from its parts: the one place the click formula is written."""
    return coef.intercept + coef.style * fit + coef.concern * coverage + effect


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Latent quantities of a simulated world, aligned to the rows of its tables.

    Attributes
    ----------
    therapist_style : numpy.ndarray
        ``(n_t, 4)`` latent style ``t`` in [-3, 3], columns in ``vocab.STYLE_AXES`` order.
    therapist_effect : numpy.ndarray
        ``(n_t,)`` therapist effect ``u`` on the click logit.
    therapist_specialties : numpy.ndarray
        ``(n_t, K)`` bool, specialties over ``vocab.CONCERN_TAGS``.
    effectiveness : numpy.ndarray
        ``(n_t, K)`` expected improvement offset ``e`` per therapist and concern.
    reliably_poor : numpy.ndarray
        ``(n_t,)`` bool, the therapists drawn as reliably poorer.
    client_preference : numpy.ndarray
        ``(n_c, 4)`` latent preference ``p`` in [-3, 3].
    client_strength : numpy.ndarray
        ``(n_c, 4)`` strength ``s`` in [0, 1]: how much each axis matters to the client.
    client_concerns : numpy.ndarray
        ``(n_c, K)`` bool, the client's concerns mapped onto ``vocab.CONCERN_TAGS``.
    primary_concern : numpy.ndarray
        ``(n_c,)`` column index in ``CONCERN_TAGS`` of the client's first concern.
    placement : numpy.ndarray
        ``(n_c,)`` therapist row each client was placed with, ``-1`` without history.
    clicked : numpy.ndarray
        ``(n_c,)`` bool, the sampled click of the placement (``False`` without history).
    coefficients : ClickCoefficients
        Coefficients of the click model.
    """

    therapist_style: np.ndarray
    therapist_effect: np.ndarray
    therapist_specialties: np.ndarray
    effectiveness: np.ndarray
    reliably_poor: np.ndarray
    client_preference: np.ndarray
    client_strength: np.ndarray
    client_concerns: np.ndarray
    primary_concern: np.ndarray
    placement: np.ndarray
    clicked: np.ndarray
    coefficients: ClickCoefficients = CLICK_COEFFICIENTS

    @property
    def n_therapists(self) -> int:
        """Number of therapists."""
        return int(self.therapist_style.shape[0])

    @property
    def n_clients(self) -> int:
        """Number of clients."""
        return int(self.client_preference.shape[0])

    def style_fit(
        self,
        client_rows: Sequence[int] | np.ndarray | None = None,
        therapist_rows: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Strength-weighted style fit ``sum_a s_a (1 - |p_a - t_a| / 3)``.

        Parameters
        ----------
        client_rows, therapist_rows : sequence of int, optional
            Row indices; ``None`` means all rows.

        Returns
        -------
        numpy.ndarray
            ``(n_clients, n_therapists)`` float in [-4, 4].
        """
        c = _rows(client_rows, self.n_clients)
        t = _rows(therapist_rows, self.n_therapists)
        p, s, style = self.client_preference[c], self.client_strength[c], self.therapist_style[t]
        fit = np.zeros((c.size, t.size))
        for a in range(len(STYLE_AXES)):  # four passes keep memory at one (n_c, n_t) array
            fit += s[:, a, None] * (1.0 - np.abs(p[:, a, None] - style[None, :, a]) / 3.0)
        return fit

    def concern_coverage(
        self,
        client_rows: Sequence[int] | np.ndarray | None = None,
        therapist_rows: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Share of each client's (mapped) concerns listed in each therapist's specialties.

        Parameters
        ----------
        client_rows, therapist_rows : sequence of int, optional
            Row indices; ``None`` means all rows.

        Returns
        -------
        numpy.ndarray
            ``(n_clients, n_therapists)`` float in [0, 1].
        """
        c = _rows(client_rows, self.n_clients)
        t = _rows(therapist_rows, self.n_therapists)
        concerns = self.client_concerns[c].astype(np.float64)
        covered = concerns @ self.therapist_specialties[t].T.astype(np.float64)
        return covered / np.maximum(concerns.sum(axis=1), 1.0)[:, None]

    def click_probability(
        self,
        client_rows: Sequence[int] | np.ndarray | None = None,
        therapist_rows: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """True probability of a click for every client × therapist pair.

        Parameters
        ----------
        client_rows, therapist_rows : sequence of int, optional
            Row indices into the intakes and the roster; ``None`` means all rows.

        Returns
        -------
        numpy.ndarray
            ``(n_clients, n_therapists)`` float in [0, 1].
        """
        t = _rows(therapist_rows, self.n_therapists)
        logit = _logit(
            self.style_fit(client_rows, t),
            self.concern_coverage(client_rows, t),
            self.therapist_effect[t][None, :],
            self.coefficients,
        )
        return _sigmoid(logit)

    def pair_click_probability(
        self, client_rows: Sequence[int] | np.ndarray, therapist_rows: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """True click probability of aligned pairs ``(client_rows[k], therapist_rows[k])``.

        Parameters
        ----------
        client_rows, therapist_rows : sequence of int
            Row indices of equal length.

        Returns
        -------
        numpy.ndarray
            ``(n_pairs,)`` float in [0, 1].
        """
        c = np.asarray(client_rows, dtype=np.intp).reshape(-1)
        t = np.asarray(therapist_rows, dtype=np.intp).reshape(-1)
        if c.shape != t.shape:
            raise ValueError(
                f"client_rows and therapist_rows must have equal length, got {c.size} and {t.size}"
            )
        p, s, style = self.client_preference[c], self.client_strength[c], self.therapist_style[t]
        fit = (s * (1.0 - np.abs(p - style) / 3.0)).sum(axis=1)
        concerns = self.client_concerns[c]
        covered = (concerns & self.therapist_specialties[t]).sum(axis=1)
        coverage = covered / np.maximum(concerns.sum(axis=1), 1)
        return _sigmoid(_logit(fit, coverage, self.therapist_effect[t], self.coefficients))


def _id_positions(index: pd.Index, ids: Sequence[str], what: str) -> np.ndarray:
    if isinstance(ids, str):
        raise TypeError(f"{what}s must be a sequence of ids, not a single string {ids!r}")
    positions = index.get_indexer(pd.Index(list(ids), dtype=object))
    if (positions < 0).any():
        unknown = [i for i, pos in zip(ids, positions, strict=True) if pos < 0]
        shown = ", ".join(repr(u) for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise KeyError(f"unknown {what}: {shown}{more}")
    return positions


@dataclass(frozen=True, eq=False)
class World:
    """A simulated roster, intakes and outcomes with the truth that generated them.

    Attributes
    ----------
    therapists : pandas.DataFrame
        Columns ``vocab.THERAPIST_COLUMNS``, all cells strings.
    intakes : pandas.DataFrame
        Columns ``vocab.INTAKE_COLUMNS``, all cells strings.
    outcomes : pandas.DataFrame
        Columns ``vocab.OUTCOME_COLUMNS``, all cells strings (empty without history).
    truth : GroundTruth
        Latent arrays aligned to the rows of ``therapists`` and ``intakes``.
    """

    therapists: pd.DataFrame
    intakes: pd.DataFrame
    outcomes: pd.DataFrame
    truth: GroundTruth

    @cached_property
    def _therapist_index(self) -> pd.Index:
        return pd.Index(self.therapists["therapist_id"].tolist(), dtype=object)

    @cached_property
    def _client_index(self) -> pd.Index:
        return pd.Index(self.intakes["client_id"].tolist(), dtype=object)

    def click_probability(
        self, client_ids: Sequence[str], therapist_ids: Sequence[str]
    ) -> np.ndarray:
        """True click probability for every pair of the given clients and therapists.

        Parameters
        ----------
        client_ids : sequence of str
            Ids from ``intakes.client_id``.
        therapist_ids : sequence of str
            Ids from ``therapists.therapist_id``.

        Returns
        -------
        numpy.ndarray
            ``(len(client_ids), len(therapist_ids))`` float in [0, 1].

        Raises
        ------
        KeyError
            If an id is not in this world.
        """
        clients = _id_positions(self._client_index, client_ids, "client_id")
        therapists = _id_positions(self._therapist_index, therapist_ids, "therapist_id")
        return self.truth.click_probability(clients, therapists)

    def write_csv(self, directory: Path | str) -> None:
        """Write ``therapists.csv``, ``intakes.csv`` and ``outcomes.csv`` (utf-8, no index).

        Each file is written to a temporary name and moved into place, so a reader never
        sees a half-written file.

        Parameters
        ----------
        directory : path-like
            Target directory, created if missing.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for name, frame in (
            ("therapists.csv", self.therapists),
            ("intakes.csv", self.intakes),
            ("outcomes.csv", self.outcomes),
        ):
            fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    frame.to_csv(handle, index=False)
                os.replace(tmp, target / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


# --------------------------------------------------------------------------------------
# Phrase banks. Index: [axis][level][paraphrase]; levels 0..4 = strong-negative,
# mild-negative, neutral, mild-positive, strong-positive (see vocab.AXIS_POLES).
# --------------------------------------------------------------------------------------

_THERAPIST_PHRASES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (  # directive
        (
            "You set the pace and decide what we talk about.",
            "I follow your lead; there is no agenda unless you want one.",
            "Sessions go wherever you need them to go, and you are in charge of the direction.",
            "I don't set the agenda: you bring what matters and we start there.",
            "You are the expert on your life, so you steer and I follow.",
        ),
        (
            "Mostly I let you choose the direction, offering a suggestion now and then.",
            "I tend to follow what you bring, though I may gently suggest a focus.",
            "You lead most of the time, and I add some shape when it helps.",
            "I prefer a loose structure where your priorities come first.",
        ),
        (
            "Some sessions I offer a plan, others we simply see what comes up.",
            "We decide together how structured our sessions should be.",
            "I balance following your lead with offering some structure.",
            "The direction of our work is shared between us.",
        ),
        (
            "I usually suggest a focus for each session and check it with you.",
            "I like to give our work a clear shape, while leaving room for what you bring.",
            "I tend to take an active role and suggest where we might go next.",
            "I offer a plan for our work and we adjust it as we go.",
        ),
        (
            "I bring a clear structure and set an agenda with you each session.",
            "I take an active, guiding role and keep us on track toward your goals.",
            "Sessions follow a clear plan that I lay out from the start.",
            "I lead sessions with a structured programme, step by step.",
            "Expect me to be directive: I set goals with you and steer each session toward them.",
        ),
    ),
    (  # intensity
        (
            "I offer a calm, steady, contained space.",
            "We go gently and keep things at a pace that feels safe and settled.",
            "I don't push into painful feelings; steadiness and containment come first.",
            "My sessions are quiet and grounded, never overwhelming.",
        ),
        (
            "I keep things fairly calm, touching difficult feelings only gradually.",
            "We approach hard emotions carefully and at a measured pace.",
            "I lean toward a gentle, contained way of working.",
            "Feelings are welcome, but we never go further than feels manageable.",
        ),
        (
            "We make room for feelings when they arise, without forcing anything.",
            "Some sessions are light and some go deeper, depending on the day.",
            "I move between calmer conversation and deeper emotional work as needed.",
            "Emotions have their place in our work, alongside thinking things through.",
        ),
        (
            "I encourage you to notice and express feelings as they come up in the room.",
            "Our work often touches emotions directly, and I will invite you to stay with them.",
            "I believe feelings need to be felt, so we spend time with them.",
            "Emotional work is a real part of how I practise.",
        ),
        (
            "We will go into strong feelings when they come, rather than around them.",
            "I work intensely with emotion; tears, anger and fear are all welcome here.",
            "Expect emotionally deep sessions where we stay with what hurts.",
            "I invite strong emotion into the room, because that is where change often happens.",
        ),
    ),
    (  # past_focus
        (
            "We focus on the here-and-now and your goals.",
            "I concentrate on what is happening now and what you want next, not on your history.",
            "Rather than digging into the past, we look at today and the future you want.",
            "My work is present- and future-focused: what can change this week.",
        ),
        (
            "We mostly work with the present, looking back only when it clearly helps.",
            "My focus is largely on current problems and practical next steps.",
            "I touch on history briefly but keep our attention on now.",
            "The present is our main ground, with the past in the background.",
        ),
        (
            "We look at both your past and your present, depending on what matters.",
            "Sometimes the past is relevant and sometimes it isn't; we find the balance.",
            "I connect current struggles with earlier experiences when it is useful.",
            "Both your history and your current goals have a place in our work.",
        ),
        (
            "I am interested in how earlier experiences shape the way you feel now.",
            "We will often explore patterns that began earlier in life.",
            "Understanding your history is an important part of how I work.",
            "I tend to look at where today's difficulties come from.",
        ),
        (
            "I focus on understanding how your childhood and past shape you.",
            "Much of our work explores your early relationships and family history.",
            "We go back to the roots of your patterns, often in childhood.",
            "I believe lasting change comes from making sense of your past.",
        ),
    ),
    (  # challenge
        (
            "I offer a warm, accepting space where you feel listened to.",
            "My priority is listening without judgement and offering support.",
            "You will not be given homework; I am here to understand and accompany you.",
            "I offer empathy and acceptance rather than advice or exercises.",
        ),
        (
            "I am mostly a supportive listener, with the occasional gentle suggestion.",
            "Warmth comes first in my work, and I only challenge gently.",
            "I tend toward a supportive style and rarely push.",
            "I listen a lot and offer ideas only when you ask for them.",
        ),
        (
            "I combine support with some practical ideas.",
            "I listen closely and sometimes offer a challenge or a tool.",
            "Warmth and practical help both have their place in my sessions.",
            "I balance acceptance with gentle encouragement to try new things.",
        ),
        (
            "I will gently challenge unhelpful patterns and suggest things to try between "
            "sessions.",
            "Expect some practical strategies alongside support.",
            "I often offer tools and exercises to practise during the week.",
            "I am supportive but will also point out patterns and invite you to change them.",
        ),
        (
            "I offer practical tools, homework and problem-solving.",
            "I challenge you directly and we work on concrete skills.",
            "Sessions are focused and practical, with exercises and homework between them.",
            "I will push you, respectfully, to try new behaviours and solve problems.",
        ),
    ),
)

_CLIENT_PHRASES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (  # directive
        (
            "I want to be the one deciding what we talk about.",
            "I'd like a therapist who lets me set the pace.",
            "I don't want to be told what to do; I want to lead.",
            "I need space to bring whatever is on my mind without a plan.",
        ),
        (
            "I'd prefer to mostly choose what we talk about.",
            "Some guidance is fine, but I want to steer.",
            "I'd rather not have a rigid plan.",
            "I like having a say in where sessions go.",
        ),
        (
            "A mix of structure and freedom would suit me.",
            "I don't mind who leads as long as we get somewhere.",
            "I'd like us to decide together how to use the sessions.",
            "Some structure is good, but not too much.",
        ),
        (
            "I'd like some structure so I know where we're heading.",
            "It helps me when the therapist suggests what to focus on.",
            "I'd appreciate a therapist who takes some of the lead.",
            "I want a bit of a plan for our sessions.",
        ),
        (
            "I want someone who takes charge and gives sessions a clear structure.",
            "I need a therapist who leads and tells me what to work on.",
            "I'd like a clear plan and an agenda each time.",
            "I want someone to guide me step by step.",
        ),
    ),
    (  # intensity
        (
            "I need things to stay calm; I can't cope with being pushed into big emotions.",
            "I'd like a steady, gentle space.",
            "Please don't make me relive things; I want to feel safe and settled.",
            "I want calm, low-key sessions.",
        ),
        (
            "I'd prefer to go slowly with difficult feelings.",
            "Gentle is better for me than intense.",
            "I want to talk about feelings only at my own pace.",
            "A fairly calm approach would suit me.",
        ),
        (
            "I'm okay talking about feelings but it doesn't need to be intense.",
            "Some emotional work is fine with me.",
            "I'm open to feelings coming up now and then.",
            "A balance of talking and feeling is fine with me.",
        ),
        (
            "I'm ready to get into my feelings.",
            "I'd like someone who helps me feel things, not just think about them.",
            "I think I need to let some emotions out.",
            "I want sessions where I can really feel what's going on.",
        ),
        (
            "I want to go deep into the emotions I've been holding back.",
            "I'm ready for intense work and want someone who won't shy away from it.",
            "I need to let it all out, even if it gets heavy.",
            "I want a therapist who can handle strong emotion and go there with me.",
        ),
    ),
    (  # past_focus
        (
            "I don't want to dig into my childhood; I want to deal with now.",
            "I'd like to focus on the present and my goals.",
            "The past is the past; I need help with what's happening today.",
            "I want a practical focus on my life right now.",
        ),
        (
            "I'd mostly like to focus on the present.",
            "A bit of background is fine, but now matters more.",
            "I'm more interested in moving forward than looking back.",
            "Today's problems feel more urgent than old ones.",
        ),
        (
            "I'm open to looking at the past if it helps.",
            "Both my history and my current situation matter.",
            "I don't mind whether we talk about the past or the present.",
            "Maybe a bit of both, past and present.",
        ),
        (
            "I think some of this goes back to my childhood.",
            "I'd like to understand where my patterns come from.",
            "Looking at my past could help me.",
            "I want to see how my upbringing affects me now.",
        ),
        (
            "I want to understand how my childhood made me who I am.",
            "I need to work through things from my past.",
            "I'd like a therapist who helps me explore my family history in depth.",
            "I know my past shapes everything and I want to go back to the roots.",
        ),
    ),
    (  # challenge
        (
            "I mostly need to be listened to.",
            "I want someone warm who just lets me talk.",
            "I don't want advice or homework; I need to feel heard.",
            "Kindness and acceptance matter most to me.",
        ),
        (
            "I'd like someone supportive more than pushy.",
            "Mostly I need a kind ear, with maybe a few ideas.",
            "Please be gentle; I don't respond well to being challenged.",
            "Support first, suggestions later.",
        ),
        (
            "A mix of listening and practical advice would be good.",
            "I'd like support but also some ideas to try.",
            "Some tools would be nice, but I also need to feel heard.",
            "Warm but honest would suit me.",
        ),
        (
            "I'd like some practical strategies to use.",
            "I'm open to being challenged a little.",
            "I want some exercises or ideas to try between sessions.",
            "Someone who points out my blind spots would help.",
        ),
        (
            "I'd like someone who gives me practical tools.",
            "I want to be challenged and given homework.",
            "I need concrete skills and someone who pushes me.",
            "Problem-solving and clear strategies are what I want.",
        ),
    ),
)

_CLIENT_GENERIC_HOPES: tuple[str, ...] = (
    "Someone kind and easy to talk to would mean a lot.",
    "I'd like to feel comfortable being honest.",
    "It matters to me that they have experience with this.",
    "I just want someone I can trust.",
    "I'd like to feel I'm not being judged.",
)

_SPECIALTY_TEMPLATES: tuple[str, ...] = (
    "I work mostly with adults facing {}.",
    "Much of my work is with people dealing with {}.",
    "Clients often come to me for help with {}.",
    "I have a particular interest in {}.",
    "I have extra training in supporting people with {}.",
)
_TRAINING_TEMPLATES: tuple[str, ...] = (
    "I trained in {}.",
    "My background is in {}, which I adapt to each person.",
    "I draw on {}.",
    "I am trained in {} and keep up with new research.",
    "My main approaches are {}.",
)
_SETTING_TEMPLATES: dict[str, tuple[str, ...]] = {
    "both": (
        "I see clients online and in person in {}.",
        "Sessions are available by video or at my office in {}.",
        "You can meet me in my {} office or online.",
    ),
    "tele": (
        "I work entirely online, so you can join from home.",
        "All my sessions are by secure video.",
        "I offer therapy by video call only.",
    ),
    "inp": (
        "I see clients in person at my practice in {}.",
        "My office is in {}, and I only work face to face.",
        "Sessions take place in my quiet office in {}.",
    ),
}
_EXPERIENCE_TEMPLATES: tuple[str, ...] = (
    "I have been in practice for {years} years.",
    "I qualified {years} years ago and have worked in clinics and private practice since.",
    "Before becoming a therapist I worked as a {job}.",
    "I have worked in community mental health for {years} years.",
    "I also supervise trainee counsellors.",
)
_JOBS: tuple[str, ...] = (
    "teacher",
    "nurse",
    "social worker",
    "journalist",
    "engineer",
    "youth worker",
    "paramedic",
    "musician",
)

_STORY_PHRASES: dict[str, tuple[str, ...]] = {
    "anxiety": (
        "I can't stop worrying, even about small things.",
        "My heart races and I feel on edge most days.",
        "I've started avoiding things because I get so anxious.",
        "Panic attacks have been coming out of nowhere.",
    ),
    "depression": (
        "I've been feeling flat and empty for months.",
        "It's hard to get out of bed and nothing feels worth doing.",
        "I don't enjoy the things I used to.",
        "I feel low most of the time and I'm tired of it.",
    ),
    "trauma": (
        "Something happened a few years ago that I still can't shake.",
        "I keep having flashbacks and nightmares about what happened.",
        "Since the accident I haven't felt safe.",
        "I went through things growing up that still affect me.",
    ),
    "grief": (
        "Since my father died I can't seem to function.",
        "I lost my partner last year and I'm struggling to cope.",
        "My mum passed away recently and the grief comes in waves.",
        "We lost a baby and I don't know how to carry it.",
    ),
    "relationships": (
        "My partner and I keep having the same fights.",
        "I find it hard to trust people and my relationships fall apart.",
        "My marriage is in trouble and I don't know what to do.",
        "I always seem to end up in relationships that hurt me.",
    ),
    "family": (
        "Things with my parents are really tense.",
        "Our family has been fighting since the divorce.",
        "I'm struggling with my teenager and it's affecting everyone.",
        "I feel like the black sheep of my family.",
    ),
    "work_stress": (
        "My job is wearing me down and I dread Mondays.",
        "I'm under constant pressure at work and can't switch off.",
        "My manager makes every day stressful.",
        "I've been working far too many hours and I'm exhausted.",
    ),
    "self_esteem": (
        "I never feel good enough.",
        "I'm really hard on myself and compare myself to everyone.",
        "I don't like who I am.",
        "There's a constant critical voice in my head.",
    ),
    "identity": (
        "I'm figuring out who I am and where I fit.",
        "I'm questioning my gender and don't know who to talk to.",
        "I'm coming out and it's been hard with my family.",
        "I feel caught between two cultures.",
    ),
    "substance_use": (
        "I've been drinking more than I want to.",
        "I want to cut down on cannabis but keep failing.",
        "My drinking is starting to cause problems at home.",
        "I rely on pills to get through the day.",
    ),
    "eating": (
        "My relationship with food feels out of control.",
        "I've been restricting what I eat and it scares me.",
        "I binge and then feel terrible about myself.",
        "I think about my weight and food all the time.",
    ),
    "ocd": (
        "I have thoughts I can't get rid of and rituals I have to do.",
        "I check the locks and the stove over and over.",
        "Intrusive thoughts scare me and I can't stop them.",
        "I wash my hands until they hurt.",
    ),
    "adhd": (
        "I can't focus and I'm always late or forgetting things.",
        "I was recently diagnosed with ADHD and want help managing it.",
        "I start a hundred things and finish none.",
        "My mind is all over the place and it affects my work.",
    ),
    "anger": (
        "I lose my temper and say things I regret.",
        "I get angry really fast and it scares my family.",
        "Little things make me furious.",
        "My anger is damaging my relationships.",
    ),
    "sleep": (
        "I haven't slept properly in months.",
        "I lie awake for hours with my mind racing.",
        "I wake up at 3am every night and can't get back to sleep.",
        "Being this tired is affecting everything.",
    ),
    "life_transition": (
        "I just moved to a new city and feel unsettled.",
        "I've retired and don't know what to do with myself.",
        "I've become a parent and everything has changed.",
        "Starting university has been a much bigger change than I expected.",
    ),
    "chronic_illness": (
        "I was diagnosed with a long-term illness and I'm struggling to adjust.",
        "Living with chronic pain is wearing me down.",
        "My health condition limits what I can do and it gets me down.",
        "Managing my illness feels like a full-time job.",
    ),
    "bipolar": (
        "I have bipolar disorder and want help staying steady.",
        "My moods swing between big highs and deep lows.",
        "After my last manic episode I want to understand myself better.",
        "I've been diagnosed with bipolar and find it hard to accept.",
    ),
    "loneliness": (
        "I feel very alone, even around people.",
        "I don't really have anyone to talk to.",
        "Since I moved I haven't made any friends.",
    ),
    "burnout": (
        "I'm completely burnt out.",
        "I have nothing left to give at work or at home.",
        "I've been running on empty for a long time.",
    ),
    "perfectionism": (
        "Everything has to be perfect or I feel like a failure.",
        "I can't hand anything in because it never feels good enough.",
        "My own standards are exhausting me.",
    ),
    "procrastination": (
        "I put everything off until the last minute.",
        "I keep avoiding important tasks and they're piling up.",
        "I can't make myself start things.",
    ),
    "caregiving": (
        "I look after my mother, who has dementia, and I'm worn out.",
        "Caring for my disabled son leaves no time for me.",
        "Being a carer is taking everything I have.",
    ),
    "body_image": (
        "I hate the way I look.",
        "I avoid mirrors and photos.",
        "I can't stop thinking about my appearance.",
    ),
}
_STORY_CONTEXT: tuple[str, ...] = (
    "It's affecting my sleep and my work.",
    "My partner suggested I talk to someone.",
    "I've never been to therapy before.",
    "I saw a counsellor years ago and it helped a bit.",
    "My doctor recommended I find a therapist.",
    "I've been putting this off for a long time.",
    "Friends say I seem different lately.",
    "I'm not sure where to start.",
    "It's been going on for about {months} months.",
    "Things got worse over the last few weeks.",
)

_WOMEN_NAMES: tuple[str, ...] = (
    "Maya", "Aisha", "Sofia", "Hannah", "Priya", "Grace", "Elena", "Fatima", "Chloe", "Mei",
    "Olivia", "Amara", "Ingrid", "Lucia", "Naomi", "Yuki", "Rachel", "Zainab", "Claire",
    "Beatriz", "Leah", "Ananya", "Freya", "Camille", "Nadia", "Esther", "Ruth", "Ji-woo",
    "Tamsin", "Adaeze",
)  # fmt: skip
_MEN_NAMES: tuple[str, ...] = (
    "James", "Omar", "Daniel", "Mateo", "Kwame", "Lucas", "David", "Hiroshi", "Samuel",
    "Arjun", "Thomas", "Malik", "Jonas", "Diego", "Ethan", "Yusuf", "Patrick", "Wei", "Andre",
    "Tobias", "Rafael", "Nikolai", "Benjamin", "Chidi", "Marcus", "Felix", "Ibrahim", "Liam",
    "Anders", "Kenji",
)  # fmt: skip
_NEUTRAL_NAMES: tuple[str, ...] = (
    "Sam", "Alex", "Jordan", "Riley", "Quinn", "Avery", "Robin", "Morgan", "Charlie", "Rowan",
    "Kai", "Sasha", "Jamie", "Ash", "River", "Eden", "Noor", "Remy",
)  # fmt: skip
_LAST_NAMES: tuple[str, ...] = (
    "Okafor", "Lindqvist", "Garcia", "Nguyen", "Chen", "Patel", "Kowalski", "O'Brien",
    "Haddad", "Silva", "Johansson", "Mensah", "Rossi", "Kim", "Fischer", "Dubois", "Ahmed",
    "Cohen", "Murphy", "Tanaka", "Novak", "Hernandez", "Williams", "Brooks", "Adeyemi",
    "Schmidt", "Park", "Costa", "Levin", "Santos", "Ibrahim", "Walsh", "Moreau", "Singh",
    "Yilmaz", "Eriksen", "Bianchi", "Morales", "Green", "Carter", "Hughes", "Osei", "Reyes",
    "Bergström", "Castillo", "Kaur", "Sato", "Dlamini", "Friedman", "Ortiz", "Baker", "Ward",
    "Nakamura", "Popescu", "Khan", "Ali", "Larsen", "Mitchell", "Abara", "Douglas",
)  # fmt: skip
_CREDENTIALS: tuple[str, ...] = ("LCSW", "LMFT", "LPC", "LMHC", "PsyD", "PhD", "MSW", "LCPC")
_INITIALS = "ABCDEFGHJKLMNPRSTW"

# --------------------------------------------------------------------------------------
# Sampling helpers (vectorised)
# --------------------------------------------------------------------------------------


def _choice(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """``n`` category indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), w.size - 1)


def _gumbel_order(rng: np.random.Generator, log_weights: np.ndarray) -> np.ndarray:
    """Per-row random order of the columns; its first ``k`` are a weighted draw of ``k``
    items without replacement (Gumbel top-k). ``log_weights`` is ``(m,)`` or ``(n, m)``."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    return np.argsort(-keys, axis=1, kind="stable")


def _order_to_mask(order: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean mask of the first ``k[i]`` columns of ``order[i]``."""
    n, m = order.shape
    mask = np.zeros((n, m), dtype=bool)
    taken = np.arange(m)[None, :] < k[:, None]
    np.put_along_axis(mask, order, taken, axis=1)
    return mask


def _subset_mask(
    rng: np.random.Generator, n: int, weights: np.ndarray, low: int, high: int
) -> np.ndarray:
    """``(n, m)`` mask with between ``low`` and ``high`` (inclusive) weighted items a row."""
    log_w = np.broadcast_to(np.log(np.asarray(weights, dtype=np.float64)), (n, len(weights)))
    k = rng.integers(low, high + 1, size=n)
    return _order_to_mask(_gumbel_order(rng, log_w), k)


def _join_mask(mask: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Rows of a boolean mask as ``;``-joined labels (in ``labels`` order)."""
    names = list(labels)
    return [LIST_SEPARATOR.join(compress(names, row)) for row in mask.tolist()]


def _yes_no(flags: np.ndarray) -> list[str]:
    return np.where(flags, "yes", "no").tolist()


def _ints_or_blank(values: np.ndarray, given: np.ndarray) -> list[str]:
    return [str(v) if g else "" for v, g in zip(values.tolist(), given.tolist(), strict=True)]


def _one_decimal_or_blank(values: np.ndarray, given: np.ndarray) -> list[str]:
    rounded = np.round(values, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [f"{v:.1f}" if g else "" for v, g in zip(rounded.tolist(), given.tolist(), strict=True)]


def _levels(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phrase level 0..4 of each latent value, moved one step with a small probability."""
    levels = np.digitize(values, _LEVEL_EDGES)
    slip = rng.random(values.shape) < _TEXT_LEVEL_SLIP
    step = np.where(rng.random(values.shape) < 0.5, -1, 1)
    return np.clip(levels + slip * step, 0, 4)


def _paraphrase_index(
    bank: tuple[tuple[tuple[str, ...], ...], ...], levels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Uniform paraphrase index for each (row, axis) at the given level."""
    sizes = np.array([[len(level) for level in axis] for axis in bank])  # (4, 5)
    n_para = sizes[np.arange(levels.shape[1])[None, :], levels]
    return (rng.random(levels.shape) * n_para).astype(np.intp)


def _word_list(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _frame(columns: Sequence[str], data: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame({c: data[c] for c in columns}, columns=list(columns)).astype(str)


def _ids(prefix: str, n: int, width: int) -> list[str]:
    width = max(width, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


# --------------------------------------------------------------------------------------
# Roster
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Roster:
    frame: pd.DataFrame
    style: np.ndarray
    effect: np.ndarray
    specialties: np.ndarray
    effectiveness: np.ndarray
    poor: np.ndarray
    languages: np.ndarray  # (n_t, n_languages) bool
    telehealth: np.ndarray
    in_person: np.ndarray
    city: np.ndarray  # int index into CITIES


def _therapist_names(rng: np.random.Generator, gender: np.ndarray) -> list[str]:
    n = gender.size
    u_first = rng.random(n)
    banks = (_WOMEN_NAMES, _MEN_NAMES, _NEUTRAL_NAMES)
    neutral_for_binary = rng.random(n) < 0.08
    last = rng.integers(0, len(_LAST_NAMES), size=n)
    initial = np.where(rng.random(n) < 0.12, rng.integers(0, len(_INITIALS), size=n), -1)
    form = _choice(rng, n, [0.3, 0.45, 0.25])  # Dr. / credential / plain
    cred = rng.integers(0, len(_CREDENTIALS), size=n)
    names: list[str] = []
    for g, u, neutral, ln, ini, f, c in zip(
        gender.tolist(),
        u_first.tolist(),
        neutral_for_binary.tolist(),
        last.tolist(),
        initial.tolist(),
        form.tolist(),
        cred.tolist(),
        strict=True,
    ):
        bank = banks[2] if (g == 2 or neutral) else banks[g]
        first = bank[int(u * len(bank))]
        middle = f" {_INITIALS[ini]}." if ini >= 0 else ""
        full = f"{first}{middle} {_LAST_NAMES[ln]}"
        if f == 0:
            names.append(f"Dr. {full}")
        elif f == 1:
            names.append(f"{full}, {_CREDENTIALS[c]}")
        else:
            names.append(full)
    return names


def _approach_texts(
    rng: np.random.Generator,
    style: np.ndarray,
    specialties: np.ndarray,
    modalities_mask: np.ndarray,
    telehealth: np.ndarray,
    in_person: np.ndarray,
    city: np.ndarray,
) -> list[str]:
    n = style.shape[0]
    n_axes = len(STYLE_AXES)
    levels = _levels(style, rng)
    para = _paraphrase_index(_THERAPIST_PHRASES, levels, rng)
    include_p = np.where(levels == 2, 0.5, 0.85)
    include = rng.random((n, n_axes)) < include_p
    axis_order = np.argsort(rng.random((n, n_axes)), axis=1)
    n_sentences = rng.integers(3, 7, size=n)
    filler_order = 1 + np.argsort(rng.random((n, 3)), axis=1)  # 0 (specialties) always first
    final_keys = rng.random((n, 8))
    u_tmpl = rng.random((n, 4))
    years = rng.integers(2, 31, size=n)
    job = rng.integers(0, len(_JOBS), size=n)
    spec_order = np.argsort(rng.random(specialties.shape) - specialties, axis=1)[:, :3]
    n_spec = np.minimum(specialties.sum(axis=1), rng.integers(1, 4, size=n))
    mod_order = np.argsort(rng.random(modalities_mask.shape) - modalities_mask, axis=1)[:, :3]
    n_mod = np.minimum(modalities_mask.sum(axis=1), rng.integers(1, 4, size=n))
    setting = np.where(telehealth & in_person, 0, np.where(telehealth, 1, 2)).tolist()
    setting_keys = ("both", "tele", "inp")

    texts: list[str] = []
    rows = zip(
        levels.tolist(),
        para.tolist(),
        include.tolist(),
        axis_order.tolist(),
        n_sentences.tolist(),
        filler_order.tolist(),
        final_keys.tolist(),
        u_tmpl.tolist(),
        spec_order.tolist(),
        n_spec.tolist(),
        mod_order.tolist(),
        n_mod.tolist(),
        strict=True,
    )
    for i, (
        lv,
        pa,
        inc,
        ax_ord,
        n_sent,
        fill_ord,
        keys,
        ut,
        sp_ord,
        n_sp,
        md_ord,
        n_md,
    ) in enumerate(rows):
        axis_sentences = [_THERAPIST_PHRASES[a][lv[a]][pa[a]] for a in ax_ord if inc[a]][
            : n_sent - 1
        ]
        n_fill = min(4, n_sent - len(axis_sentences))
        spec_words = _word_list([_CONCERN_WORDS[CONCERN_TAGS[k]] for k in sp_ord[:n_sp]])
        mod_words = _word_list([_MODALITY_WORDS[THERAPY_MODALITIES[k]] for k in md_ord[:n_md]])
        bank = _SETTING_TEMPLATES[setting_keys[setting[i]]]
        fillers = (
            _SPECIALTY_TEMPLATES[int(ut[0] * len(_SPECIALTY_TEMPLATES))].format(spec_words),
            _TRAINING_TEMPLATES[int(ut[1] * len(_TRAINING_TEMPLATES))].format(mod_words),
            bank[int(ut[2] * len(bank))].format(CITIES[city[i]]),
            _EXPERIENCE_TEMPLATES[int(ut[3] * len(_EXPERIENCE_TEMPLATES))].format(
                years=years[i], job=_JOBS[job[i]]
            ),
        )
        chosen = axis_sentences + [fillers[0]] + [fillers[k] for k in fill_ord[: n_fill - 1]]
        order = sorted(range(len(chosen)), key=keys.__getitem__)
        texts.append(" ".join(chosen[k] for k in order))
    return texts


def _simulate_roster(n: int, rng: np.random.Generator, text_rng: np.random.Generator) -> _Roster:
    n_axes, n_concerns = len(STYLE_AXES), len(CONCERN_TAGS)

    corr = np.eye(n_axes)
    for a, b, r in ((0, 3, 0.4), (1, 2, 0.35), (0, 2, -0.2)):
        corr[a, b] = corr[b, a] = r
    style = rng.standard_normal((n, n_axes)) @ np.linalg.cholesky(corr).T * 1.4
    style = np.clip(style, STYLE_MIN, STYLE_MAX)
    rates = rng.random(n) < _SELF_RATING_RATE
    self_rating = np.clip(np.rint(style + rng.uniform(-1.0, 1.0, style.shape)), -3, 3)
    self_rating = self_rating.astype(int)

    popularity = np.array([_CONCERN_POPULARITY[c] for c in CONCERN_TAGS]) ** 0.6
    specialties = _subset_mask(rng, n, popularity, 2, 5)
    mod_logw = 0.6 * style @ _MODALITY_LOADINGS.T
    modalities = _order_to_mask(_gumbel_order(rng, mod_logw), rng.integers(1, 5, size=n))

    effect = rng.normal(0.0, CLICK_COEFFICIENTS.therapist_sd, size=n)
    poor = rng.random(n) < _POOR_THERAPIST_RATE
    general = np.where(poor, rng.normal(-3.0, 0.3, size=n), rng.normal(0.0, 0.4, size=n))
    specific = rng.normal(0.0, 0.6, size=(n, n_concerns))
    standout = rng.random((n, n_concerns)) < 0.06
    standout_sign = np.where(rng.random((n, n_concerns)) < 0.5, -1.0, 1.0)
    standout_size = rng.uniform(2.0, 3.5, size=(n, n_concerns)) * standout_sign
    specific = specific + standout * standout_size
    effectiveness = general[:, None] + specific + 0.5 * specialties

    gender = _choice(rng, n, [0.6, 0.33, 0.07])
    languages = rng.random((n, len(LANGUAGES))) < _THERAPIST_LANGUAGE_P[None, :]
    # About 4% (15% of those with another language) do not also work in English.
    no_english = languages[:, 1:].any(axis=1) & (rng.random(n) < 0.15)
    languages[:, 0] &= ~no_english
    telehealth = rng.random(n) < 0.75
    in_person = (rng.random(n) < 0.7) | ~telehealth
    city = _choice(rng, n, _CITY_WEIGHTS)
    slot_w = np.array([1.4 if s.endswith("eve") else 1.0 for s in SLOTS])
    slot_w *= np.array([0.4 if s.startswith(("sat", "sun")) else 1.0 for s in SLOTS])
    availability = _subset_mask(rng, n, slot_w, 4, 10)
    n_ins = _choice(rng, n, [0.2, 0.25, 0.3, 0.25])  # 0..3 insurers, 0 = blank
    insurance = _order_to_mask(_gumbel_order(rng, np.zeros((n, len(INSURERS)))), n_ins)
    fee = 70 + 5 * rng.integers(0, 31, size=n)
    sliding = rng.random(n) < 0.4
    capacity = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 7, size=n))
    lgbtq = rng.random(n) < 0.85
    faith = np.where(rng.random(n) < 0.12, rng.integers(0, len(FAITHS), size=n), -1)

    names = _therapist_names(rng, gender)
    approach = _approach_texts(
        text_rng, style, specialties, modalities, telehealth, in_person, city
    )

    data: dict[str, list[str]] = {
        "therapist_id": _ids("T", n, 4),
        "name": names,
        "gender": [GENDERS[g] for g in gender.tolist()],
        "languages": _join_mask(languages, LANGUAGES),
        "specialties": _join_mask(specialties, CONCERN_TAGS),
        "modalities": _join_mask(modalities, THERAPY_MODALITIES),
        "approach": approach,
        "telehealth": _yes_no(telehealth),
        "in_person": _yes_no(in_person),
        "city": [CITIES[c] for c in city.tolist()],
        "availability": _join_mask(availability, SLOTS),
        "insurance": _join_mask(insurance, INSURERS),
        "fee": [str(v) for v in fee.tolist()],
        "sliding_scale": _yes_no(sliding),
        "capacity": [str(v) for v in capacity.tolist()],
        "lgbtq_affirming": _yes_no(lgbtq),
        "faith": [FAITHS[f] if f >= 0 else "" for f in faith.tolist()],
    }
    for a, axis in enumerate(STYLE_AXES):
        data[axis] = _ints_or_blank(self_rating[:, a], rates)
    return _Roster(
        frame=_frame(THERAPIST_COLUMNS, data),
        style=style,
        effect=effect,
        specialties=specialties,
        effectiveness=effectiveness,
        poor=poor,
        languages=languages,
        telehealth=telehealth,
        in_person=in_person,
        city=city,
    )


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


def _reachable(roster: _Roster, language: int, modality: int, city: int) -> np.ndarray:
    """Therapists who share ``language`` and can see a client with this modality and city."""
    ok = np.zeros(roster.telehealth.shape, dtype=bool)
    if MODALITIES[modality] in ("telehealth", "either"):
        ok |= roster.telehealth
    if MODALITIES[modality] in ("in_person", "either"):
        ok |= roster.in_person & (roster.city == city)
    return ok & roster.languages[:, language]


def _client_groups(
    language: np.ndarray, modality: np.ndarray, city: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    keys = (language * len(MODALITIES) + modality) * len(CITIES) + city
    return np.unique(keys, return_inverse=True)


def _decode_group(key: int) -> tuple[int, int, int]:
    rest, city = divmod(int(key), len(CITIES))
    language, modality = divmod(rest, len(MODALITIES))
    return language, modality, city


def _repair_unreachable(
    rng: np.random.Generator,
    roster: _Roster,
    language: np.ndarray,
    modality: np.ndarray,
    city: np.ndarray,
) -> None:
    """Make every client reachable by at least one therapist (in place).

    A client whose (language, modality, city) no therapist serves takes the first language
    of a random therapist and, as needed, that therapist's city or the modality "either".
    """
    keys, inverse = _client_groups(language, modality, city)
    dead = np.array([not _reachable(roster, *_decode_group(k)).any() for k in keys.tolist()])
    broken = np.flatnonzero(dead[inverse]) if dead.size else np.array([], dtype=np.intp)
    if broken.size == 0:
        return
    either = MODALITIES.index("either")
    j = rng.integers(0, roster.telehealth.size, size=broken.size)
    language[broken] = np.argmax(roster.languages[j], axis=1)
    tele = roster.telehealth[j]
    wants_in_person = modality[broken] == MODALITIES.index("in_person")
    wants_tele = modality[broken] == MODALITIES.index("telehealth")
    modality[broken] = np.where(
        (tele & wants_in_person) | (~tele & wants_tele), either, modality[broken]
    )
    city[broken] = np.where(tele, city[broken], roster.city[j])


def _story_texts(rng: np.random.Generator, concerns: list[list[str]]) -> list[str]:
    n = len(concerns)
    u = rng.random((n, 3)).tolist()
    n_target = rng.integers(0, 3, size=n).tolist()
    context = np.argsort(rng.random((n, len(_STORY_CONTEXT))), axis=1)[:, :3].tolist()
    months = rng.integers(2, 25, size=n).tolist()
    lead = rng.random(n).tolist()
    texts: list[str] = []
    for tags, uu, extra, ctx, mo, ld in zip(
        concerns, u, n_target, context, months, lead, strict=True
    ):
        parts = [
            _STORY_PHRASES[tag][int(x * len(_STORY_PHRASES[tag]))]
            for tag, x in zip(tags, uu, strict=False)
        ]
        total = max(2, len(parts)) + extra
        total = min(4, max(total, len(parts)))
        extras = [_STORY_CONTEXT[k].format(months=mo) for k in ctx[: total - len(parts)]]
        # Usually the concern comes first; sometimes the context leads.
        texts.append(" ".join(extras[:1] + parts + extras[1:] if ld < 0.25 else parts + extras))
    return texts


def _hopes_texts(
    rng: np.random.Generator, preference: np.ndarray, strength: np.ndarray
) -> list[str]:
    n, n_axes = preference.shape
    levels = _levels(preference, rng)
    para = _paraphrase_index(_CLIENT_PHRASES, levels, rng)
    by_strength = np.argsort(-(strength + rng.normal(0.0, 0.1, strength.shape)), axis=1)
    m = _choice(rng, n, [0.3, 0.4, 0.3]) + 1
    generic = rng.random(n) < 0.3
    generic_idx = rng.integers(0, len(_CLIENT_GENERIC_HOPES), size=n)
    keys = rng.random((n, n_axes)).tolist()
    texts: list[str] = []
    for lv, pa, order, k, gen, gi, key in zip(
        levels.tolist(),
        para.tolist(),
        by_strength.tolist(),
        m.tolist(),
        generic.tolist(),
        generic_idx.tolist(),
        keys,
        strict=True,
    ):
        parts = [_CLIENT_PHRASES[a][lv[a]][pa[a]] for a in order[:k]]
        if gen and k < 3:
            parts.append(_CLIENT_GENERIC_HOPES[gi])
        ranked = sorted(range(len(parts)), key=key.__getitem__)
        texts.append(" ".join(parts[r] for r in ranked))
    return texts


@dataclass(frozen=True)
class _Clients:
    frame: pd.DataFrame
    preference: np.ndarray
    strength: np.ndarray
    concerns: np.ndarray  # (n_c, K) bool, mapped onto CONCERN_TAGS
    primary: np.ndarray
    language: np.ndarray
    modality: np.ndarray
    city: np.ndarray


def _simulate_clients(
    n: int,
    roster: _Roster,
    rng: np.random.Generator,
    text_rng: np.random.Generator,
    repair_rng: np.random.Generator,
) -> _Clients:
    n_axes, n_concerns = len(STYLE_AXES), len(CONCERN_TAGS)

    preference = np.clip(rng.normal(0.0, 1.5, size=(n, n_axes)), STYLE_MIN, STYLE_MAX)
    states = rng.random((n, n_axes)) < _CLIENT_STATES_AXIS_RATE
    strength = np.where(
        states, rng.uniform(0.4, 1.0, (n, n_axes)), rng.uniform(0.0, 0.25, (n, n_axes))
    )
    stated = np.clip(np.rint(preference), -3, 3).astype(int)

    popularity = np.array([_CONCERN_POPULARITY[c] for c in CONCERN_TAGS])
    order = _gumbel_order(rng, np.broadcast_to(np.log(popularity), (n, n_concerns)))[:, :3]
    k = _choice(rng, n, [0.45, 0.35, 0.2]) + 1
    free = rng.random(n) < _FREE_CONCERN_RATE
    free_tag = rng.integers(0, len(FREE_CONCERNS), size=n)
    free_pos = (rng.random(n) * k).astype(int)
    free_names = list(FREE_CONCERNS)
    concern_lists: list[list[str]] = []
    for row, kk, fr, ft, fp in zip(
        order.tolist(),
        k.tolist(),
        free.tolist(),
        free_tag.tolist(),
        free_pos.tolist(),
        strict=True,
    ):
        tags = [CONCERN_TAGS[c] for c in row[:kk]]
        if fr:
            tags[fp] = free_names[ft]
        concern_lists.append(tags)
    tag_index = {t: i for i, t in enumerate(CONCERN_TAGS)}
    canon = np.array(
        [tag_index[t] for t in CONCERN_TAGS] + [tag_index[FREE_CONCERNS[f]] for f in free_names]
    )
    raw = order.copy()
    raw[np.arange(n), free_pos] = np.where(free, n_concerns + free_tag, raw[np.arange(n), free_pos])
    mapped = canon[raw]
    concerns = np.zeros((n, n_concerns), dtype=bool)
    in_list = np.arange(3)[None, :] < k[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], mapped.shape)
    concerns[rows[in_list], mapped[in_list]] = True
    primary = mapped[:, 0]

    present = roster.languages.any(axis=0)
    language = _choice(rng, n, _CLIENT_LANGUAGE_W * present)
    modality = _choice(rng, n, [0.3, 0.25, 0.45])  # telehealth, in_person, either
    city = _choice(rng, n, _CITY_WEIGHTS)
    _repair_unreachable(repair_rng, roster, language, modality, city)

    slot_w = np.array([1.6 if s.endswith("eve") else 1.0 for s in SLOTS])
    availability = _subset_mask(rng, n, slot_w, 1, 8)
    availability &= (rng.random(n) >= 0.15)[:, None]
    insurance = np.where(rng.random(n) < 0.6, rng.integers(0, len(INSURERS), size=n), -1)
    max_fee = np.where(rng.random(n) < 0.5, 80 + 10 * rng.integers(0, 18, size=n), -1)
    pref_gender = np.where(rng.random(n) < 0.3, _choice(rng, n, [0.7, 0.25, 0.05]), -1)
    gender_required = (pref_gender >= 0) & (rng.random(n) < 0.35)
    lgbtq_required = rng.random(n) < 0.12
    faith = np.where(rng.random(n) < 0.08, rng.integers(0, len(FAITHS), size=n), -1)

    data: dict[str, list[str]] = {
        "client_id": _ids("C", n, 5),
        "concerns": [LIST_SEPARATOR.join(tags) for tags in concern_lists],
        "story": _story_texts(text_rng, concern_lists),
        "hopes": _hopes_texts(text_rng, preference, strength),
        "language": [LANGUAGES[x] for x in language.tolist()],
        "modality": [MODALITIES[x] for x in modality.tolist()],
        "city": [CITIES[x] for x in city.tolist()],
        "availability": _join_mask(availability, SLOTS),
        "insurance": [INSURERS[x] if x >= 0 else "" for x in insurance.tolist()],
        "max_fee": _ints_or_blank(max_fee, max_fee >= 0),
        "therapist_gender": [GENDERS[g] if g >= 0 else "" for g in pref_gender.tolist()],
        "gender_required": _yes_no(gender_required),
        "lgbtq_affirming_required": _yes_no(lgbtq_required),
        "faith": [FAITHS[f] if f >= 0 else "" for f in faith.tolist()],
    }
    for a, axis in enumerate(STYLE_AXES):
        data[axis] = _ints_or_blank(stated[:, a], states[:, a])
    return _Clients(
        frame=_frame(INTAKE_COLUMNS, data),
        preference=preference,
        strength=strength,
        concerns=concerns,
        primary=primary,
        language=language,
        modality=modality,
        city=city,
    )


# --------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------


def _place(rng: np.random.Generator, roster: _Roster, clients: _Clients) -> np.ndarray:
    """One uniformly random reachable, same-language therapist per client."""
    placement = np.full(clients.language.size, -1, dtype=np.intp)
    keys, inverse = _client_groups(clients.language, clients.modality, clients.city)
    for g, key in enumerate(keys.tolist()):
        members = np.flatnonzero(inverse == g)
        eligible = np.flatnonzero(_reachable(roster, *_decode_group(key)))
        placement[members] = eligible[rng.integers(0, eligible.size, size=members.size)]
    return placement


def _simulate_outcomes(
    rng: np.random.Generator, roster: _Roster, clients: _Clients, truth: GroundTruth
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    n = clients.language.size
    placement = _place(rng, roster, clients)
    rows = np.arange(n)
    prob = truth.pair_click_probability(rows, placement)
    click = rng.random(n) < prob
    dropped = ~click & (rng.random(n) < 0.5)

    sessions = np.where(
        click,
        3 + rng.poisson(6.0, n),
        np.where(dropped, 1 + (rng.random(n) < 0.45), 3 + rng.poisson(3.0, n)),
    )
    good = _ALLIANCE_CUTOFF + 4.0 * rng.beta(2.0, 1.5, n)
    middling = np.minimum(18.0 + 17.9 * rng.beta(2.5, 1.8, n), 35.9)
    low = rng.uniform(8.0, 30.0, n)
    alliance = np.where(click, good, np.where(dropped, low, middling))
    alliance = np.clip(alliance, 0.0, 40.0)
    alliance_given = ~dropped | (rng.random(n) >= 0.6)

    noise = rng.normal(0.0, _IMPROVEMENT_SD, n)
    improvement = (
        _IMPROVEMENT_BASE
        + truth.effectiveness[placement, truth.primary_concern]
        + _IMPROVEMENT_CLICK * click
        + noise
    )
    improvement_given = np.where(dropped, rng.random(n) >= 0.7, rng.random(n) >= 0.05)

    therapist_ids = roster.frame["therapist_id"].to_numpy(dtype=object)
    data = {
        "client_id": clients.frame["client_id"].tolist(),
        "therapist_id": therapist_ids[placement].tolist(),
        "sessions": [str(v) for v in sessions.tolist()],
        "dropped_out": _yes_no(dropped),
        "alliance": _one_decimal_or_blank(alliance, alliance_given),
        "improvement": _one_decimal_or_blank(improvement, improvement_given),
        "click": [""] * n,
    }
    return _frame(OUTCOME_COLUMNS, data), placement, click


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def simulate_world(
    n_therapists: int = 60,
    n_clients: int = 600,
    *,
    seed: int = 0,
    history: bool = True,
    client_seed: int | None = None,
) -> World:
    """Simulate a roster, client intakes and (optionally) one placement outcome per client.

    Parameters
    ----------
    n_therapists : int, default 60
        Number of therapists, >= 1.
    n_clients : int, default 600
        Number of clients, >= 0.
    seed : int, default 0
        Seed (>= 0). The same seed gives identical output; the roster does not depend on
        ``n_clients`` and the intakes do not depend on ``history``.
    history : bool, default True
        If true, every client is placed once and has an outcome row; if false, the outcomes
        frame is empty (fresh clients to rank).
    client_seed : int, optional
        Draw the clients (and their history) from this seed instead, keeping the roster of
        ``seed``: clients a model trained on ``seed`` has never seen.

    Returns
    -------
    World
        The three contract tables and the ground truth behind them.

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong type.
    """
    n_t = _check_int("n_therapists", n_therapists, 1)
    n_c = _check_int("n_clients", n_clients, 0)
    seed_value = _check_int("seed", seed, 0)
    if not isinstance(history, bool | np.bool_):
        raise ValueError(f"history must be a bool, got {history!r}")

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed_value).spawn(6)]
    roster_rng, roster_text_rng, client_rng, client_text_rng, repair_rng, history_rng = streams
    if client_seed is not None:  # new clients for the same roster, e.g. unseen test clients
        client_value = _check_int("client_seed", client_seed, 0)
        spawned = np.random.SeedSequence([seed_value, client_value]).spawn(4)
        client_rng, client_text_rng, repair_rng, history_rng = (
            np.random.default_rng(s) for s in spawned
        )

    roster = _simulate_roster(n_t, roster_rng, roster_text_rng)
    clients = _simulate_clients(n_c, roster, client_rng, client_text_rng, repair_rng)
    truth = GroundTruth(
        therapist_style=roster.style,
        therapist_effect=roster.effect,
        therapist_specialties=roster.specialties,
        effectiveness=roster.effectiveness,
        reliably_poor=roster.poor,
        client_preference=clients.preference,
        client_strength=clients.strength,
        client_concerns=clients.concerns,
        primary_concern=clients.primary,
        placement=np.full(n_c, -1, dtype=np.intp),
        clicked=np.zeros(n_c, dtype=bool),
    )
    if history and n_c > 0:
        outcomes, placement, click = _simulate_outcomes(history_rng, roster, clients, truth)
        truth = replace(truth, placement=placement, clicked=click)
    else:
        outcomes = _frame(OUTCOME_COLUMNS, {c: [] for c in OUTCOME_COLUMNS})
    return World(therapists=roster.frame, intakes=clients.frame, outcomes=outcomes, truth=truth)
