"""The public Python API: :class:`Matcher`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .clinic.privacy import Deletion, delete_client
from .clinic.store import Store
from .errors import MatcherError, ModelArtifactError
from .learning.registry import REGISTRY_FILE, default_model_dir, load_current
from .ranking.concerns import ConcernReader
from .ranking.embed import BoundedCache, CachedEmbedder, Embedder, SentenceTransformerEmbedder
from .ranking.features import ClientProfile, Roster, encode_clients
from .ranking.filters import constraint_masks, eligible
from .ranking.policy import PolicySettings
from .ranking.rank import Ranking, rank_client
from .ranking.roster import is_concerns_text
from .ranking.scoring import PriorScorer, Scorer
from .ranking.style import StyleInferrer
from .schema import frame_records, parse_intake, read_csv, validate_therapists

log = logging.getLogger(__name__)

#: An import touching at most this many therapists (or this share of the roster)
#: updates the roster arrays in place of a full rebuild.
INCREMENTAL_MIN = 50
INCREMENTAL_SHARE = 0.2
#: Concern-tag texts whose vectors the stateless path keeps in memory (1.5 kB each).
VOCABULARY_CACHE_SIZE = 4096


#: What a client may read about a therapist on their results page.
PROFILE_FIELDS: tuple[str, ...] = (
    "approach",
    "specialties",
    "modalities",
    "languages",
    "fee",
    "insurance",
    "sliding_scale",
    "telehealth",
    "in_person",
    "city",
)


@dataclass(frozen=True)
class Opening:
    """A therapist's open places, free times and profile, as a coordinator weighs them
    and a client reads them."""

    therapist_id: str
    open_places: int
    shared_slots: tuple[str, ...]  # free times the client also gave
    other_slots: tuple[str, ...]
    #: The ``PROFILE_FIELDS`` of the therapist's validated record.
    profile: Mapping[str, Any] = field(default_factory=dict)


class Matcher:
    """Ranks therapists for a client.

    Build one with :meth:`load`; it holds the roster's arrays, the scorer and
    the embedding model, so ranking costs one encode of the client's texts.
    When the roster comes from the database, a changed roster is picked up
    on the next :meth:`rank` without restarting.
    """

    def __init__(
        self,
        scorer: Scorer,
        embedder: Embedder,
        *,
        therapists: pd.DataFrame | None = None,
        store: Store | None = None,
        model_dir: Path | str | None = None,
        policy: PolicySettings | None = None,
        policy_seed: int | None = None,
    ):
        if (therapists is None) == (store is None):
            raise ValueError("give exactly one of therapists (a validated frame) or store")
        self._scorer = scorer
        # With a registry folder, a newly promoted model is picked up without a restart.
        self.model_dir = Path(model_dir) if model_dir not in (None, "") else None
        self._registry_stamp = self._stamp()
        self.embedder = embedder
        # ``remember=False`` keeps no vector of the client's words; the concern tags' text
        # is vocabulary, so its vectors stay in memory (the last few thousand tag sets).
        bare = embedder.embedder if isinstance(embedder, CachedEmbedder) else embedder
        self._stateless = CachedEmbedder(
            bare, BoundedCache(VOCABULARY_CACHE_SIZE), keep=is_concerns_text
        )
        self.styles = StyleInferrer(embedder)
        self.concerns = ConcernReader(embedder)
        self.store = store
        self._therapists = therapists
        self._roster: Roster | None = None
        self._roster_version: int | None = None
        self._capacity_version: int | None = None
        self._roster_synced_at = None
        self._lock = threading.Lock()
        #: The ranking policy in force (``MATCHER_RANKING_POLICY``); a request may ask for
        #: another. ``policy_seed`` makes the exploring policy's draws reproducible.
        self.policy = policy if policy is not None else PolicySettings.from_env()
        self._draws = np.random.default_rng(policy_seed)
        self._draws_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_dir: Path | str | None = None,
        therapists: Path | str | pd.DataFrame | None = None,
        *,
        embedder: Embedder | None = None,
        database_url: str | None = None,
        store: Store | None = None,
        strict: bool = True,
    ) -> Matcher:
        """Load the current model and a roster.

        Parameters
        ----------
        model_dir : path, optional
            The model registry folder (default ``MATCHER_MODEL_DIR`` or ``./models``).
            A missing or empty folder means the prior scorer.
        therapists : path to therapists.csv, a DataFrame in its format, or None
            None reads the roster from the database (``DATABASE_URL`` or the
            embedded SQLite file), whose embedding cache is then used too.
        embedder : Embedder, optional
            Defaults to all-MiniLM-L6-v2 from the bundled package.
        database_url, store : optional
            Which database holds the roster when ``therapists`` is None (an
            open :class:`~matcher.clinic.Store` wins over a URL).
        strict : bool
            True (the default) raises :class:`ModelArtifactError` when the current
            model cannot be loaded here; False (a serving app) logs why and ranks
            with the prior until a loadable model is promoted.
        """
        base = embedder or SentenceTransformerEmbedder()
        try:
            scorer = load_current(model_dir, embedding_model=base.name)
        except ModelArtifactError as error:
            if strict:
                raise
            log.warning("ranking with the prior scorer: %s", error)
            scorer = PriorScorer()
        model_dir = default_model_dir() if model_dir is None else model_dir
        if therapists is None:
            store = store or Store(database_url)
            return cls(
                scorer, CachedEmbedder(base, store.embeddings), store=store, model_dir=model_dir
            )
        if isinstance(therapists, pd.DataFrame):
            frame = validate_therapists(therapists.astype(str).where(therapists.notna(), ""))
        else:
            frame = read_csv(therapists, "therapists")
        return cls(scorer, CachedEmbedder(base), therapists=frame, model_dir=model_dir)

    def _stamp(self) -> tuple[int, int] | None:
        if self.model_dir is None:
            return None
        try:
            info = (self.model_dir / REGISTRY_FILE).stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    @property
    def scorer(self) -> Scorer:
        """The current model; reloaded when the registry's current version changes.

        A newly promoted model that cannot be loaded here (checksum, embedding
        model, library versions) is refused with a warning, and the last good
        model keeps serving.
        """
        stamp = self._stamp()
        if stamp != self._registry_stamp:
            with self._lock:
                if stamp != self._registry_stamp:
                    try:
                        self._scorer = load_current(
                            self.model_dir, embedding_model=self.embedder.name
                        )
                    except ModelArtifactError as error:
                        log.warning("keeping model %s: %s", self._scorer.version, error)
                    self._registry_stamp = stamp
        return self._scorer

    @property
    def roster(self) -> Roster:
        """The roster's arrays: rebuilt when the roster changes, open places
        refreshed when a placement changes them (so a full therapist is never suggested)."""
        with self._lock:
            if self.store is not None:
                versions = self.store.versions("roster", "capacity")  # one query a request
                version, capacity_version = versions["roster"], versions["capacity"]
                if self._roster is None or version != self._roster_version:
                    self._roster = self._rebuilt_roster()
                    self._roster_version = version
                elif capacity_version != self._capacity_version:
                    self._roster.refresh_capacity(self.store.capacities())
                self._capacity_version = capacity_version
            elif self._roster is None:
                self._roster = Roster.build(self._therapists, self.embedder, self.styles)
            return self._roster

    def _rebuilt_roster(self) -> Roster:
        """After an import: re-encode only the therapists that changed, unless most did."""
        changed_at = self.store.roster_changed_at()
        if self._roster is not None and self._roster_synced_at is not None:
            changed = self.store.therapists(changed_since=self._roster_synced_at)
            if len(changed) <= max(INCREMENTAL_MIN, INCREMENTAL_SHARE * len(self._roster)):
                self._roster_synced_at = changed_at
                return self._roster.update(changed, self.embedder, self.styles)
        self._roster_synced_at = changed_at
        return Roster.build(self.store.therapists(), self.embedder, self.styles)

    @property
    def model_version(self) -> str:
        return self.scorer.version

    def profile(self, intake: Mapping[str, Any], *, remember: bool = True) -> ClientProfile:
        """Validate an intake and encode its texts (``remember=False``: keep no vectors)."""
        encoder = self.embedder if remember else self._stateless
        return ClientProfile.build(parse_intake(intake), encoder, self.styles, self.concerns)

    def policy_for(self, policy: str | PolicySettings | None = None) -> PolicySettings:
        """The settings a request ranks under: the configured ones, or another policy's
        name ("deterministic", "explore") with the configured loss bound."""
        if isinstance(policy, PolicySettings):
            return policy
        return self.policy.with_name(policy)

    def _rng(self) -> np.random.Generator:
        """A generator of its own for one call (a shared one is not safe across threads)."""
        with self._draws_lock:
            seed = int(self._draws.integers(2**63))
        return np.random.default_rng(seed)

    def rank(
        self,
        intake: Mapping[str, Any],
        k: int = 5,
        *,
        remember: bool = True,
        policy: str | PolicySettings | None = None,
    ) -> Ranking:
        """Rank therapists for one intake.

        Parameters
        ----------
        intake : mapping keyed by the ``intakes.csv`` column names
            Lists as lists or ``;`` strings; blanks as None or missing.
        k : int
            How many suggestions at most.
        remember : bool
            Keep the client's text vectors in the embedding cache (the database
            when there is one). The stateless JSON API passes False.
        policy : "deterministic", "explore", PolicySettings or None
            The ranking policy for this request (default: :attr:`policy`); see
            :mod:`matcher.ranking.policy`.

        Returns
        -------
        Ranking
            A sequence of suggestions (``therapist_id``, ``score`` in [0, 1],
            ``reasons``), best first, plus ``near_misses`` when fewer than
            ``k`` therapists can take the client.

        Raises
        ------
        ValidationError
            Naming each bad field; nothing is ranked.
        """
        roster = self.roster
        if len(roster) == 0:
            raise MatcherError("the roster is empty; import therapists.csv first")
        return rank_client(
            self.profile(intake, remember=remember),
            roster,
            self.scorer,
            k,
            policy=self.policy_for(policy),
            rng=self._rng(),
        )

    def openings(
        self, therapist_ids: Sequence[str], wanted_slots: Sequence[str]
    ) -> dict[str, Opening]:
        """Open places and free times of these therapists (unknown ids are left out),
        the client's own times first: what a coordinator weighs before placing."""
        roster = self.roster
        wanted = set(wanted_slots)
        found = {}
        for therapist_id in therapist_ids:
            row = roster.row_of.get(therapist_id)
            if row is None:
                continue
            slots = roster.therapists.at[row, "availability"]
            record = roster.record(row)
            found[therapist_id] = Opening(
                therapist_id=therapist_id,
                open_places=int(roster.capacity[row]),
                shared_slots=tuple(s for s in slots if s in wanted),
                other_slots=tuple(s for s in slots if s not in wanted),
                profile={name: record[name] for name in PROFILE_FIELDS},
            )
        return found

    def delete_client(self, client_id: str, *, by: str) -> Deletion:
        """Erase everything held about a client, the vectors of their texts in this
        matcher's embedding cache included (see :func:`matcher.clinic.delete_client`)."""
        if self.store is None:
            raise MatcherError("this matcher has no database; there is nothing to delete")
        return delete_client(self.store, client_id, by=by, embedding_models=(self.embedder.name,))

    def eligible_therapists(self, intake: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Everyone who passes the client's hard constraints (for a coordinator's override)."""
        roster = self.roster
        record = parse_intake(intake)
        rows = np.flatnonzero(eligible(constraint_masks(record, roster)))
        names = roster.therapists["name"].to_numpy()
        return [
            {
                "therapist_id": str(roster.ids[r]),
                "name": str(names[r]),
                "capacity": int(roster.capacity[r]),
            }
            for r in sorted(rows, key=lambda r: names[r])
        ]

    def rank_many(
        self, intakes: pd.DataFrame, k: int = 5, *, policy: str | PolicySettings | None = None
    ) -> list[Ranking]:
        """Rank a validated intakes frame, encoding all client texts in one batch."""
        roster = self.roster
        if len(roster) == 0:
            raise MatcherError("the roster is empty; import therapists.csv first")
        records = frame_records(intakes)
        profiles = encode_clients(records, self.embedder, self.styles, self.concerns)
        settings, rng, scorer = self.policy_for(policy), self._rng(), self.scorer
        return [
            rank_client(profile, roster, scorer, k, policy=settings, rng=rng)
            for profile in profiles
        ]
