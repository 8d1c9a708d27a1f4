"""Roster arrays, client profiles and pair features: the one place features are built.

Ranking and training both call :func:`pair_features`, so the two cannot
drift. Everything is vectorised over the roster: a client is compared with
all candidate therapists in a handful of array operations.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .embed import Embedder
from .style import StyleInferrer, resolve_style, split_sentences
from .vocab import CONCERN_TAGS, SLOTS, STYLE_AXES

#: A preference inferred from free text counts for at most this much of a stated one.
INFERRED_STRENGTH = 0.5
#: Inferred preferences weaker than this (in rating points) count as "no preference".
INFERRED_MIN_POINTS = 0.75
#: A stated preference of 0 ("in the middle") still matters a little.
STATED_MIN_STRENGTH = 1.0 / 3.0

STYLE_FEATURES = tuple(f"style_fit_{axis}" for axis in STYLE_AXES)
#: The features the click model sees. Identity preferences enter only as the
#: client's own stated wish (a match or not), never identity by itself.
CLICK_FEATURES: tuple[str, ...] = (
    *STYLE_FEATURES,
    "hopes_approach",
    "story_specialties",
    "concern_semantic",
    "concern_coverage",
    "gender_preference",
    "faith_preference",
    "alliance_history",
)
#: Every column of a pair-feature frame: the click features plus the therapist's
#: shrunken track record on the client's concerns (0 without a trained model).
FEATURE_NAMES: tuple[str, ...] = (*CLICK_FEATURES, "effectiveness")


class TrackRecordLike(Protocol):
    """What pair features need of a fitted :class:`matcher.model.TrackRecord`."""

    def expected(self, therapist_ids: Any, concerns: list[str]) -> np.ndarray: ...

    def expected_for_pairs(self, therapist_ids: Any, concerns: list[list[str]]) -> np.ndarray: ...

    def alliance(self, therapist_ids: Any) -> np.ndarray: ...


def specialties_text(specialties: list[str], modalities: list[str]) -> str:
    """The text embedded for a therapist's areas of work."""
    words = ", ".join(tag.replace("_", " ") for tag in specialties)
    ways = ", ".join(tag.replace("_", " ") for tag in modalities)
    return f"Specialises in {words}. Works with {ways}." if ways else f"Specialises in {words}."


def concerns_text(concerns: list[str]) -> str:
    """The text embedded for a client's concern tags."""
    return ", ".join(tag.replace("_", " ") for tag in concerns)


class _Index:
    """Maps category values (case-folded) to column numbers."""

    def __init__(self, values: list[str]):
        self.position = {v: i for i, v in enumerate(dict.fromkeys(v.casefold() for v in values))}

    def __len__(self) -> int:
        return len(self.position)

    def code(self, value: str | None) -> int:
        """Column of ``value``, or -1 when unknown or blank."""
        if not value:
            return -1
        return self.position.get(value.casefold(), -1)

    def codes(self, values: list[str]) -> np.ndarray:
        return np.array([self.code(v) for v in values], dtype=np.int32)

    def multi_hot(self, rows: list[list[str]]) -> np.ndarray:
        matrix = np.zeros((len(rows), len(self)), dtype=bool)
        for i, row in enumerate(rows):
            for value in row:
                j = self.code(value)
                if j >= 0:
                    matrix[i, j] = True
        return matrix


