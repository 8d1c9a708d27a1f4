"""The simulated roster: therapists' latent style, effects, effectiveness and profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..vocab import CONCERN_TAGS, SLOTS, STYLE_AXES, STYLE_MAX, STYLE_MIN, THERAPIST_COLUMNS
from .phrases import SETTINGS, PhraseBank, load_names
from .sampling import (
    choice,
    frame,
    gumbel_order,
    ids,
    ints_or_blank,
    join_mask,
    levels,
    order_to_mask,
    paraphrase_index,
    pick,
    subset_mask,
    word_list,
    yes_no,
)
from .vocabulary import (
    CITIES,
    CITY_WEIGHTS,
    CONCERN_POPULARITY,
    FAITHS,
    GENDERS,
    INSURERS,
    LANGUAGES,
    MODALITY_LOADINGS,
    POOR_THERAPIST_RATE,
    SELF_RATING_RATE,
    THERAPIST_LANGUAGE_P,
    THERAPY_MODALITIES,
)

__all__ = ["Roster", "simulate_roster"]


@dataclass(frozen=True)
class Roster:
    """The therapists' table and the latent arrays behind it (rows aligned)."""

    frame: pd.DataFrame
    style: np.ndarray  # (n_t, 4) latent style t
    effect: np.ndarray  # (n_t,) click effect u
    specialties: np.ndarray  # (n_t, K) bool
    effectiveness: np.ndarray  # (n_t, K)
    poor: np.ndarray  # (n_t,) bool
    languages: np.ndarray  # (n_t, n_languages) bool
    telehealth: np.ndarray
    in_person: np.ndarray
    city: np.ndarray  # int index into CITIES


def _therapist_names(rng: np.random.Generator, gender: np.ndarray) -> list[str]:
    names_bank = load_names()
    n = gender.size
    u_first = rng.random(n)
    banks = (names_bank.women, names_bank.men, names_bank.neutral)
    neutral_for_binary = rng.random(n) < 0.08
    last = rng.integers(0, len(names_bank.last), size=n)
    initials = names_bank.initials
    initial = np.where(rng.random(n) < 0.12, rng.integers(0, len(initials), size=n), -1)
    form = choice(rng, n, [0.3, 0.45, 0.25])  # Dr. / credential / plain
    cred = rng.integers(0, len(names_bank.credentials), size=n)
    names: list[str] = []
    for g, u, neutral, ln, ini, f, c in zip(
        gender.tolist(),
        u_first.tolist(),
        neutral_for_binary.tolist(),
        last.tolist(),
        initial.tolist(),
        form.tolist(),
        cred.tolist(),
        strict=True,
    ):
        first = pick(banks[2] if (g == 2 or neutral) else banks[g], u)
        middle = f" {initials[ini]}." if ini >= 0 else ""
        full = f"{first}{middle} {names_bank.last[ln]}"
        if f == 0:
            names.append(f"Dr. {full}")
        elif f == 1:
            names.append(f"{full}, {names_bank.credentials[c]}")
        else:
            names.append(full)
    return names


