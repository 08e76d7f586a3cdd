"""Back-of-envelope checks over bank text: a daily volume and a per-second rate must agree.

A question that says "50 million searches a day" and "peaks at 20,000 searches per second"
contradicts itself (50M / 86,400 s is about 580 per second on average). Interviewers repeat such
numbers to candidates, so the bank's own arithmetic has to hold. Rates are paired by the noun
they count; a per-second figure must lie between half and twenty times the daily average
(the band for "average" to "peak").
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
        value = _value(match["num"], match["scale"])
        daily = match["day"] is not None
        per_second = value / SECONDS_PER_DAY if daily else value
        found.append(Rate(_head(match["noun"]), per_second, daily, match.group(0)))
    for match in _SHORT.finditer(text):
        value = _value(match["num"], match["scale"])
        found.append(Rate(_SHORT_NOUN[match["unit"].lower()], value, False, match.group(0)))
    return found


def rate_problems(slug: str, text: str) -> list[str]:
    """One line per per-second figure outside [0.5, 20] x the daily average of the same noun."""
    by_noun: dict[str, list[Rate]] = defaultdict(list)
    for rate in rates_in(text):
        by_noun[rate.noun].append(rate)
    problems = []
    for noun, rates in by_noun.items():
        daily = [r for r in rates if r.daily]
        for second in (r for r in rates if not r.daily):
            for day in daily:
                ratio = second.per_second / day.per_second if day.per_second else float("inf")
                if not LOW <= ratio <= HIGH:
                    problems.append(
                        f"{slug}: {second.text!r} is {ratio:.2g}x the average of {day.text!r} "
                        f"({day.per_second:,.0f} {noun}/s); expected {LOW:g}-{HIGH:g}x"
                    )
    return problems
