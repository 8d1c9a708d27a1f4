"""The roster as arrays, built once per roster version and shared by every ranking.

Categorical columns become index codes and multi-hot matrices, texts become
unit vectors, style becomes numbers on the four axes; constraints and pair
features then work on whole columns at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..vocab import AGE_GROUPS, CONCERN_TAGS, SLOTS, STYLE_AXES
from .embed import Embedder
from .style import StyleInferrer, resolve_style


class TrackRecordLike(Protocol):
    """What pair features need of a fitted :class:`matcher.learning.TrackRecord`."""

    def expected(self, therapist_ids: Any, concerns: list[str]) -> np.ndarray: ...

    def expected_for_pairs(self, therapist_ids: Any, concerns: list[list[str]]) -> np.ndarray: ...

    def alliance(self, therapist_ids: Any) -> np.ndarray: ...

    def lookup(self, therapist_ids: Any) -> Any:
        """The record aligned to a roster's ids, for fast per-row queries."""
        ...


def specialties_text(specialties: list[str], modalities: list[str]) -> str:
    """The text embedded for a therapist's areas of work."""
    words = ", ".join(tag.replace("_", " ") for tag in specialties)
    ways = ", ".join(tag.replace("_", " ") for tag in modalities)
    return f"Specialises in {words}. Works with {ways}." if ways else f"Specialises in {words}."


def concerns_text(concerns: list[str]) -> str:
    """The text embedded for a client's concern tags."""
    return ", ".join(tag.replace("_", " ") for tag in concerns)


_CONCERN_WORDS = frozenset(concerns_text([tag]) for tag in CONCERN_TAGS)


def is_concerns_text(text: str) -> bool:
    """Whether ``text`` is a :func:`concerns_text` of vocabulary tags (not a person's words)."""
    return bool(text) and all(part in _CONCERN_WORDS for part in text.split(", "))


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


#: Texts encoded per call while a roster is built: bounds the build's peak memory (one
#: chunk's cache lookups and vectors at a time, written into the preallocated matrix).
BUILD_CHUNK = 4096


def _encode_rows(
    embedder: Embedder, texts: list[str], n: int, rows: np.ndarray, dimension: int | None
) -> np.ndarray:
    """(n, d) with the encoded ``texts`` at ``rows`` (the other rows are filled by the caller)."""
    out = None
    for start in range(0, len(texts), BUILD_CHUNK):
        vectors = embedder.encode(texts[start : start + BUILD_CHUNK])
        if out is None:
            out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
        out[rows[start : start + len(vectors)]] = vectors
    if out is None:
        out = np.zeros((n, dimension or embedder.dimension), dtype=np.float32)
    return out


#: Rows serialised at a time by :func:`roster_fingerprint` (bounds its memory).
FINGERPRINT_CHUNK = 5000


