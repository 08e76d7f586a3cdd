"""Trusted and untrusted text: what our own code wrote versus what came from users or bank files.

Every string in a `Message` is untrusted unless it is a `Markup` (MarkupSafe's model, Jinja's
`Markup`/`escape`): each platform renderer escapes untrusted text for its format with one helper,
so a display name, a form comment or a bank file's prompt can never become a channel-wide ping, a
disguised link or a terminal control sequence. `Markup.format` keeps its arguments untrusted, so

    Markup("Started mock `#{}` for {}").format(number, display_name)

renders the backticks as code on every platform and the display name escaped. The core never
knows the target format; renderers call `render(text, escape)`.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from typing import Any, SupportsIndex

Segment = tuple[str, bool]  # (text, trusted)


class Markup(str):
    """Text whose markup our own code wrote. Anything combined with it stays untrusted."""

    segments: tuple[Segment, ...]

    def __new__(cls, text: str = "", segments: Iterable[Segment] | None = None) -> Markup:
        parts = tuple(segments) if segments is not None else ((str(text), True),)
        merged = cls._merge(parts)
        obj = super().__new__(cls, "".join(part for part, _ in merged))
        obj.segments = merged
        return obj

    @staticmethod
    def _merge(parts: Iterable[Segment]) -> tuple[Segment, ...]:
        merged: list[Segment] = []
        for text, trusted in parts:
            if not text:
                continue
            if merged and merged[-1][1] == trusted:
                merged[-1] = (merged[-1][0] + text, trusted)
            else:
                merged.append((text, trusted))
        return tuple(merged)

    def format(self, *args: object, **kwargs: object) -> Markup:
        """Like `str.format`, with every replacement field kept untrusted (unless it is Markup)."""
        parts: list[Segment] = []
        auto = 0
        for literal, field, spec, conversion in string.Formatter().parse(str(self)):
            parts.append((literal, True))
            if field is None:
                continue
            if field == "":
                field, auto = str(auto), auto + 1
            value: Any = _lookup(field, args, kwargs)
            if conversion == "r":
                value = repr(value)
            elif conversion in ("s", "a"):
                value = str(value) if conversion == "s" else ascii(value)
            if isinstance(value, Markup) and not spec:
                parts.extend(value.segments)
            else:
                parts.append((format(value, spec or ""), False))
        return Markup(segments=parts)

    def __add__(self, other: str) -> Markup:
        return Markup(segments=(*self.segments, *segments(other)))

    def __radd__(self, other: str) -> Markup:
        return Markup(segments=(*segments(other), *self.segments))

    def join(self, items: Iterable[str]) -> Markup:
        parts: list[Segment] = []
        for index, item in enumerate(items):
            if index:
                parts.extend(self.segments)
            parts.extend(segments(item))
        return Markup(segments=parts)

    def __mul__(self, count: SupportsIndex) -> Markup:
        return Markup(segments=self.segments * int(count))


def _lookup(field: str, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
    if not field.isidentifier() and not field.isdigit():
        raise ValueError(f"Markup.format takes plain fields only, not {field!r}")
    return args[int(field)] if field.isdigit() else kwargs[field]


def segments(text: str) -> tuple[Segment, ...]:
    """A text's trusted and untrusted parts; a plain `str` is one untrusted part."""
    if isinstance(text, Markup):
        return text.segments
    return ((str(text), False),) if text else ()


def render(text: str, escape: Callable[[str], str]) -> str:
    """The text for one platform: trusted parts as written, untrusted parts through `escape`."""
    return "".join(part if trusted else escape(part) for part, trusted in segments(text))
