"""Text that is data: wording, pole descriptions, labelled sentences and phrase banks.

Every such file is TOML under a package's ``data/`` folder, shipped as package
data so an installed wheel has it, read once per process.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from .vocab import STYLE_AXES


@cache
def load_toml(name: str, package: str = "matcher") -> dict[str, Any]:
    """The parsed ``<package>/data/<name>.toml`` (cached; treat it as read-only).

    Raises
    ------
    FileNotFoundError
        When the package has no such data file.
    """
    resource = files(package).joinpath("data", f"{name}.toml")
    with resource.open("rb") as handle:
        return tomllib.load(handle)


@dataclass(frozen=True)
class StyleAxisText:
    """Every wording of one style axis (``data/style_axes.toml``).

    ``wants`` and ``does`` are indexed by the sign of a preference or style:
    ``wants[-1]``, ``wants[0]``, ``wants[1]``.
    """

    name: str
    title: str
    question: str
    negative: str  # the -3 end, in the client's voice
    positive: str  # the +3 end
    short_negative: str
    short_positive: str
    meaning_negative: str
    meaning_positive: str
    wants: dict[int, str]
    does: dict[int, str]
    anchors_negative: tuple[str, ...]
    anchors_positive: tuple[str, ...]


@cache
def style_axes() -> dict[str, StyleAxisText]:
    """The four axes' wording, keyed and ordered as ``vocab.STYLE_AXES``.

    Raises
    ------
    ValueError
        When the data file names other axes or another order than the vocabulary.
    """
    entries = load_toml("style_axes")["axis"]
    names = tuple(entry["name"] for entry in entries)
    if names != STYLE_AXES:
        raise ValueError(f"data/style_axes.toml names the axes {names}, expected {STYLE_AXES}")
    axes = {}
    for entry in entries:
        fields = dict(entry)
        for key in ("wants", "does"):
            fields[key] = dict(zip((-1, 0, 1), fields[key], strict=True))
        for key in ("anchors_negative", "anchors_positive"):
            fields[key] = tuple(fields[key])
        axes[entry["name"]] = StyleAxisText(**fields)
    return axes
