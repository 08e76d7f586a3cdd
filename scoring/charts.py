"""Progress charts as PNG bytes (matplotlib, headless Agg backend): a radar and a line chart."""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from scoring.progress import MockScore
from scoring.rubric import Rubric

MAX_TICK_LABELS = 12
CACHED_MEMBERS = 64  # two PNGs of ~30–60 kB each per entry: a few MB at most

_cache: OrderedDict[Hashable, tuple[bytes, bytes]] = OrderedDict()
_cache_lock = threading.Lock()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def radar_chart(history: Sequence[MockScore], rubric: Rubric, name: str) -> bytes:
    """The six criteria, first mock vs latest mock, on a 1–4 scale."""
    labels = [c.name for c in rubric.criteria]
    angles = [2 * math.pi * i / len(labels) for i in range(len(labels))]
    figure = Figure(figsize=(5.5, 5.5))
    axes = figure.add_subplot(projection="polar")
    series = [("first", history[0])] if history else []
    if len(history) > 1:
        series.append(("latest", history[-1]))
    for label, mock in series:
        values = [mock.criteria.get(c.id, 0.0) for c in rubric.criteria]
        axes.plot(
            [*angles, angles[0]],
            [*values, values[0]],
            linewidth=2,
            label=f"{label} (#{mock.number})",
        )
        axes.fill([*angles, angles[0]], [*values, values[0]], alpha=0.15)
    axes.set_xticks(angles)
    axes.set_xticklabels(labels, fontsize=8)
    axes.set_ylim(0, 4)
    axes.set_yticks([1, 2, 3, 4])
    axes.set_title(f"{name}: rubric scores", pad=18)
    if series:
        axes.legend(loc="lower right", bbox_to_anchor=(1.25, -0.1), fontsize=8)
    return _png(figure)


def trend_chart(history: Sequence[MockScore], name: str) -> bytes:
    """Weighted overall score per mock, in order."""
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    xs = list(range(1, len(history) + 1))
    axes.plot(xs, [m.overall for m in history], marker="o", linewidth=2)
    axes.set_ylim(1, 4)
    axes.set_xlabel("mock")
    axes.set_ylabel("weighted score (1–4)")
    step = max(1, len(history) // MAX_TICK_LABELS)  # labelling hundreds of mocks is slow
    shown = xs[::step]
    axes.set_xticks(shown, [f"#{history[x - 1].number}" for x in shown], fontsize=8)
    axes.grid(alpha=0.3)
    axes.set_title(f"{name}: overall score over time")
    return _png(figure)


def cached_charts(
    key: Hashable, history: Sequence[MockScore], rubric: Rubric, name: str
) -> tuple[bytes, bytes]:
    """(radar, trend) PNGs, drawn once per `key` and kept for the most recent members.

    The caller's key must change whenever the drawing would: the member, their name, and their
    latest stored result (a new or revised result), plus the criteria drawn. Drawing takes
    ~100 ms; a repeated `/mlsd progress` then costs only its queries.
    """
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    drawn = (radar_chart(history, rubric, name), trend_chart(history, name))
    with _cache_lock:
        _cache[key] = drawn
        while len(_cache) > CACHED_MEMBERS:
            _cache.popitem(last=False)
    return drawn
