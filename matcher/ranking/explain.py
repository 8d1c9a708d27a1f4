"""Reasons for a suggestion, drawn from what actually drove its score.

Works for any :class:`~matcher.scoring.Scorer`: for each group of features,
the group is reset to the average over the client's candidates and the score
recomputed; the groups whose removal lowers the score most are the reasons.
All top suggestions and groups are scored in one batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..terms import label
from ..text import style_axes
from ..vocab import STYLE_AXES
from .features import ClientProfile
from .roster import Roster
from .scoring import Scorer

MAX_REASONS = 4
MIN_REASONS = 2
#: A group must move the score at least this much to count as a reason.
MIN_EFFECT = 0.005
#: A style axis is only named as a reason when the therapist is this close to the client's wish.
MAX_REASON_GAP = 1.5

REASON_GROUPS: dict[str, tuple[str, ...]] = {
    **{f"style_{axis}": (f"style_fit_{axis}",) for axis in STYLE_AXES},
    "hopes": ("hopes_approach",),
    "concerns": ("concern_coverage", "concern_semantic", "story_specialties"),
    "gender": ("gender_preference",),
    "faith": ("faith_preference",),
    "therapy_type": ("therapy_type_preference",),
    "track_record": ("effectiveness",),
    "alliance_history": ("alliance_history",),
}

_DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_PART_NAMES = {"am": "morning", "pm": "afternoon", "eve": "evening"}


def slot_label(slot: str) -> str:
    """``"mon_eve"`` -> ``"Monday evening"``."""
    day, part = slot.split("_")
    return f"{_DAY_NAMES[day]} {_PART_NAMES[part]}"


def _bucket(value: float, threshold: float = 1.0) -> int:
    return 1 if value >= threshold else -1 if value <= -threshold else 0


def group_effects(scorer: Scorer, features: pd.DataFrame, baseline: pd.Series) -> pd.DataFrame:
    """How much each reason group raised each row's score.

    Parameters
    ----------
    features : (k, F) frame of the rows to explain
    baseline : (F,) the reference feature values (the candidates' mean)

    Returns
    -------
    (k, n_groups) frame of score differences (positive = the group helped).
    """
    k = len(features)
    groups = list(REASON_GROUPS)
    if k == 0:
        return pd.DataFrame(columns=groups)
    columns = list(features.columns)
    values = features.to_numpy(dtype=np.float32)
    aligned = baseline.index.equals(features.columns)  # the candidates' mean: no reindexing
    reference = (baseline if aligned else baseline[columns]).to_numpy(dtype=np.float32)
    variants = np.repeat(values[None, :, :], len(groups) + 1, axis=0)  # (G + 1, k, F)
    for g, group in enumerate(groups, start=1):
        positions = [columns.index(column) for column in REASON_GROUPS[group]]
        variants[g][:, positions] = reference[positions]
    batch = pd.DataFrame(variants.reshape(-1, len(columns)), columns=columns)
    scores = scorer.score(batch).reshape(len(groups) + 1, k)
    return pd.DataFrame((scores[0][None, :] - scores[1:]).T, columns=groups, index=features.index)


def reasons_for(
    client: ClientProfile,
    therapist: dict[str, Any],
    therapist_style: np.ndarray,
    effects: pd.Series,
) -> tuple[str, ...]:
    """2–4 sentences: the strongest score drivers first, then practical fit."""
    reasons: list[str] = []
    order = np.argsort(-effects.to_numpy(), kind="stable")  # strongest first, ties in order
    for group, effect in zip(effects.index[order], effects.to_numpy()[order], strict=True):
        if effect < MIN_EFFECT or len(reasons) == MAX_REASONS:
            break
        sentence = _driver_sentence(group, client, therapist, therapist_style)
        if sentence:
            reasons.append(sentence)
    for sentence in _practical_sentences(client.record, therapist):
        if len(reasons) >= MIN_REASONS:
            break
        reasons.append(sentence)
    return tuple(reasons)


def short_name(name: str) -> str:
    """The name without credentials: "Sam Lee, LCSW" -> "Sam Lee" (reads well in a sentence)."""
    return name.split(",")[0].strip() or name


def _driver_sentence(
    group: str, client: ClientProfile, therapist: dict[str, Any], style: np.ndarray
) -> str | None:
    name = short_name(therapist["name"])
    record = client.record
    if group.startswith("style_"):
        axis = group.removeprefix("style_")
        a = STYLE_AXES.index(axis)
        wanted = _bucket(float(client.preference[a]), 0.5)
        offered = _bucket(float(style[a]))
        if wanted != offered or abs(float(style[a]) - float(client.preference[a])) > MAX_REASON_GAP:
            return None  # only name a style as a reason when it is what the client asked for
        wording = style_axes()[axis]
        want, does = wording.wants[wanted], wording.does[offered]
        lead = (
            "You asked for" if client.source[a] == "stated" else "From what you wrote, you'd like"
        )
        return f"{lead} {want}; {name} {does}."
    if group == "hopes":
        return f"How {name} describes their work is close to what you hope for in a therapist."
    if group == "concerns":
        shared = [c for c in record["concerns"] if c in set(therapist["specialties"])]
        if shared:
            return f"{name} specialises in {_join(shared)}, which you mentioned."
        if therapist["specialties"]:
            areas = _join(therapist["specialties"][:3])
            return f"{name}'s areas of work ({areas}) are close to what brings you."
        return None
    if group == "gender" and record["therapist_gender"]:
        return f"{name} is a {record['therapist_gender']} therapist, as you preferred."
    if group == "track_record" and record["concerns"]:
        concerns = _join(record["concerns"][:2])
        return f"Clients who came with {concerns} have improved more than usual with {name}."
    if group == "alliance_history":
        return f"{name}'s clients usually feel the relationship works well early on."
    if group == "faith" and record["faith"]:
        return f"{name} shares your faith background ({record['faith']})."
    if group == "therapy_type" and record.get("therapy_type"):
        kind = label("therapy_type", record["therapy_type"])
        return f"{name} offers {kind}, the kind of therapy you asked about."
    return None


def _practical_sentences(record: dict[str, Any], therapist: dict[str, Any]) -> list[str]:
    sentences = []
    if record["insurance"] and record["insurance"] in therapist["insurance"]:
        sentences.append(f"Accepts your insurance ({label('insurer', record['insurance'])}).")
    shared = [s for s in record["availability"] if s in set(therapist["availability"])]
    if shared:
        times = ", ".join(slot_label(s) for s in shared[:3])
        sentences.append(f"Free at {len(shared)} of the times you gave ({times}).")
    same_city = therapist["city"].casefold() == record["city"].casefold()
    if record["modality"] != "telehealth" and therapist["in_person"] and same_city:
        sentences.append(f"Sees clients in person in {therapist['city']}.")
    if record["modality"] != "in_person" and therapist["telehealth"]:
        sentences.append("Offers sessions by video (telehealth).")
    sentences.append(f"Works in {record['language'].title()}.")
    return sentences


def _join(items: list[str]) -> str:
    words = [item.replace("_", " ") for item in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def explain_rows(
    client: ClientProfile,
    roster: Roster,
    scorer: Scorer,
    rows: np.ndarray,
    features: pd.DataFrame,
    baseline: pd.Series,
) -> list[tuple[str, ...]]:
    """Reasons for each roster row in ``rows`` (features aligned with rows)."""
    effects = group_effects(scorer, features.reset_index(drop=True), baseline)
    return [
        reasons_for(client, roster.record(int(row)), roster.style[int(row)], effects.iloc[i])
        for i, row in enumerate(rows)
    ]
