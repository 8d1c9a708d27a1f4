"""A simulated world: its three tables and the ground truth that generated them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..vocab import MODALITIES, STYLE_AXES
from .regimes import CLICK_COEFFICIENTS, REGIMES, ClickCoefficients, Regime
from .vocabulary import CITIES

__all__ = ["GroundTruth", "Reach", "World", "client_groups", "decode_group", "reachable"]

_TELEHEALTH_OK = frozenset({MODALITIES.index("telehealth"), MODALITIES.index("either")})
_IN_PERSON_OK = frozenset({MODALITIES.index("in_person"), MODALITIES.index("either")})


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


# ---------------------------------------------------------------------------- reachability


def reachable(
    languages: np.ndarray,
    telehealth: np.ndarray,
    in_person: np.ndarray,
    therapist_city: np.ndarray,
    language: int,
    modality: int,
    city: int,
) -> np.ndarray:
    """``(n_t,)`` bool: therapists who share ``language`` and can see a client with this
    modality (index into ``vocab.MODALITIES``) and city (index into ``CITIES``)."""
    ok = np.zeros(telehealth.shape, dtype=bool)
    if modality in _TELEHEALTH_OK:
        ok |= telehealth
    if modality in _IN_PERSON_OK:
        ok |= in_person & (therapist_city == city)
    return ok & languages[:, language]


def client_groups(
    language: np.ndarray, modality: np.ndarray, city: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clients grouped by (language, modality, city): sorted group keys and each client's
    group; all clients of a group reach the same therapists."""
    keys = (language * len(MODALITIES) + modality) * len(CITIES) + city
    return np.unique(keys, return_inverse=True)


def decode_group(key: int) -> tuple[int, int, int]:
    """``(language, modality, city)`` of a key from :func:`client_groups`."""
    rest, city = divmod(int(key), len(CITIES))
    language, modality = divmod(rest, len(MODALITIES))
    return language, modality, city


@dataclass(frozen=True, eq=False)
class Reach:
    """Who can see whom: the language and modality/city constraints that the history's
    logging policy respects (kept so the policy's probabilities can be recomputed).

    Attributes
    ----------
    therapist_languages : numpy.ndarray
        ``(n_t, n_languages)`` bool over ``LANGUAGES``.
    telehealth, in_person : numpy.ndarray
        ``(n_t,)`` bool.
    therapist_city : numpy.ndarray
        ``(n_t,)`` index into ``CITIES``.
    client_language, client_modality, client_city : numpy.ndarray
        ``(n_c,)`` indices into ``LANGUAGES``, ``vocab.MODALITIES`` and ``CITIES``.
    """

    therapist_languages: np.ndarray
    telehealth: np.ndarray
    in_person: np.ndarray
    therapist_city: np.ndarray
    client_language: np.ndarray
    client_modality: np.ndarray
    client_city: np.ndarray

    def therapists_for(self, key: int) -> np.ndarray:
        """``(n_t,)`` bool: the therapists a client group (a :func:`client_groups` key)
        can reach."""
        return reachable(
            self.therapist_languages,
            self.telehealth,
            self.in_person,
            self.therapist_city,
            *decode_group(key),
        )

    def groups(
        self, client_rows: Sequence[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`client_groups` of the given clients (all by default)."""
        c = _rows(client_rows, self.client_language.size)
        return client_groups(self.client_language[c], self.client_modality[c], self.client_city[c])


# ---------------------------------------------------------------------------- ground truth


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
    logged_click : numpy.ndarray
        ``(n_c,)`` bool, the click label the outcome row carries (``not dropped_out and
        alliance >= 36``); equals ``clicked`` unless the regime adds label noise.
    logged_propensity : numpy.ndarray
        ``(n_c,)`` probability with which the logging policy chose ``placement``, NaN for
        clients without history.
    logging_weight : numpy.ndarray
        ``(n_t,)`` positive weight of each therapist under the logging policy (all ones
        for the uniform policy); a client's policy is these weights over the reachable.
    reach : Reach
        The constraints the logging policy respects.
    coefficients : ClickCoefficients
        Coefficients of the click model (the regime's).
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
    logged_click: np.ndarray
    logged_propensity: np.ndarray
    logging_weight: np.ndarray
    reach: Reach
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

    def logging_probability(
        self,
        client_rows: Sequence[int] | np.ndarray | None = None,
        therapist_rows: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Probability that the history's logging policy places each client with each
        therapist: ``logging_weight`` normalised over the therapists the client can reach.

        Each row sums to 1 over all therapists (pass ``therapist_rows=None``); the
        probability of a logged placement is ``logged_propensity``.

        Returns
        -------
        numpy.ndarray
            ``(n_clients, n_therapists)`` float in [0, 1].
        """
        c = _rows(client_rows, self.n_clients)
        t = _rows(therapist_rows, self.n_therapists)
        keys, inverse = self.reach.groups(c)
        out = np.zeros((c.size, t.size))
        for g, key in enumerate(keys.tolist()):
            weight = np.where(self.reach.therapists_for(key), self.logging_weight, 0.0)
            out[inverse == g] = weight[t] / weight.sum()
        return out


# ---------------------------------------------------------------------------- world


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


def _float_cell(value: float) -> str:
    """A probability as a cell: the shortest text that reads back as the same float."""
    return "" if np.isnan(value) else repr(float(value))


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
    regime : Regime
        The variant of the generative model that built this world.
    """

    therapists: pd.DataFrame
    intakes: pd.DataFrame
    outcomes: pd.DataFrame
    truth: GroundTruth
    regime: Regime = field(default_factory=lambda: REGIMES["default"])

    @cached_property
    def _therapist_index(self) -> pd.Index:
        return pd.Index(self.therapists["therapist_id"].tolist(), dtype=object)

    @cached_property
    def _client_index(self) -> pd.Index:
        return pd.Index(self.intakes["client_id"].tolist(), dtype=object)

    def click_probability(
        self, client_ids: Sequence[str], therapist_ids: Sequence[str]
    ) -> np.ndarray:
        """True click probability (under this world's regime) for every pair of the given
        clients and therapists.

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

    def logging_probability(
        self, client_ids: Sequence[str], therapist_ids: Sequence[str]
    ) -> np.ndarray:
        """Probability that the history's logging policy would place each of the given
        clients with each of the given therapists (see
        :meth:`GroundTruth.logging_probability`).

        Raises
        ------
        KeyError
            If an id is not in this world.
        """
        clients = _id_positions(self._client_index, client_ids, "client_id")
        therapists = _id_positions(self._therapist_index, therapist_ids, "therapist_id")
        return self.truth.logging_probability(clients, therapists)

    def outcomes_with_propensity(self) -> pd.DataFrame:
        """The outcomes plus a ``propensity`` column: the probability with which the
        logging policy chose the row's therapist (a string cell, like the others).

        ``outcomes`` itself stays in the contract's columns; this is for off-policy
        evaluation against the true propensities.
        """
        frame = self.outcomes.copy()
        rows = _id_positions(self._client_index, frame["client_id"].tolist(), "client_id")
        propensity = self.truth.logged_propensity[rows]
        frame["propensity"] = pd.Series(
            [_float_cell(p) for p in propensity.tolist()], index=frame.index, dtype=object
        )
        return frame

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
        for name, table in (
            ("therapists.csv", self.therapists),
            ("intakes.csv", self.intakes),
            ("outcomes.csv", self.outcomes),
        ):
            fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    table.to_csv(handle, index=False)
                os.replace(tmp, target / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
