"""Geometry and words for the small style chart drawn beside each therapist.

The chart itself is an inline SVG in ``templates/_style_chart.html``; this
module only computes positions and the text alternative, so it is pure and
easy to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matcher.vocab import STYLE_MAX, STYLE_MIN

from .wording import STYLE_ITEMS

WIDTH = 340
ROW_HEIGHT = 58
_LEFT, _RIGHT = 12.0, WIDTH - 12.0
_PAD = 12.0  # keeps markers at ±3 inside the drawing


@dataclass(frozen=True)
class AxisRow:
    """One axis of the chart. ``you_x`` is None when the client has no preference."""

    title: str
    negative: str
    positive: str
    top: float
    line_y: float
    ticks: tuple[float, ...]
    middle: float
    you_x: float | None
    you_inferred: bool
    therapist_x: float


@dataclass(frozen=True)
class StyleChart:
    rows: tuple[AxisRow, ...]
    width: int
    height: int
    left: float
    right: float
    title: str
    description: str

    @property
    def has_inferred(self) -> bool:
        """Whether any of the client's markers was estimated from their words."""
        return any(row.you_inferred and row.you_x is not None for row in self.rows)


def _x(value: float) -> float:
    value = min(max(float(value), STYLE_MIN), STYLE_MAX)
    span = _RIGHT - _LEFT - 2 * _PAD
    return round(_LEFT + _PAD + (value - STYLE_MIN) / (STYLE_MAX - STYLE_MIN) * span, 1)


def _position(value: float, negative: str, positive: str) -> str:
    size = abs(value)
    if size < 0.5:
        return "in the middle"
    strength = "strongly" if size >= 2.5 else "clearly" if size >= 1.5 else "slightly"
    return f"{strength} towards “{positive if value > 0 else negative}”"


def style_chart(
    client_style: Sequence[float],
    client_source: Sequence[str],
    therapist_style: Sequence[float],
    therapist_name: str,
) -> StyleChart:
    """The chart comparing a client's wishes with one therapist's way of working.

    Parameters
    ----------
    client_style, therapist_style : four values in [-3, 3], ``STYLE_AXES`` order
    client_source : four of "stated", "inferred", "none" (no preference)
    """
    rows = []
    sentences = []
    for i, item in enumerate(STYLE_ITEMS):
        top = i * ROW_HEIGHT
        source = client_source[i] if i < len(client_source) else "none"
        you = None if source == "none" else float(client_style[i])
        theirs = float(therapist_style[i])
        rows.append(
            AxisRow(
                title=item.title,
                negative=item.short_negative,
                positive=item.short_positive,
                top=top,
                line_y=top + 30,
                ticks=tuple(_x(v) for v in range(-3, 4)),
                middle=_x(0),
                you_x=None if you is None else _x(you),
                you_inferred=source == "inferred",
                therapist_x=_x(theirs),
            )
        )
        negative, positive = item.short_negative, item.short_positive
        if you is None:
            wish = "you have no preference"
        else:
            wish = f"you would like {_position(you, negative, positive)}"
            if source == "inferred":
                wish += " (estimated from what you wrote)"
        sentences.append(
            f"{item.title}: {wish}; {therapist_name} works {_position(theirs, negative, positive)}."
        )
    return StyleChart(
        rows=tuple(rows),
        width=WIDTH,
        height=len(rows) * ROW_HEIGHT,
        left=_LEFT,
        right=_RIGHT,
        title=f"How {therapist_name}'s way of working compares with what you would like",
        description=" ".join(sentences),
    )