def _approach_texts(
    rng: np.random.Generator,
    bank: PhraseBank,
    style: np.ndarray,
    specialties: np.ndarray,
    modalities_mask: np.ndarray,
    telehealth: np.ndarray,
    in_person: np.ndarray,
    city: np.ndarray,
) -> list[str]:
    """3-6 sentences a therapist: style sentences and fillers, in random order."""
    n = style.shape[0]
    n_axes = len(STYLE_AXES)
    level = levels(style, rng)
    para = paraphrase_index(bank.therapist, level, rng)
    include_p = np.where(level == 2, 0.5, 0.85)
    include = rng.random((n, n_axes)) < include_p
    axis_order = np.argsort(rng.random((n, n_axes)), axis=1)
    n_sentences = rng.integers(3, 7, size=n)
    filler_order = 1 + np.argsort(rng.random((n, 3)), axis=1)  # 0 (specialties) always first
    final_keys = rng.random((n, 8))
    u_tmpl = rng.random((n, 4))
    years = rng.integers(2, 31, size=n)
    job = rng.integers(0, len(bank.jobs), size=n)
    spec_order = np.argsort(rng.random(specialties.shape) - specialties, axis=1)[:, :3]
    n_spec = np.minimum(specialties.sum(axis=1), rng.integers(1, 4, size=n))
    mod_order = np.argsort(rng.random(modalities_mask.shape) - modalities_mask, axis=1)[:, :3]
    n_mod = np.minimum(modalities_mask.sum(axis=1), rng.integers(1, 4, size=n))
    setting = np.where(telehealth & in_person, 0, np.where(telehealth, 1, 2)).tolist()

    texts: list[str] = []
    rows = zip(
        level.tolist(),
        para.tolist(),
        include.tolist(),
        axis_order.tolist(),
        n_sentences.tolist(),
        filler_order.tolist(),
        final_keys.tolist(),
        u_tmpl.tolist(),
        spec_order.tolist(),
        n_spec.tolist(),
        mod_order.tolist(),
        n_mod.tolist(),
        strict=True,
    )
    for i, (
        lv,
        pa,
        inc,
        ax_ord,
        n_sent,
        fill_ord,
        keys,
        ut,
        sp_ord,
        n_sp,
        md_ord,
        n_md,
    ) in enumerate(rows):
        axis_sentences = [bank.therapist[a][lv[a]][pa[a]] for a in ax_ord if inc[a]]
        axis_sentences = axis_sentences[: n_sent - 1]  # room for the specialties
        n_fill = min(4, n_sent - len(axis_sentences))
        concerns = word_list([bank.concern_words[CONCERN_TAGS[k]] for k in sp_ord[:n_sp]])
        modalities = word_list([bank.modality_words[THERAPY_MODALITIES[k]] for k in md_ord[:n_md]])
        fillers = (
            pick(bank.specialty, ut[0]).format(concerns=concerns),
            pick(bank.training, ut[1]).format(modalities=modalities),
            pick(bank.setting[SETTINGS[setting[i]]], ut[2]).format(city=CITIES[city[i]]),
            pick(bank.experience, ut[3]).format(years=years[i], job=bank.jobs[job[i]]),
        )
        chosen = axis_sentences + [fillers[0]] + [fillers[k] for k in fill_ord[: n_fill - 1]]
        order = sorted(range(len(chosen)), key=keys.__getitem__)
        texts.append(" ".join(chosen[k] for k in order))
    return texts


