"""Roster arrays, client profiles and pair features: the one place features are built.

Ranking and training both call :func:`pair_features`, so the two cannot
drift. Everything is vectorised over the roster: a client is compared with
all candidate therapists in a handful of array operations.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .embed import Embedder
from .style import StyleInferrer, resolve_style
from .vocab import CONCERN_TAGS, SLOTS, STYLE_AXES

#: A preference inferred from free text counts for at most this much of a stated one.
INFERRED_STRENGTH = 0.5
#: Inferred preferences weaker than this (in rating points) count as "no preference".
INFERRED_MIN_POINTS = 0.75
#: A stated preference of 0 ("in the middle") still matters a little.
STATED_MIN_STRENGTH = 1.0 / 3.0

STYLE_FEATURES = tuple(f"style_fit_{axis}" for axis in STYLE_AXES)
FEATURE_NAMES: tuple[str, ...] = (
    *STYLE_FEATURES,
    "hopes_approach",
    "story_specialties",
    "concern_semantic",
    "concern_coverage",
    "gender_preference",
    "faith_preference",
)


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
    def build(
        cls, therapists: pd.DataFrame, embedder: Embedder, styles: StyleInferrer
    ) -> Roster:
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
        style, given = resolve_style(ratings, styles.infer(approach))
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
        """Encode the client's texts in one batch and resolve their preferences."""
        story, hopes, concerns = embedder.encode(
            [record["story"], record["hopes"], concerns_text(record["concerns"])]
        )
        return cls.from_embeddings(record, story, hopes, concerns, styles)

    @classmethod
    def from_embeddings(
        cls,
        record: dict[str, Any],
        story: np.ndarray,
        hopes: np.ndarray,
        concerns: np.ndarray,
        styles: StyleInferrer,
    ) -> ClientProfile:
        stated = np.array(
            [np.nan if record[a] is None else record[a] for a in STYLE_AXES], dtype=float
        )
        inferred = styles.infer(hopes[None, :])[0] if record["hopes"] else np.zeros(4)
        preference, strength, source = preferences(stated, inferred)
        return cls(record, story, hopes, concerns, preference, strength, source)


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


def pair_features(
    client: ClientProfile, roster: Roster, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """Features of (client, therapist) pairs for the given roster rows.

    Returns
    -------
    DataFrame (len(rows), len(FEATURE_NAMES)) float32, columns ``FEATURE_NAMES``:
    ``style_fit_*`` in [-1, 1] (strength × (1 - gap/3)); cosine similarities in
    [-1, 1]; ``concern_coverage`` in [0, 1]; preference matches in {-1, 0, 1}.
    """
    rows = np.arange(len(roster)) if rows is None else np.asarray(rows)
    record = client.record
    gap = np.abs(roster.style[rows] - client.preference[None, :])
    style_fit = client.strength[None, :] * (1.0 - gap / 3.0)
    columns: dict[str, np.ndarray] = {name: style_fit[:, a] for a, name in enumerate(STYLE_FEATURES)}
    columns["hopes_approach"] = roster.approach_embedding[rows] @ client.hopes_embedding
    columns["story_specialties"] = roster.specialties_embedding[rows] @ client.story_embedding
    columns["concern_semantic"] = roster.specialties_embedding[rows] @ client.concerns_embedding
    columns["concern_coverage"] = _coverage(record["concerns"], roster, rows)
    columns["gender_preference"] = _preference_match(
        record["therapist_gender"], roster.genders, roster.gender[rows]
    )
    faith = roster.faiths.code(record["faith"])
    columns["faith_preference"] = (
        (roster.faith[rows] == faith).astype(np.float32) if faith >= 0 else np.zeros(len(rows))
    )
    return pd.DataFrame(
        {name: np.asarray(columns[name], dtype=np.float32) for name in FEATURE_NAMES}
    )


def _coverage(concerns: list[str], roster: Roster, rows: np.ndarray) -> np.ndarray:
    if not concerns:
        return np.zeros(len(rows), dtype=np.float32)
    codes = roster.tags.codes(concerns)
    known = codes[codes >= 0]
    covered = roster.specialties[np.ix_(rows, known)].sum(axis=1) if len(known) else 0
    return np.asarray(covered, dtype=np.float32) / len(concerns) * np.ones(len(rows))


def _preference_match(wanted: str, index: _Index, codes: np.ndarray) -> np.ndarray:
    if not wanted:
        return np.zeros(len(codes), dtype=np.float32)
    code = index.code(wanted)
    return np.where(codes == code, 1.0, -1.0).astype(np.float32)
