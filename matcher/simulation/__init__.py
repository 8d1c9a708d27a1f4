"""Simulated practices with known ground truth: roster, intakes and outcomes.

For the demo, tests and benchmarks. Stands alone: imports only :mod:`matcher.vocab` and
:mod:`matcher.text`. Its phrase banks and name lists are data files
(``simulation/data/*.toml``).

The simulator writes the three tables of the data contract (``vocab.THERAPIST_COLUMNS``,
``vocab.INTAKE_COLUMNS``, ``vocab.OUTCOME_COLUMNS``; every cell a string as a CSV would hold
it) from an explicit generative model, and keeps the latent quantities so that a learned
model can later be scored against the truth (for example "true click rate of the top-1
suggestion", via :meth:`World.click_probability`).

Modules: :mod:`.world` (``World``, ``GroundTruth``), :mod:`.roster` (therapists),
:mod:`.clients` (intakes and their texts), :mod:`.history` (placements and outcomes),
:mod:`.regimes` (``Regime``, ``REGIMES``, the click coefficients), :mod:`.phrases` (the
phrase banks), :mod:`.vocabulary` (values drawn and their weights), :mod:`.simulate`
(``simulate_world``).

Generative model
----------------
Notation: ``n_t`` therapists, ``n_c`` clients, ``K = len(vocab.CONCERN_TAGS)`` concern tags,
axes ``a`` in ``vocab.STYLE_AXES`` = (directive, intensity, past_focus, challenge). The
numbers below are the ``"default"`` regime's.

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
    history explores. The probability of that choice is kept
    (``GroundTruth.logged_propensity``, :meth:`World.outcomes_with_propensity`). Then
    ``click ~ Bernoulli(P)``;

    * clicked: not dropped out, ``sessions = 3 + Poisson(6)``, ``alliance = 36 + 4 Beta(2, 1.5)``;
    * not clicked, dropped out (probability 0.5): ``sessions`` 1-2, alliance blank (60%) or
      ``U(8, 30)``;
    * not clicked, stayed: ``sessions = 3 + Poisson(3)``, ``alliance = 18 + 17.9 Beta(2.5, 1.8)``;
    * ``improvement = 2 + e[j, primary concern] + 3 * click + N(0, 3^2)``, blank for 70% of
      drop-outs and 5% of the others.

    The ``click`` column stays blank: the label is derived downstream as
    ``not dropped_out and alliance >= 36``, which equals the sampled click by construction
    (``GroundTruth.logged_click``; only label noise makes it differ from ``clicked``).

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

Regimes
-------
``simulate_world(..., regime=...)`` takes a name in :data:`REGIMES` or a :class:`Regime`,
so learning code can be tested on worlds it was not tuned to. For one seed, every regime
draws the same latent quantities (style, preferences, concerns...) from the same streams;
the regime changes only its own part:

``default``
    The model above.
``style_weak``
    ``b_style`` a quarter of the default (0.16); concern fit and therapist effect as default.
``therapist_effects``
    Therapist click effects dominate: ``u[j]`` has sd 1.2; ``b_style`` and ``b_concern``
    halved.
``concern_fit``
    Concern coverage dominates: ``b_concern`` 2.5x (2.25); ``b_style`` halved.
``popular_logging``
    A selection-biased log: placements are a softmax over a per-therapist popularity
    ``z[j] ~ N(0, 1)`` (drawn once) at temperature 1.2, over the client's reachable
    therapists, so the top fifth of therapists get about half the placements.
``noisy_labels``
    The logged label is flipped with probability 0.15: drop-out, sessions and alliance
    follow the flipped label, while the click probability and the improvement follow the
    real click.
``alt_phrasing``
    Texts from a second, separately written phrase bank (``data/phrases_alt.toml``):
    other registers, hedges, negations and irrelevant detail.

The re-weighted regimes re-centre the intercept so random reachable placements still click
about 40% of the time.
"""

from .regimes import CLICK_COEFFICIENTS, REGIMES, ClickCoefficients, Regime
from .simulate import simulate_world
from .vocabulary import (
    CITIES,
    FAITHS,
    FREE_CONCERNS,
    GENDERS,
    INSURERS,
    LANGUAGES,
    THERAPY_MODALITIES,
)
from .world import GroundTruth, World

__all__ = [
    "CITIES",
    "CLICK_COEFFICIENTS",
    "FAITHS",
    "FREE_CONCERNS",
    "GENDERS",
    "INSURERS",
    "LANGUAGES",
    "REGIMES",
    "THERAPY_MODALITIES",
    "ClickCoefficients",
    "GroundTruth",
    "Regime",
    "World",
    "simulate_world",
]