def roster_fingerprint(therapists: pd.DataFrame) -> str:
    """Content hash of a validated roster; equal rosters share arrays."""
    payload = json.dumps(
        therapists.drop(columns=["extra"], errors="ignore").to_dict("records"),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Roster:
    """A validated roster as arrays, built once per roster version.

    All arrays have the roster's ``n`` therapists as rows, in ``ids`` order.
    """

    therapists: pd.DataFrame
    ids: np.ndarray
    approach_embedding: np.ndarray  # (n, d) float32 unit rows
    specialties_embedding: np.ndarray  # (n, d) float32 unit rows
    style: np.ndarray  # (n, 4) float32 in [-3, 3]
    style_given: np.ndarray  # (n, 4) bool
    tags: _Index
    specialties: np.ndarray  # (n, n_tags) bool
    languages_index: _Index
    languages: np.ndarray  # (n, n_languages) bool
    telehealth: np.ndarray  # (n,) bool
    in_person: np.ndarray  # (n,) bool
    cities: _Index
    city: np.ndarray  # (n,) int32, -1 blank
    slots: np.ndarray  # (n, 21) bool
    insurers: _Index
    insurance: np.ndarray  # (n, n_insurers) bool
    fee: np.ndarray  # (n,) float
    sliding_scale: np.ndarray  # (n,) bool
    capacity: np.ndarray  # (n,) int
    genders: _Index
    gender: np.ndarray  # (n,) int32
    lgbtq_affirming: np.ndarray  # (n,) bool
    faiths: _Index
    faith: np.ndarray  # (n,) int32
    version: str = ""
    row_of: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, therapists: pd.DataFrame, embedder: Embedder, styles: StyleInferrer) -> Roster:
        """Arrays for a validated roster (see :func:`matcher.schema.validate_therapists`).

        Texts are encoded in two batches; pass a :class:`~matcher.embed.CachedEmbedder`
        so unchanged therapists cost nothing on a rebuild.
        """
        t = therapists.reset_index(drop=True)
        approach = embedder.encode(t["approach"].tolist())
        specialties = embedder.encode(
            [specialties_text(s, m) for s, m in zip(t["specialties"], t["modalities"], strict=True)]
        )
        ratings = t[list(STYLE_AXES)].to_numpy(dtype=float, na_value=np.nan)
        inferred = np.zeros_like(ratings, dtype=np.float32)
        unrated = np.flatnonzero(np.isnan(ratings).any(axis=1))  # infer only where needed
        if len(unrated):
            inferred[unrated] = styles.infer_texts(t["approach"].iloc[unrated].tolist())
        style, given = resolve_style(ratings, inferred)
        tags = _Index([*CONCERN_TAGS, *(tag for row in t["specialties"] for tag in row)])
        languages = _Index([lang for row in t["languages"] for lang in row])
        cities = _Index(t["city"].tolist())
        insurers = _Index([ins for row in t["insurance"] for ins in row])
        genders = _Index(t["gender"].fillna("").tolist())
        faiths = _Index(t["faith"].tolist())
        slot_index = _Index(list(SLOTS))
        ids = t["therapist_id"].to_numpy(dtype=object)
        return cls(
            therapists=t,
            ids=ids,
            approach_embedding=approach,
            specialties_embedding=specialties,
            style=style,
            style_given=given,
            tags=tags,
            specialties=tags.multi_hot(t["specialties"].tolist()),
            languages_index=languages,
            languages=languages.multi_hot(t["languages"].tolist()),
            telehealth=t["telehealth"].to_numpy(dtype=bool),
            in_person=t["in_person"].to_numpy(dtype=bool),
            cities=cities,
            city=cities.codes(t["city"].tolist()),
            slots=slot_index.multi_hot(t["availability"].tolist()),
            insurers=insurers,
            insurance=insurers.multi_hot(t["insurance"].tolist()),
            fee=t["fee"].to_numpy(dtype=float),
            sliding_scale=t["sliding_scale"].to_numpy(dtype=bool),
            capacity=t["capacity"].to_numpy(dtype=int),
            genders=genders,
            gender=genders.codes(t["gender"].fillna("").tolist()),
            lgbtq_affirming=t["lgbtq_affirming"].to_numpy(dtype=bool),
            faiths=faiths,
            faith=faiths.codes(t["faith"].tolist()),
            version=roster_fingerprint(t),
            row_of={tid: i for i, tid in enumerate(ids)},
        )

    def refresh_capacity(self, capacities: dict[str, int]) -> None:
        """Take fresh open-place counts (placements change them; nothing else does)."""
        fresh = np.array([capacities.get(tid, 0) for tid in self.ids], dtype=int)
        self.capacity = fresh  # swapped whole, so a concurrent ranking sees old or new
        self.therapists = self.therapists.assign(capacity=fresh)

    def record(self, row: int) -> dict[str, Any]:
        return self.therapists.iloc[row].to_dict()


