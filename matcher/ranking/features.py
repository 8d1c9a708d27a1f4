"""Client profiles and pair features: the one place features are built.

Ranking and training both call :func:`pair_features`, so the two cannot
drift. Everything is vectorised over the roster: a client is compared with
all candidate therapists in a handful of array operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..vocab import STYLE_AXES
from .concerns import ConcernReader
from .embed import Embedder
from .negation import negation_views, split_sentences
from .roster import Roster, TrackRecordLike, concerns_text
from .style import StyleInferrer

#: A concern read from the story (not ticked) counts this much of a ticked one.
INFERRED_CONCERN_WEIGHT = 0.5
#: A preference inferred from free text counts for at most this much of a stated one.
INFERRED_STRENGTH = 0.5
#: Inferred preferences weaker than this (in rating points) count as "no preference".
INFERRED_MIN_POINTS = 0.75
#: ... and so do those the reader is unsure of: below this confidence (1 - P(no
#: evidence)) it is likelier that the hopes say nothing about the axis than something.
INFERRED_MIN_CONFIDENCE = 0.5
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
    "therapy_type_preference",
    "alliance_history",
)
#: Every column of a pair-feature frame: the click features plus the therapist's
#: shrunken track record on the client's concerns (0 without a trained model).
FEATURE_NAMES: tuple[str, ...] = (*CLICK_FEATURES, "effectiveness")


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
    #: Concern tags read from the story beyond the ticked ones (used at a lower weight).
    inferred_concerns: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        record: dict[str, Any],
        embedder: Embedder,
        styles: StyleInferrer,
        concerns: ConcernReader | None = None,
    ) -> ClientProfile:
        """Encode one client's texts in one batch and resolve their preferences."""
        return encode_clients([record], embedder, styles, concerns)[0]


def encode_clients(
    records: list[dict[str, Any]],
    embedder: Embedder,
    styles: StyleInferrer,
    concerns: ConcernReader | None = None,
) -> list[ClientProfile]:
    """Profiles for validated intake records, with every text encoded in one batch.

    Per client the batch holds the story, the hopes, the concern tags as text,
    and the negation views of the hopes' sentences (for inferring unstated
    preferences; a sentence without a negation is its own view). Each distinct
    text is encoded once and profiles share its vector (a view), so a million
    intakes built from few distinct texts need little memory. With a
    ``concerns`` reader, concern tags are also read from each story.
    """
    texts: list[str] = []
    starts: list[int] = []
    view_at: list[int] = []
    view_sign: list[int] = []
    view_owner: list[int] = []
    for i, record in enumerate(records):
        own, signs = intake_texts(record)
        starts.append(len(texts))
        view_at += range(len(texts) + 3, len(texts) + len(own))
        view_sign += signs
        view_owner += [i] * len(signs)
        texts += own
    position: dict[str, int] = {}
    distinct = np.array([position.setdefault(text, len(position)) for text in texts], dtype=int)
    distinct_texts = list(position)
    vectors = embedder.encode(distinct_texts)
    inferred, confidence = styles.read_views(
        vectors,
        distinct_texts,
        distinct[view_at],
        np.array(view_sign),
        np.array(view_owner),
        len(records),
    )
    story_rows = distinct[starts]
    inferred_tags = (
        concerns.infer(
            vectors[story_rows], [r["story"] for r in records], [r["concerns"] for r in records]
        )
        if concerns is not None
        else [()] * len(records)
    )
    profiles = []
    for i, record in enumerate(records):
        stated = np.array(
            [np.nan if record[a] is None else record[a] for a in STYLE_AXES], dtype=float
        )
        preference, strength, source = preferences(stated, inferred[i], confidence[i])
        story, hopes, concerns_vector = (vectors[j] for j in distinct[starts[i] : starts[i] + 3])
        profiles.append(
            ClientProfile(
                record,
                story,
                hopes,
                concerns_vector,
                preference,
                strength,
                source,
                inferred_tags[i],
            )
        )
    return profiles


def intake_texts(record: dict[str, Any]) -> tuple[list[str], list[int]]:
    """What :func:`encode_clients` encodes for one intake: the story, the hopes, the
    concern tags as text, then the negation views of the hopes' sentences; and the sign
    of each view (+1 wanted, -1 refused)."""
    texts = [record["story"], record["hopes"], concerns_text(record["concerns"])]
    signs = []
    for sentence in split_sentences(record["hopes"]):
        for view, sign in negation_views(sentence):
            texts.append(view)
            signs.append(sign)
    return texts, signs


