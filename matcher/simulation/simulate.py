"""The entry point: :func:`simulate_world` (the model is described in the package docstring)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..vocab import OUTCOME_COLUMNS
from .clients import simulate_clients
from .history import logging_weights, simulate_history
from .phrases import load_phrases
from .regimes import Regime, resolve_regime
from .roster import simulate_roster
from .sampling import frame
from .world import GroundTruth, Reach, World

__all__ = ["simulate_world"]

#: Streams spawned from ``seed``, in spawn order. A child's stream depends only on its
#: position, so streams added at the end leave the earlier ones (and the default output)
#: unchanged.
_SEED_STREAMS = ("roster", "roster_text", "client", "client_text", "repair", "history")
_SEED_EXTRA_STREAMS = ("popularity", "label_noise")
#: Streams spawned from ``(seed, client_seed)``: everything about the clients.
_CLIENT_SEED_STREAMS = ("client", "client_text", "repair", "history")
_CLIENT_SEED_EXTRA_STREAMS = ("label_noise",)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _streams(seed: int, client_seed: int | None) -> dict[str, np.random.Generator]:
    """The named random streams of one simulation."""
    names = _SEED_STREAMS + _SEED_EXTRA_STREAMS
    children = np.random.SeedSequence(seed).spawn(len(names))
    streams = {name: np.random.default_rng(s) for name, s in zip(names, children, strict=True)}
    if client_seed is not None:  # new clients for the same roster, e.g. unseen test clients
        names = _CLIENT_SEED_STREAMS + _CLIENT_SEED_EXTRA_STREAMS
        children = np.random.SeedSequence([seed, client_seed]).spawn(len(names))
        streams.update(
            {name: np.random.default_rng(s) for name, s in zip(names, children, strict=True)}
        )
    return streams


def simulate_world(
    n_therapists: int = 60,
    n_clients: int = 600,
    *,
    seed: int = 0,
    history: bool = True,
    client_seed: int | None = None,
    regime: str | Regime = "default",
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
    regime : str or Regime, default "default"
        A name in :data:`REGIMES` or a :class:`Regime`: the variant of the generative
        model. The same seed gives the same latent draws in every regime; only what the
        regime changes differs.

    Returns
    -------
    World
        The three contract tables and the ground truth behind them.

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong type, or the regime is unknown.
    """
    n_t = _check_int("n_therapists", n_therapists, 1)
    n_c = _check_int("n_clients", n_clients, 0)
    seed_value = _check_int("seed", seed, 0)
    if not isinstance(history, bool | np.bool_):
        raise ValueError(f"history must be a bool, got {history!r}")
    client_value = None if client_seed is None else _check_int("client_seed", client_seed, 0)
    chosen = resolve_regime(regime)
    bank = load_phrases(chosen.phrases)
    rng = _streams(seed_value, client_value)

    roster = simulate_roster(
        n_t, rng["roster"], rng["roster_text"], bank=bank, therapist_sd=chosen.click.therapist_sd
    )
    clients = simulate_clients(
        n_c, roster, rng["client"], rng["client_text"], rng["repair"], bank=bank
    )
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
        logged_click=np.zeros(n_c, dtype=bool),
        logged_propensity=np.full(n_c, np.nan),
        # A property of the roster, so drawn from the roster's seed (not client_seed).
        logging_weight=logging_weights(chosen, n_t, rng["popularity"]),
        reach=Reach(
            therapist_languages=roster.languages,
            telehealth=roster.telehealth,
            in_person=roster.in_person,
            therapist_city=roster.city,
            client_language=clients.language,
            client_modality=clients.modality,
            client_city=clients.city,
        ),
        coefficients=chosen.click,
    )
    if history and n_c > 0:
        logged = simulate_history(
            rng["history"],
            rng["label_noise"],
            truth,
            clients.frame["client_id"].tolist(),
            roster.frame["therapist_id"].tolist(),
            chosen,
        )
        truth = replace(
            truth,
            placement=logged.placement,
            clicked=logged.clicked,
            logged_click=logged.logged_click,
            logged_propensity=logged.propensity,
        )
        outcomes = logged.frame
    else:
        outcomes = frame(OUTCOME_COLUMNS, {c: [] for c in OUTCOME_COLUMNS})
    return World(
        therapists=roster.frame,
        intakes=clients.frame,
        outcomes=outcomes,
        truth=truth,
        regime=chosen,
    )