@dataclass(frozen=True)
class ClientProfile:
    """One validated intake with its embeddings and resolved style preferences."""

    record: dict[str, Any]
    story_embedding: np.ndarray  # (d,)
    hopes_embedding: np.ndarray  # (d,)
    concerns_embedding: np.ndarray  # (d,)
    preference: np.ndarray  # (4,) float32 in [-3, 3]; 0 where none
    strength: np.ndarray  # (4,) float32 in [0, 1]; how much each axis matters
    source: tuple[str, ...]  # per axis: "stated", "inferred" or "none"

    @classmethod
    def build(
        cls, record: dict[str, Any], embedder: Embedder, styles: StyleInferrer
    ) -> ClientProfile:
        """Encode one client's texts in one batch and resolve their preferences."""
        return encode_clients([record], embedder, styles)[0]


def encode_clients(
    records: list[dict[str, Any]], embedder: Embedder, styles: StyleInferrer
) -> list[ClientProfile]:
    """Profiles for validated intake records, with every text encoded in one batch.

    Per client the batch holds the story, the hopes, the concern tags as text,
    and the sentences of the hopes (for inferring unstated preferences).
    """
    sentences = [split_sentences(r["hopes"]) for r in records]
    texts: list[str] = []
    for record, group in zip(records, sentences, strict=True):
        texts += [record["story"], record["hopes"], concerns_text(record["concerns"]), *group]
    vectors = embedder.encode(texts)
    sizes = np.array([3 + len(group) for group in sentences])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    hope_rows = np.concatenate(
        [np.arange(start + 3, start + size) for start, size in zip(starts, sizes, strict=True)]
        or [np.zeros(0, dtype=int)]
    ).astype(int)
    owner = np.repeat(np.arange(len(records)), sizes - 3)
    inferred = styles.infer_sentences(vectors[hope_rows], owner, len(records))
    profiles = []
    for i, record in enumerate(records):
        stated = np.array(
            [np.nan if record[a] is None else record[a] for a in STYLE_AXES], dtype=float
        )
        preference, strength, source = preferences(stated, inferred[i])
        story, hopes, concerns = vectors[starts[i] : starts[i] + 3]
        profiles.append(ClientProfile(record, story, hopes, concerns, preference, strength, source))
    return profiles


