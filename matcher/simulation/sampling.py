"""Vectorised sampling helpers and the string cells of the simulated tables."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress

import numpy as np
import pandas as pd

from ..vocab import LIST_SEPARATOR
from .phrases import Ladder
from .vocabulary import LEVEL_EDGES, TEXT_LEVEL_SLIP

# ---------------------------------------------------------------------------- sampling


def choice(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """``n`` category indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), w.size - 1)


def gumbel_order(rng: np.random.Generator, log_weights: np.ndarray) -> np.ndarray:
    """Per-row random order of the columns; its first ``k`` are a weighted draw of ``k``
    items without replacement (Gumbel top-k). ``log_weights`` is ``(m,)`` or ``(n, m)``."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    return np.argsort(-keys, axis=1, kind="stable")


def order_to_mask(order: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean mask of the first ``k[i]`` columns of ``order[i]``."""
    n, m = order.shape
    mask = np.zeros((n, m), dtype=bool)
    taken = np.arange(m)[None, :] < k[:, None]
    np.put_along_axis(mask, order, taken, axis=1)
    return mask


def subset_mask(
    rng: np.random.Generator, n: int, weights: np.ndarray, low: int, high: int
) -> np.ndarray:
    """``(n, m)`` mask with between ``low`` and ``high`` (inclusive) weighted items a row."""
    log_w = np.broadcast_to(np.log(np.asarray(weights, dtype=np.float64)), (n, len(weights)))
    k = rng.integers(low, high + 1, size=n)
    return order_to_mask(gumbel_order(rng, log_w), k)


def levels(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phrase level 0..4 of each latent value, moved one step with a small probability."""
    found = np.digitize(values, LEVEL_EDGES)
    slip = rng.random(values.shape) < TEXT_LEVEL_SLIP
    step = np.where(rng.random(values.shape) < 0.5, -1, 1)
    return np.clip(found + slip * step, 0, 4)


def paraphrase_index(bank: Ladder, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform paraphrase index for each (row, axis) at the given level."""
    sizes = np.array([[len(paraphrases) for paraphrases in axis] for axis in bank])  # (4, 5)
    n_para = sizes[np.arange(level.shape[1])[None, :], level]
    return (rng.random(level.shape) * n_para).astype(np.intp)


def pick(options: Sequence[str], u: float) -> str:
    """The option a uniform draw ``u`` in [0, 1) falls on."""
    return options[int(u * len(options))]


# ---------------------------------------------------------------------------- cells


def join_mask(mask: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Rows of a boolean mask as ``;``-joined labels (in ``labels`` order)."""
    names = list(labels)
    return [LIST_SEPARATOR.join(compress(names, row)) for row in mask.tolist()]


def yes_no(flags: np.ndarray) -> list[str]:
    return np.where(flags, "yes", "no").tolist()


def ints_or_blank(values: np.ndarray, given: np.ndarray) -> list[str]:
    return [str(v) if g else "" for v, g in zip(values.tolist(), given.tolist(), strict=True)]


def one_decimal_or_blank(values: np.ndarray, given: np.ndarray) -> list[str]:
    rounded = np.round(values, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [f"{v:.1f}" if g else "" for v, g in zip(rounded.tolist(), given.tolist(), strict=True)]


def word_list(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def frame(columns: Sequence[str], data: dict[str, list[str]]) -> pd.DataFrame:
    """A table of string cells with exactly ``columns``, in that order.

    Columns the simulator does not model (licensure, age groups, region) are
    blank, which the contract reads as its documented default.
    """
    n = len(next(iter(data.values())))
    cells = {c: data.get(c, [""] * n) for c in columns}
    return pd.DataFrame(cells, columns=list(columns)).astype(str)


def ids(prefix: str, n: int, width: int) -> list[str]:
    """``prefix`` + 1-based zero-padded numbers (wider if ``n`` needs it)."""
    width = max(width, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]
