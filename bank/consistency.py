"""Back-of-envelope checks over bank text: a daily volume and a per-second rate must agree.

A question that says "50 million searches a day" and "peaks at 20,000 searches per second"
contradicts itself (50M / 86,400 s is about 580 per second on average). Interviewers repeat such
numbers to candidates, so the bank's own arithmetic has to hold. Rates are paired by the noun
they count; a system-wide per-second figure must lie between half and twenty times the average of
some daily figure of that noun (the band for "average" to "peak"). Figures for one unit ("each
moderator reviews 250 items a day", "270 requests/s per GPU") and data volumes are not compared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400
LOW, HIGH = 0.5, 20.0

_SCALE = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mn": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12,
}  # fmt: skip
_NUMBER = (
    r"(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>k|thousand|m|mn|million|b|bn|billion|t|trillion)?"
)
_NOUN = r"(?P<noun>(?:[a-z][a-z-]*\s+){0,2}?[a-z][a-z-]*)"
_PER_DAY = r"\b(?:per|a|each|every)\s+day\b|\bdaily\b|/\s?day\b"
_PER_SECOND = r"\b(?:per|a|each|every)\s+second\b|/\s?s(?:ec)?\b"
_RATE = re.compile(
    rf"(?<![\w.,]){_NUMBER}\s+{_NOUN}\s*(?:(?P<day>{_PER_DAY})|(?P<second>{_PER_SECOND}))",
    re.IGNORECASE,
)
_SHORT = re.compile(rf"(?<![\w.,]){_NUMBER}\s*(?P<unit>qps|rps)\b", re.IGNORECASE)
_SHORT_NOUN = {"qps": "query", "rps": "request"}
_SAME = {"queries": "query", "searches": "search", "requests": "request"}


@dataclass(frozen=True)
class Rate:
    noun: str
    per_second: float
    daily: bool
    text: str
    scoped: bool = False  # one unit's share ("each moderator reviews 250 a day", "270/s per GPU")


_BYTES = {"b", "byte", "kb", "mb", "gb", "tb", "pb"}
_SCOPE_BEFORE = re.compile(r"\b(?:each|every)\s+(?:[a-z-]+\s+){0,3}$", re.IGNORECASE)
_SCOPE_AFTER = re.compile(r"^\s*(?:per|each|a|on\s+[\d,]+)\s+[a-z]", re.IGNORECASE)


def _scoped(text: str, start: int, end: int) -> bool:
    """A figure for one unit rather than the whole system: "each moderator checks" just before
    it, or "per GPU" / "on 50 cores" just after it."""
    return bool(
        _SCOPE_BEFORE.search(text[max(0, start - 40) : start])
        or _SCOPE_AFTER.match(text[end : end + 25])
    )


def _head(noun: str) -> str:
    word = noun.split()[-1].lower()
    if word in _SAME:
        return _SAME[word]
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _value(num: str, scale: str | None) -> float:
    return float(num.replace(",", "")) * _SCALE.get((scale or "").lower(), 1.0)


def rates_in(text: str) -> list[Rate]:
    """Every "N <things> per day|second" (and "N qps/rps") in `text`, as per-second rates."""
    found = []
    for match in _RATE.finditer(text):
        noun = _head(match["noun"])
        if noun in _BYTES:  # data volumes are per device as often as per system
            continue
        value = _value(match["num"], match["scale"])
        daily = match["day"] is not None
        per_second = value / SECONDS_PER_DAY if daily else value
        scoped = _scoped(text, match.start(), match.end())
        found.append(Rate(noun, per_second, daily, match.group(0), scoped))
    for match in _SHORT.finditer(text):
        value = _value(match["num"], match["scale"])
        scoped = _scoped(text, match.start(), match.end())
        found.append(Rate(_SHORT_NOUN[match["unit"].lower()], value, False, match.group(0), scoped))
    return found


def rate_problems(slug: str, text: str) -> list[str]:
    """One line per system-wide per-second figure that fits no daily figure of the same noun
    (within [0.5, 20] x its average). Figures for one unit ("each", "per GPU") are not compared."""
    by_noun: dict[str, list[Rate]] = defaultdict(list)
    for rate in rates_in(text):
        if not rate.scoped:
            by_noun[rate.noun].append(rate)
    problems = []
    for noun, rates in by_noun.items():
        daily = [r for r in rates if r.daily]
        for second in (r for r in rates if not r.daily):
            ratios = [second.per_second / d.per_second for d in daily if d.per_second]
            if ratios and not any(LOW <= ratio <= HIGH for ratio in ratios):
                day = daily[0]
                problems.append(
                    f"{slug}: {second.text!r} is {ratios[0]:.2g}x the average of {day.text!r} "
                    f"({day.per_second:,.0f} {noun}/s); expected {LOW:g}-{HIGH:g}x"
                )
    return problems