def preferences(
    stated: np.ndarray, inferred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Resolve one client's preference and its strength per axis.

    A stated rating wins; strength grows with its distance from the middle
    (at least 1/3, since "in the middle" is a preference too). Otherwise a
    clear preference inferred from ``hopes`` counts at half strength; else
    the axis does not matter (strength 0).
    """
    preference = np.zeros(4, dtype=np.float32)
    strength = np.zeros(4, dtype=np.float32)
    source = []
    for a in range(4):
        if not np.isnan(stated[a]):
            preference[a] = stated[a]
            strength[a] = max(abs(stated[a]) / 3.0, STATED_MIN_STRENGTH)
            source.append("stated")
        elif abs(inferred[a]) >= INFERRED_MIN_POINTS:
            preference[a] = inferred[a]
            strength[a] = INFERRED_STRENGTH * abs(inferred[a]) / 3.0
            source.append("inferred")
        else:
            source.append("none")
    return preference, strength, tuple(source)


@dataclass(frozen=True)
class ClientSide:
    """Client arrays coded against one roster, for one client or one per pair.

    Each array has either no leading axis (one client, broadcast over all
    candidates) or a leading axis of length P (one client per pair).
    """

    story: np.ndarray  # (d,) | (P, d)
    hopes: np.ndarray
    concerns: np.ndarray
    preference: np.ndarray  # (4,) | (P, 4)
    strength: np.ndarray
    concern_tags: np.ndarray  # (n_tags,) | (P, n_tags) bool, the client's known tags
    n_concerns: np.ndarray  # () | (P,) how many tags the client gave
    gender: np.ndarray  # () | (P,) int: wanted gender's code, -1 unknown, -2 none
    faith: np.ndarray  # () | (P,) int: faith code, -1 unknown or none


def client_side(clients: list[ClientProfile], roster: Roster) -> ClientSide:
    """Stack profiles into arrays coded against ``roster`` (one row per profile)."""
    records = [c.record for c in clients]
    return ClientSide(
        story=np.stack([c.story_embedding for c in clients]),
        hopes=np.stack([c.hopes_embedding for c in clients]),
        concerns=np.stack([c.concerns_embedding for c in clients]),
        preference=np.stack([c.preference for c in clients]),
        strength=np.stack([c.strength for c in clients]),
        concern_tags=roster.tags.multi_hot([r["concerns"] for r in records]),
        n_concerns=np.array([len(r["concerns"]) for r in records]),
        gender=np.array(
            [
                roster.genders.code(r["therapist_gender"]) if r["therapist_gender"] else -2
                for r in records
            ]
        ),
        faith=roster.faiths.codes([r["faith"] for r in records]),
    )


def _single(side: ClientSide) -> ClientSide:
    """Drop the leading axis of a one-client side so it broadcasts."""
    return ClientSide(**{name: value[0] for name, value in vars(side).items()})


def _take(side: ClientSide, index: np.ndarray) -> ClientSide:
    return ClientSide(**{name: value[index] for name, value in vars(side).items()})


def pair_features(
    client: ClientProfile,
    roster: Roster,
    rows: np.ndarray | None = None,
    track_record: TrackRecordLike | None = None,
) -> pd.DataFrame:
    """Features of one client against the given roster rows (default: all).

    Returns
    -------
    DataFrame (len(rows), len(FEATURE_NAMES)) float32, columns ``FEATURE_NAMES``:
    ``style_fit_*`` in [-1, 1] (strength × (1 - gap/3)); cosine similarities in
    [-1, 1]; ``concern_coverage`` in [0, 1]; preference matches in {-1, 0, 1};
    ``effectiveness`` in outcome points (0 without a track record).
    """
    rows = np.arange(len(roster)) if rows is None else np.asarray(rows)
    features = _features(_single(client_side([client], roster)), roster, rows)
    if track_record is not None:
        effect = track_record.expected(roster.ids[rows], client.record["concerns"])
        features["effectiveness"] = effect.astype(np.float32)
        features["alliance_history"] = track_record.alliance(roster.ids[rows]).astype(np.float32)
    return features


def pair_features_for_pairs(
    clients: list[ClientProfile],
    client_index: np.ndarray,
    roster: Roster,
    rows: np.ndarray,
    track_record: TrackRecordLike | None = None,
) -> pd.DataFrame:
    """Features of many (client, therapist) pairs at once, for training and evaluation.

    Pair ``p`` is ``clients[client_index[p]]`` with roster row ``rows[p]``; the
    formulas are those of :func:`pair_features`.
    """
    client_index, rows = np.asarray(client_index), np.asarray(rows)
    features = _features(_take(client_side(clients, roster), client_index), roster, rows)
    if track_record is not None:
        concerns = [clients[i].record["concerns"] for i in client_index]
        effect = track_record.expected_for_pairs(roster.ids[rows], concerns)
        features["effectiveness"] = effect.astype(np.float32)
        features["alliance_history"] = track_record.alliance(roster.ids[rows]).astype(np.float32)
    return features


def _rowdot(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    if vectors.ndim == 1:
        return matrix @ vectors
    return np.einsum("pd,pd->p", matrix, vectors)


def _features(side: ClientSide, roster: Roster, rows: np.ndarray) -> pd.DataFrame:
    gap = np.abs(roster.style[rows] - side.preference)
    style_fit = side.strength * (1.0 - gap / 3.0)
    columns: dict[str, np.ndarray] = {
        name: style_fit[:, a] for a, name in enumerate(STYLE_FEATURES)
    }
    columns["hopes_approach"] = _rowdot(roster.approach_embedding[rows], side.hopes)
    columns["story_specialties"] = _rowdot(roster.specialties_embedding[rows], side.story)
    columns["concern_semantic"] = _rowdot(roster.specialties_embedding[rows], side.concerns)
    covered = (roster.specialties[rows] & side.concern_tags).sum(axis=1)
    columns["concern_coverage"] = covered / np.maximum(side.n_concerns, 1)
    therapist_gender = roster.gender[rows]
    columns["gender_preference"] = np.where(
        side.gender == -2,
        0.0,
        np.where((therapist_gender == side.gender) & (side.gender >= 0), 1.0, -1.0),
    )
    columns["faith_preference"] = (side.faith >= 0) & (roster.faith[rows] == side.faith)
    columns["alliance_history"] = np.zeros(len(rows))  # filled from a track record, if any
    columns["effectiveness"] = np.zeros(len(rows))
    return pd.DataFrame(
        {name: np.asarray(columns[name], dtype=np.float32) for name in FEATURE_NAMES}
    )