def simulate_roster(
    n: int,
    rng: np.random.Generator,
    text_rng: np.random.Generator,
    *,
    bank: PhraseBank,
    therapist_sd: float,
) -> Roster:
    """Draw ``n`` therapists.

    Parameters
    ----------
    n : int
        Number of therapists.
    rng, text_rng : numpy.random.Generator
        The roster's stream and its texts' stream (texts never move the latent draws).
    bank : PhraseBank
        Sentences of the ``approach`` texts.
    therapist_sd : float
        Standard deviation of the click effect ``u``. It scales one standard-normal draw,
        so every regime sees the same draws from ``rng``.
    """
    n_axes, n_concerns = len(STYLE_AXES), len(CONCERN_TAGS)

    corr = np.eye(n_axes)
    for a, b, r in ((0, 3, 0.4), (1, 2, 0.35), (0, 2, -0.2)):
        corr[a, b] = corr[b, a] = r
    style = rng.standard_normal((n, n_axes)) @ np.linalg.cholesky(corr).T * 1.4
    style = np.clip(style, STYLE_MIN, STYLE_MAX)
    rates = rng.random(n) < SELF_RATING_RATE
    self_rating = np.clip(np.rint(style + rng.uniform(-1.0, 1.0, style.shape)), -3, 3)
    self_rating = self_rating.astype(int)

    popularity = np.array([CONCERN_POPULARITY[c] for c in CONCERN_TAGS]) ** 0.6
    specialties = subset_mask(rng, n, popularity, 2, 5)
    mod_logw = 0.6 * style @ MODALITY_LOADINGS.T
    modalities = order_to_mask(gumbel_order(rng, mod_logw), rng.integers(1, 5, size=n))

    effect = rng.normal(0.0, therapist_sd, size=n)
    poor = rng.random(n) < POOR_THERAPIST_RATE
    general = np.where(poor, rng.normal(-3.0, 0.3, size=n), rng.normal(0.0, 0.4, size=n))
    specific = rng.normal(0.0, 0.6, size=(n, n_concerns))
    standout = rng.random((n, n_concerns)) < 0.06
    standout_sign = np.where(rng.random((n, n_concerns)) < 0.5, -1.0, 1.0)
    standout_size = rng.uniform(2.0, 3.5, size=(n, n_concerns)) * standout_sign
    specific = specific + standout * standout_size
    effectiveness = general[:, None] + specific + 0.5 * specialties

    gender = choice(rng, n, [0.6, 0.33, 0.07])
    languages = rng.random((n, len(LANGUAGES))) < THERAPIST_LANGUAGE_P[None, :]
    # About 4% (15% of those with another language) do not also work in English.
    no_english = languages[:, 1:].any(axis=1) & (rng.random(n) < 0.15)
    languages[:, 0] &= ~no_english
    telehealth = rng.random(n) < 0.75
    in_person = (rng.random(n) < 0.7) | ~telehealth
    city = choice(rng, n, CITY_WEIGHTS)
    slot_w = np.array([1.4 if s.endswith("eve") else 1.0 for s in SLOTS])
    slot_w *= np.array([0.4 if s.startswith(("sat", "sun")) else 1.0 for s in SLOTS])
    availability = subset_mask(rng, n, slot_w, 4, 10)
    n_ins = choice(rng, n, [0.2, 0.25, 0.3, 0.25])  # 0..3 insurers, 0 = blank
    insurance = order_to_mask(gumbel_order(rng, np.zeros((n, len(INSURERS)))), n_ins)
    fee = 70 + 5 * rng.integers(0, 31, size=n)
    sliding = rng.random(n) < 0.4
    capacity = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 7, size=n))
    lgbtq = rng.random(n) < 0.85
    faith = np.where(rng.random(n) < 0.12, rng.integers(0, len(FAITHS), size=n), -1)

    names = _therapist_names(rng, gender)
    approach = _approach_texts(
        text_rng, bank, style, specialties, modalities, telehealth, in_person, city
    )

    data: dict[str, list[str]] = {
        "therapist_id": ids("T", n, 4),
        "name": names,
        "gender": [GENDERS[g] for g in gender.tolist()],
        "languages": join_mask(languages, LANGUAGES),
        "specialties": join_mask(specialties, CONCERN_TAGS),
        "modalities": join_mask(modalities, THERAPY_MODALITIES),
        "approach": approach,
        "telehealth": yes_no(telehealth),
        "in_person": yes_no(in_person),
        "city": [CITIES[c] for c in city.tolist()],
        "availability": join_mask(availability, SLOTS),
        "insurance": join_mask(insurance, INSURERS),
        "fee": [str(v) for v in fee.tolist()],
        "sliding_scale": yes_no(sliding),
        "capacity": [str(v) for v in capacity.tolist()],
        "lgbtq_affirming": yes_no(lgbtq),
        "faith": [FAITHS[f] if f >= 0 else "" for f in faith.tolist()],
    }
    for a, axis in enumerate(STYLE_AXES):
        data[axis] = ints_or_blank(self_rating[:, a], rates)
    return Roster(
        frame=frame(THERAPIST_COLUMNS, data),
        style=style,
        effect=effect,
        specialties=specialties,
        effectiveness=effectiveness,
        poor=poor,
        languages=languages,
        telehealth=telehealth,
        in_person=in_person,
        city=city,
    )
