"""Regimes: named variants of the generative model, so learning code meets worlds it was
not tuned to.

A :class:`Regime` changes *what matters* (the click coefficients), *how the history was
logged* (uniform or popularity-biased placements), *how clean the logged label is*, or
*how people write* (the phrase bank). Everything else, and every random stream, stays as
in the default model: for one seed, all regimes share the same clients, preferences and
concerns, and those that keep the default logging policy also share the placements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CLICK_COEFFICIENTS", "REGIMES", "ClickCoefficients", "Regime", "resolve_regime"]


@dataclass(frozen=True)
class ClickCoefficients:
    """Coefficients of the true click model (see :mod:`matcher.simulation`).

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

#: Logging policies a regime may use for the history.
LoggingPolicy = Literal["uniform", "popular"]


@dataclass(frozen=True)
class Regime:
    """A variant of the generative model.

    Attributes
    ----------
    name : str
        Short name (the key in :data:`REGIMES` for the named ones).
    click : ClickCoefficients
        The true click model; :meth:`World.click_probability` uses it.
    logging : {"uniform", "popular"}
        How the history chose each client's therapist among the reachable ones:
        ``"uniform"`` ("whoever has an opening") or ``"popular"``, a softmax over a
        per-therapist popularity ``z[j] ~ N(0, 1)`` at ``popularity_temperature``.
    popularity_temperature : float
        Softmax temperature of the ``"popular"`` policy: the weight of therapist ``j`` is
        ``exp(z[j] / temperature)``. At 1.2 the top fifth of therapists by popularity
        carry about half the weight.
    label_noise : float
        Probability that the logged click label (``dropped_out``/``alliance``) is the
        opposite of the sampled click, in [0, 0.5).
    phrases : str
        The phrase bank, ``data/<phrases>.toml``.
    description : str
        One line on what the regime tests.
    """

    name: str
    click: ClickCoefficients = field(default_factory=ClickCoefficients)
    logging: LoggingPolicy = "uniform"
    popularity_temperature: float = 1.2
    label_noise: float = 0.0
    phrases: str = "phrases"
    description: str = ""

    def __post_init__(self) -> None:
        if self.logging not in ("uniform", "popular"):
            raise ValueError(f"logging must be 'uniform' or 'popular', got {self.logging!r}")
        if not self.popularity_temperature > 0:
            raise ValueError(
                f"popularity_temperature must be > 0, got {self.popularity_temperature!r}"
            )
        if not 0.0 <= self.label_noise < 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5), got {self.label_noise!r}")
        if not self.click.therapist_sd >= 0:
            raise ValueError(f"therapist_sd must be >= 0, got {self.click.therapist_sd!r}")


# The intercepts of the re-weighted regimes are re-centred so that the click rate of
# random reachable placements stays about 40%, as in the default: a regime changes what
# drives a click, not how common clicks are (otherwise every metric would shift with the
# base rate and hide what the regime is meant to test).
REGIMES: dict[str, Regime] = {
    regime.name: regime
    for regime in (
        Regime("default", description="the model as documented in matcher.simulation"),
        Regime(
            "style_weak",
            ClickCoefficients(intercept=-0.75, style=0.16),
            description="style fit matters little (b_style a quarter of the default)",
        ),
        Regime(
            "therapist_effects",
            ClickCoefficients(intercept=-0.85, style=0.325, concern=0.45, therapist_sd=1.2),
            description="therapist effects dominate (sd 1.2; style and concern halved)",
        ),
        Regime(
            "concern_fit",
            ClickCoefficients(intercept=-1.27, style=0.325, concern=2.25),
            description="concern coverage dominates (b_concern 2.5x; b_style halved)",
        ),
        Regime(
            "popular_logging",
            logging="popular",
            description="selection-biased history: placements favour popular therapists",
        ),
        Regime(
            "noisy_labels",
            label_noise=0.15,
            description="the logged click label is flipped with probability 0.15",
        ),
        Regime(
            "alt_phrasing",
            phrases="phrases_alt",
            description="texts from a separately written phrase bank (phrases_alt.toml)",
        ),
    )
}


def resolve_regime(regime: str | Regime) -> Regime:
    """The :class:`Regime` named by ``regime`` (or ``regime`` itself).

    Raises
    ------
    ValueError
        If ``regime`` is a string that names no regime in :data:`REGIMES`.
    TypeError
        If ``regime`` is neither a string nor a :class:`Regime`.
    """
    if isinstance(regime, Regime):
        return regime
    if isinstance(regime, str):
        try:
            return REGIMES[regime]
        except KeyError:
            known = ", ".join(sorted(REGIMES))
            raise ValueError(f"unknown regime {regime!r}; known regimes: {known}") from None
    raise TypeError(f"regime must be a name or a Regime, got {type(regime).__name__}")