def roster_fingerprint(therapists: pd.DataFrame) -> str:
    """Content hash of a validated roster; equal rosters share arrays.

    The sha256 of ``json.dumps(records, sort_keys=True, default=str)``, fed a
    chunk of rows at a time rather than built as one string.
    """
    frame = therapists.drop(columns=["extra"], errors="ignore")
    digest = hashlib.sha256(b"[")
    for start in range(0, len(frame), FINGERPRINT_CHUNK):
        records = frame.iloc[start : start + FINGERPRINT_CHUNK].to_dict("records")
        chunk = ", ".join(json.dumps(r, sort_keys=True, default=str) for r in records)
        digest.update(((", " if start else "") + chunk).encode())
    digest.update(b"]")
    return digest.hexdigest()[:16]


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
    regions: _Index
    licensed: np.ndarray  # (n, n_regions) bool: licensed to see clients living there
    licensure_recorded: np.ndarray  # (n,) bool: False = not recorded, so not checked
    age_groups: np.ndarray  # (n, len(AGE_GROUPS)) bool
    therapy_types: _Index
    therapy: np.ndarray  # (n, n_types) bool: the kinds of therapy offered (``modalities``)
    version: str = ""
    row_of: dict[str, int] = field(default_factory=dict)
    #: Arrays derived from the roster for one model (see :meth:`track_table`).
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, therapists: pd.DataFrame, embedder: Embedder, styles: StyleInferrer) -> Roster:
        """Arrays for a validated roster (see :func:`matcher.schema.validate_therapists`).

        Texts are encoded in two batches; pass a :class:`~matcher.embed.CachedEmbedder`
        so unchanged therapists cost nothing on a rebuild.
        """
        return cls._build(therapists.reset_index(drop=True), embedder, styles)

    @classmethod
    def _build(
        cls,
        t: pd.DataFrame,
        embedder: Embedder,
        styles: StyleInferrer,
        reuse: tuple[Roster, np.ndarray, np.ndarray] | None = None,
    ) -> Roster:
        """``reuse = (old, new_rows, old_rows)``: those rows' texts are unchanged, so their
        vectors and styles are copied from ``old`` instead of encoded and inferred."""
        fresh = np.ones(len(t), dtype=bool)
        if reuse is not None:
            fresh[reuse[1]] = False
        rows = np.flatnonzero(fresh)
        d = reuse[0].approach_embedding.shape[1] if reuse is not None else None
        approach = _encode_rows(embedder, t["approach"].iloc[rows].tolist(), len(t), rows, d)
        specialties = _encode_rows(
            embedder,
            [
                specialties_text(s, m)
                for s, m in zip(
                    t["specialties"].iloc[rows], t["modalities"].iloc[rows], strict=True
                )
            ],
            len(t),
            rows,
            d,
        )
        ratings = t[list(STYLE_AXES)].to_numpy(dtype=float, na_value=np.nan)
        inferred = np.zeros_like(ratings, dtype=np.float32)
        unrated = np.flatnonzero(np.isnan(ratings).any(axis=1) & fresh)  # infer only where needed
        if len(unrated):
            inferred[unrated] = styles.infer_texts(t["approach"].iloc[unrated].tolist())
        style, given = resolve_style(ratings, inferred)
        if reuse is not None:
            old, new_rows, old_rows = reuse
            approach[new_rows] = old.approach_embedding[old_rows]
            specialties[new_rows] = old.specialties_embedding[old_rows]
            style[new_rows], given[new_rows] = old.style[old_rows], old.style_given[old_rows]
        tags = _Index([*CONCERN_TAGS, *(tag for row in t["specialties"] for tag in row)])
        languages = _Index([lang for row in t["languages"] for lang in row])
        cities = _Index(t["city"].tolist())
        insurers = _Index([ins for row in t["insurance"] for ins in row])
        genders = _Index(t["gender"].fillna("").tolist())
        faiths = _Index(t["faith"].tolist())
        slot_index = _Index(list(SLOTS))
        regions = _Index([region for row in t["licensed_regions"] for region in row])
        therapy_types = _Index([kind for row in t["modalities"] for kind in row])
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
            regions=regions,
            licensed=regions.multi_hot(t["licensed_regions"].tolist()),
            licensure_recorded=t["licensed_regions"].map(bool).to_numpy(dtype=bool),
            age_groups=_Index(list(AGE_GROUPS)).multi_hot(t["age_groups"].tolist()),
            therapy_types=therapy_types,
            therapy=therapy_types.multi_hot(t["modalities"].tolist()),
            version=roster_fingerprint(t),
            row_of={tid: i for i, tid in enumerate(ids)},
        )

    def update(
        self,
        changed: pd.DataFrame,
        embedder: Embedder,
        styles: StyleInferrer,
        removed: Any = (),
    ) -> Roster:
        """A new roster after some therapists changed: what :meth:`build` would give for
        the updated frame, encoding only the changed therapists' texts.

        Parameters
        ----------
        changed : validated therapists (new or edited); an id already on the roster
            replaces that row in place, a new id is appended
        removed : ids to drop

        This roster is left as it was (rankings running on it are unaffected).
        """
        changed = changed.reset_index(drop=True)
        frame = self.therapists
        n = len(frame)
        position = {tid: n + i for i, tid in enumerate(changed["therapist_id"])}
        keep = ~frame["therapist_id"].isin(set(removed)).to_numpy()
        source = frame["therapist_id"].map(position).fillna(-1).astype(int).to_numpy()
        swap = source >= 0
        take = np.where(swap, source, np.arange(n))[keep]  # in place, edited or not
        known = set(frame["therapist_id"])
        appended = [position[tid] for tid in changed["therapist_id"] if tid not in known]
        combined = pd.concat([frame, changed], ignore_index=True)
        t = combined.iloc[np.concatenate([take, appended]).astype(int)].reset_index(drop=True)
        old_rows = np.flatnonzero(keep & ~swap)  # therapists whose texts did not change
        new_rows = np.flatnonzero(~swap[keep])
        return type(self)._build(t, embedder, styles, reuse=(self, new_rows, old_rows))

    def refresh_capacity(self, capacities: dict[str, int]) -> None:
        """Take fresh open-place counts (placements change them; nothing else does)."""
        fresh = np.array([capacities.get(tid, 0) for tid in self.ids], dtype=int)
        self.capacity = fresh  # swapped whole, so a concurrent ranking sees old or new
        self.therapists = self.therapists.assign(capacity=fresh)

    def track_table(self, track_record: TrackRecordLike) -> Any:
        """``track_record.lookup(self.ids)``, computed once per roster and track record."""
        held = self._derived.get("track_table")
        if held is None or held[0] is not track_record:
            held = (track_record, track_record.lookup(self.ids))
            self._derived["track_table"] = held  # one entry: the current model's
        return held[1]

    def record(self, row: int) -> dict[str, Any]:
        return self.therapists.iloc[row].to_dict()