def preferences(
    stated: np.ndarray, inferred: np.ndarray, confidence: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Resolve one client's preference and its strength per axis.

    A stated rating wins; strength grows with its distance from the middle
    (at least 1/3, since "in the middle" is a preference too). Otherwise a
    preference read from ``hopes`` counts if it is clear (at least
    ``INFERRED_MIN_POINTS``) and the reader is confident of it (at least
    ``INFERRED_MIN_CONFIDENCE``), at ``INFERRED_STRENGTH * confidence * |value| / 3``;
    else the axis does not matter (strength 0).

    Parameters
    ----------
    stated : (4,) float in [-3, 3], NaN where not stated
    inferred : (4,) float in [-3, 3], the value read from the hopes
    confidence : (4,) float in [0, 1], the reader's confidence in it

    Returns
    -------
    preference : (4,) float32 in [-3, 3]; 0 where none
    strength : (4,) float32 in [0, 1]
    source : per axis "stated", "inferred" or "none"
    """
    preference = np.zeros(4, dtype=np.float32)
    strength = np.zeros(4, dtype=np.float32)
    source = []
    for a in range(4):
        if not np.isnan(stated[a]):
            preference[a] = stated[a]
            strength[a] = max(abs(stated[a]) / 3.0, STATED_MIN_STRENGTH)
            source.append("stated")
        elif abs(inferred[a]) >= INFERRED_MIN_POINTS and confidence[a] >= INFERRED_MIN_CONFIDENCE:
            preference[a] = inferred[a]
            strength[a] = INFERRED_STRENGTH * confidence[a] * abs(inferred[a]) / 3.0
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
    concern_tags: np.ndarray  # (n_tags,) | (P, n_tags) float: 1 ticked, lower if inferred, else 0
    n_concerns: np.ndarray  # () | (P,) the tags' total weight
    gender: np.ndarray  # () | (P,) int: wanted gender's code, -1 unknown, -2 none
    faith: np.ndarray  # () | (P,) int: faith code, -1 unknown or none
    therapy_type: np.ndarray  # () | (P,) int: wanted kind of therapy's code, -1 unknown or none


def client_side(clients: list[ClientProfile], roster: Roster) -> ClientSide:
    """Stack profiles into arrays coded against ``roster`` (one row per profile)."""
    records = [c.record for c in clients]
    tags = roster.tags.multi_hot([r["concerns"] for r in records]).astype(np.float32)
    inferred = roster.tags.multi_hot([list(c.inferred_concerns) for c in clients])
    tags[inferred & (tags == 0)] = INFERRED_CONCERN_WEIGHT
    return ClientSide(
        story=np.stack([c.story_embedding for c in clients]),
        hopes=np.stack([c.hopes_embedding for c in clients]),
        concerns=np.stack([c.concerns_embedding for c in clients]),
        preference=np.stack([c.preference for c in clients]),
        strength=np.stack([c.strength for c in clients]),
        concern_tags=tags,
        n_concerns=tags.sum(axis=1),
        gender=np.array(
            [
                roster.genders.code(r["therapist_gender"]) if r["therapist_gender"] else -2
                for r in records
            ]
        ),
        faith=roster.faiths.codes([r["faith"] for r in records]),
        therapy_type=roster.therapy_types.codes([r.get("therapy_type", "") for r in records]),
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
    track = None
    if track_record is not None:
        table = roster.track_table(track_record)  # aligned once, then plain array lookups
        track = (table.expected(rows, client.record["concerns"]), table.alliance[rows])
    return _features(_single(client_side([client], roster)), roster, rows, track=track)


#: Pairs whose features are built at once (bounds memory: three (P, d) float32 arrays).
PAIR_CHUNK = 32768


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
    if len(rows) <= PAIR_CHUNK:
        features = _features(_take(client_side(clients, roster), client_index), roster, rows)
    else:  # in chunks: per-pair (P, d) arrays of a million pairs would not fit in memory
        parts = []
        for start in range(0, len(rows), PAIR_CHUNK):
            chunk = slice(start, start + PAIR_CHUNK)
            used, local = np.unique(client_index[chunk], return_inverse=True)
            side = _take(client_side([clients[i] for i in used], roster), local)
            parts.append(_features(side, roster, rows[chunk]))
        features = pd.concat(parts, ignore_index=True)
    if track_record is not None:
        concerns = [clients[i].record["concerns"] for i in client_index]
        effect = track_record.expected_for_pairs(roster.ids[rows], concerns)
        features["effectiveness"] = effect.astype(np.float32)
        features["alliance_history"] = track_record.alliance(roster.ids[rows]).astype(np.float32)
    return features


#: Above this share of the roster, one client's similarities are computed for the whole
#: roster and then indexed: one pass over the (n, d) matrix instead of copying the rows.
FULL_PASS_SHARE = 0.25


def _similarity(matrix: np.ndarray, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Dot products of roster ``rows`` with one client vector (d,) or one per pair (P, d).

    Every path computes each pair's dot product with the same einsum kernel, one
    row at a time, so a pair's value is bit-for-bit the same whether it is scored
    alone, with the whole roster, or among training pairs (a BLAS matrix-vector
    product rounds differently with the number of rows, and a tree model's split
    can fall between the two roundings).
    """
    if vectors.ndim == 2:
        return np.einsum("pd,pd->p", matrix[rows], vectors)
    if len(rows) >= FULL_PASS_SHARE * len(matrix):  # no copy of the selected rows
        return np.einsum("nd,d->n", matrix, vectors)[rows]
    return np.einsum("nd,d->n", matrix[rows], vectors)


def _coverage_counts(roster: Roster, rows: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """The weight of the client's tags each therapist lists, (len(rows),) float."""
    if tags.ndim == 1:  # one client: only the columns of their own tags matter
        used = np.flatnonzero(tags)
        return (roster.specialties[:, used] @ tags[used])[rows]
    return (roster.specialties[rows] * tags).sum(axis=1)


_SIMILARITIES = {  # feature: (client vector, roster matrix)
    "hopes_approach": ("hopes", "approach_embedding"),
    "story_specialties": ("story", "specialties_embedding"),
    "concern_semantic": ("concerns", "specialties_embedding"),
}


def pair_features_by_client(
    clients: list[ClientProfile],
    owner: np.ndarray,
    roster: Roster,
    rows: np.ndarray,
    track_record: TrackRecordLike | None = None,
) -> pd.DataFrame:
    """Features of each client against many roster rows, as one frame.

    Pair ``p`` is ``clients[owner[p]]`` with roster row ``rows[p]``; ``owner`` must be
    sorted (each client's pairs together). Bit for bit what :func:`pair_features`
    gives each client for its rows, without the per-pair copies of client vectors
    that :func:`pair_features_for_pairs` makes (suited to many pairs per client).
    """
    owner, rows = np.asarray(owner), np.asarray(rows)
    side = client_side(clients, roster)
    per_pair = ClientSide(
        **{
            name: value[owner]
            for name, value in vars(side).items()
            if name not in ("story", "hopes", "concerns")
        },
        story=side.story,
        hopes=side.hopes,
        concerns=side.concerns,
    )
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else owner
    ends = np.r_[starts[1:], len(owner)].astype(int)
    similarities = {}
    for name, (vector, matrix) in _SIMILARITIES.items():
        values, out = getattr(roster, matrix), np.zeros(len(rows), dtype=np.float32)
        vectors = getattr(side, vector)
        for start, end in zip(starts, ends, strict=True):  # one einsum per client
            out[start:end] = np.einsum("nd,d->n", values[rows[start:end]], vectors[owner[start]])
        similarities[name] = out
    track = None
    if track_record is not None:
        concerns = [client.record["concerns"] for client in clients]
        table = roster.track_table(track_record)
        track = (table.expected_for_clients(rows, owner, concerns), table.alliance[rows])
    return _features(per_pair, roster, rows, similarities, track)


def _features(
    side: ClientSide,
    roster: Roster,
    rows: np.ndarray,
    similarities: dict[str, np.ndarray] | None = None,
    track: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The features frame; ``track`` is (effectiveness, alliance history) per row, from a
    track record (zeros without one)."""
    gap = np.abs(roster.style[rows] - side.preference)
    style_fit = side.strength * (1.0 - gap / 3.0)
    columns: dict[str, np.ndarray] = {
        name: style_fit[:, a] for a, name in enumerate(STYLE_FEATURES)
    }
    for name, (vector, matrix) in _SIMILARITIES.items():
        columns[name] = (
            similarities[name]
            if similarities is not None
            else _similarity(getattr(roster, matrix), getattr(side, vector), rows)
        )
    covered = _coverage_counts(roster, rows, side.concern_tags)
    columns["concern_coverage"] = covered / np.maximum(side.n_concerns, 1)
    therapist_gender = roster.gender[rows]
    columns["gender_preference"] = np.where(
        side.gender == -2,
        0.0,
        np.where((therapist_gender == side.gender) & (side.gender >= 0), 1.0, -1.0),
    )
    columns["faith_preference"] = (side.faith >= 0) & (roster.faith[rows] == side.faith)
    offers = np.column_stack([roster.therapy[rows], np.zeros(len(rows), dtype=bool)])
    columns["therapy_type_preference"] = np.where(
        side.therapy_type >= 0, offers[np.arange(len(rows)), side.therapy_type], False
    )
    effectiveness, alliance = track if track is not None else (np.zeros(len(rows)),) * 2
    columns["effectiveness"], columns["alliance_history"] = effectiveness, alliance
    return pd.DataFrame(
        {name: np.asarray(columns[name], dtype=np.float32) for name in FEATURE_NAMES}
    )
