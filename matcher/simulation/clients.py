"""Simulated clients: latent preferences, concerns, constraints and intake texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..vocab import (
    CONCERN_TAGS,
    INTAKE_COLUMNS,
    LIST_SEPARATOR,
    MODALITIES,
    SLOTS,
    STYLE_AXES,
    STYLE_MAX,
    STYLE_MIN,
)
from .phrases import PhraseBank
from .roster import Roster
from .sampling import (
    choice,
    frame,
    gumbel_order,
    ids,
    ints_or_blank,
    join_mask,
    levels,
    paraphrase_index,
    pick,
    subset_mask,
    yes_no,
)
from .vocabulary import (
    CITIES,
    CITY_WEIGHTS,
    CLIENT_LANGUAGE_W,
    CLIENT_STATES_AXIS_RATE,
    CONCERN_POPULARITY,
    FAITHS,
    FREE_CONCERN_RATE,
    FREE_CONCERNS,
    GENDERS,
    INSURERS,
    LANGUAGES,
)
from .world import client_groups, decode_group, reachable

__all__ = ["Clients", "simulate_clients"]


@dataclass(frozen=True)
class Clients:
    """The intakes table and the latent arrays behind it (rows aligned)."""

    frame: pd.DataFrame
    preference: np.ndarray  # (n_c, 4) latent preference p
    strength: np.ndarray  # (n_c, 4) strength s
    concerns: np.ndarray  # (n_c, K) bool, mapped onto CONCERN_TAGS
    primary: np.ndarray  # (n_c,) index into CONCERN_TAGS
    language: np.ndarray  # (n_c,) index into LANGUAGES
    modality: np.ndarray  # (n_c,) index into vocab.MODALITIES
    city: np.ndarray  # (n_c,) index into CITIES


def _reaches_anyone(roster: Roster, key: int) -> bool:
    return bool(
        reachable(
            roster.languages, roster.telehealth, roster.in_person, roster.city, *decode_group(key)
        ).any()
    )


def _repair_unreachable(
    rng: np.random.Generator,
    roster: Roster,
    language: np.ndarray,
    modality: np.ndarray,
    city: np.ndarray,
) -> None:
    """Make every client reachable by at least one therapist (in place).

    A client whose (language, modality, city) no therapist serves takes the first language
    of a random therapist and, as needed, that therapist's city or the modality "either".
    """
    keys, inverse = client_groups(language, modality, city)
    dead = np.array([not _reaches_anyone(roster, k) for k in keys.tolist()])
    broken = np.flatnonzero(dead[inverse]) if dead.size else np.array([], dtype=np.intp)
    if broken.size == 0:
        return
    either = MODALITIES.index("either")
    j = rng.integers(0, roster.telehealth.size, size=broken.size)
    language[broken] = np.argmax(roster.languages[j], axis=1)
    tele = roster.telehealth[j]
    wants_in_person = modality[broken] == MODALITIES.index("in_person")
    wants_tele = modality[broken] == MODALITIES.index("telehealth")
    modality[broken] = np.where(
        (tele & wants_in_person) | (~tele & wants_tele), either, modality[broken]
    )
    city[broken] = np.where(tele, city[broken], roster.city[j])


def _story_texts(
    rng: np.random.Generator, bank: PhraseBank, concerns: list[list[str]]
) -> list[str]:
    """2-4 sentences a client: one per concern plus context."""
    n = len(concerns)
    u = rng.random((n, 3)).tolist()
    n_target = rng.integers(0, 3, size=n).tolist()
    context = np.argsort(rng.random((n, len(bank.story_context))), axis=1)[:, :3].tolist()
    months = rng.integers(2, 25, size=n).tolist()
    lead = rng.random(n).tolist()
    texts: list[str] = []
    for tags, uu, extra, ctx, mo, ld in zip(
        concerns, u, n_target, context, months, lead, strict=True
    ):
        parts = [pick(bank.stories[tag], x) for tag, x in zip(tags, uu, strict=False)]
        total = max(2, len(parts)) + extra
        total = min(4, max(total, len(parts)))
        extras = [bank.story_context[k].format(months=mo) for k in ctx[: total - len(parts)]]
        # Usually the concern comes first; sometimes the context leads.
        texts.append(" ".join(extras[:1] + parts + extras[1:] if ld < 0.25 else parts + extras))
    return texts


def _hopes_texts(
    rng: np.random.Generator, bank: PhraseBank, preference: np.ndarray, strength: np.ndarray
) -> list[str]:
    """1-3 sentences a client: their strongest axes, sometimes a generic wish."""
    n, n_axes = preference.shape
    level = levels(preference, rng)
    para = paraphrase_index(bank.client, level, rng)
    by_strength = np.argsort(-(strength + rng.normal(0.0, 0.1, strength.shape)), axis=1)
    m = choice(rng, n, [0.3, 0.4, 0.3]) + 1
    generic = rng.random(n) < 0.3
    generic_idx = rng.integers(0, len(bank.generic_hopes), size=n)
    keys = rng.random((n, n_axes)).tolist()
    texts: list[str] = []
    for lv, pa, order, k, gen, gi, key in zip(
        level.tolist(),
        para.tolist(),
        by_strength.tolist(),
        m.tolist(),
        generic.tolist(),
        generic_idx.tolist(),
        keys,
        strict=True,
    ):
        parts = [bank.client[a][lv[a]][pa[a]] for a in order[:k]]
        if gen and k < 3:
            parts.append(bank.generic_hopes[gi])
        ranked = sorted(range(len(parts)), key=key.__getitem__)
        texts.append(" ".join(parts[r] for r in ranked))
    return texts


def simulate_clients(
    n: int,
    roster: Roster,
    rng: np.random.Generator,
    text_rng: np.random.Generator,
    repair_rng: np.random.Generator,
    *,
    bank: PhraseBank,
) -> Clients:
    """Draw ``n`` clients, every one reachable by at least one therapist of ``roster``.

    Parameters
    ----------
    n : int
        Number of clients.
    roster : Roster
        The therapists (for languages present and reachability).
    rng, text_rng, repair_rng : numpy.random.Generator
        The clients' stream, their texts' stream and the reachability repairs' stream.
    bank : PhraseBank
        Sentences of the ``story`` and ``hopes`` texts.
    """
    n_axes, n_concerns = len(STYLE_AXES), len(CONCERN_TAGS)

    preference = np.clip(rng.normal(0.0, 1.5, size=(n, n_axes)), STYLE_MIN, STYLE_MAX)
    states = rng.random((n, n_axes)) < CLIENT_STATES_AXIS_RATE
    strength = np.where(
        states, rng.uniform(0.4, 1.0, (n, n_axes)), rng.uniform(0.0, 0.25, (n, n_axes))
    )
    stated = np.clip(np.rint(preference), -3, 3).astype(int)

    popularity = np.array([CONCERN_POPULARITY[c] for c in CONCERN_TAGS])
    order = gumbel_order(rng, np.broadcast_to(np.log(popularity), (n, n_concerns)))[:, :3]
    k = choice(rng, n, [0.45, 0.35, 0.2]) + 1
    free = rng.random(n) < FREE_CONCERN_RATE
    free_tag = rng.integers(0, len(FREE_CONCERNS), size=n)
    free_pos = (rng.random(n) * k).astype(int)
    free_names = list(FREE_CONCERNS)
    concern_lists: list[list[str]] = []
    for row, kk, fr, ft, fp in zip(
        order.tolist(),
        k.tolist(),
        free.tolist(),
        free_tag.tolist(),
        free_pos.tolist(),
        strict=True,
    ):
        tags = [CONCERN_TAGS[c] for c in row[:kk]]
        if fr:
            tags[fp] = free_names[ft]
        concern_lists.append(tags)
    # Map each drawn tag (fixed, or free at index K + f) onto the fixed tag the truth uses.
    tag_index = {t: i for i, t in enumerate(CONCERN_TAGS)}
    canon = np.array(
        [tag_index[t] for t in CONCERN_TAGS] + [tag_index[FREE_CONCERNS[f]] for f in free_names]
    )
    raw = order.copy()
    raw[np.arange(n), free_pos] = np.where(free, n_concerns + free_tag, raw[np.arange(n), free_pos])
    mapped = canon[raw]
    concerns = np.zeros((n, n_concerns), dtype=bool)
    in_list = np.arange(3)[None, :] < k[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], mapped.shape)
    concerns[rows[in_list], mapped[in_list]] = True
    primary = mapped[:, 0]

    present = roster.languages.any(axis=0)
    language = choice(rng, n, CLIENT_LANGUAGE_W * present)
    modality = choice(rng, n, [0.3, 0.25, 0.45])  # telehealth, in_person, either
    city = choice(rng, n, CITY_WEIGHTS)
    _repair_unreachable(repair_rng, roster, language, modality, city)

    slot_w = np.array([1.6 if s.endswith("eve") else 1.0 for s in SLOTS])
    availability = subset_mask(rng, n, slot_w, 1, 8)
    availability &= (rng.random(n) >= 0.15)[:, None]
    insurance = np.where(rng.random(n) < 0.6, rng.integers(0, len(INSURERS), size=n), -1)
    max_fee = np.where(rng.random(n) < 0.5, 80 + 10 * rng.integers(0, 18, size=n), -1)
    pref_gender = np.where(rng.random(n) < 0.3, choice(rng, n, [0.7, 0.25, 0.05]), -1)
    gender_required = (pref_gender >= 0) & (rng.random(n) < 0.35)
    lgbtq_required = rng.random(n) < 0.12
    faith = np.where(rng.random(n) < 0.08, rng.integers(0, len(FAITHS), size=n), -1)

    data: dict[str, list[str]] = {
        "client_id": ids("C", n, 5),
        "concerns": [LIST_SEPARATOR.join(tags) for tags in concern_lists],
        "story": _story_texts(text_rng, bank, concern_lists),
        "hopes": _hopes_texts(text_rng, bank, preference, strength),
        "language": [LANGUAGES[x] for x in language.tolist()],
        "modality": [MODALITIES[x] for x in modality.tolist()],
        "city": [CITIES[x] for x in city.tolist()],
        "availability": join_mask(availability, SLOTS),
        "insurance": [INSURERS[x] if x >= 0 else "" for x in insurance.tolist()],
        "max_fee": ints_or_blank(max_fee, max_fee >= 0),
        "therapist_gender": [GENDERS[g] if g >= 0 else "" for g in pref_gender.tolist()],
        "gender_required": yes_no(gender_required),
        "lgbtq_affirming_required": yes_no(lgbtq_required),
        "faith": [FAITHS[f] if f >= 0 else "" for f in faith.tolist()],
    }
    for a, axis in enumerate(STYLE_AXES):
        data[axis] = ints_or_blank(stated[:, a], states[:, a])
    return Clients(
        frame=frame(INTAKE_COLUMNS, data),
        preference=preference,
        strength=strength,
        concerns=concerns,
        primary=primary,
        language=language,
        modality=modality,
        city=city,
    )
