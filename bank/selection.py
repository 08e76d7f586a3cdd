"""Which question to draw: for a channel's daily prompt, and for a member's mock.

The choice logic is pure (plain data in, a slug out, deterministic for a seed) so it is tested
over a simulated year without a database; the `*_for_*` functions load that data and call it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bank.models import DailyPrompt, Family, Interview, Question
from bank.schema import Level
from bank.view import visible
from bank.vocabulary import vocabulary

LEVELS = [level.value for level in Level]


@dataclass(frozen=True)
class Candidate:
    slug: str
    family: str
    level: str
    tags: tuple[str, ...] = ()


class UnknownTopic(LookupError):
    def __init__(self, topic: str, families: Sequence[str]) -> None:
        self.topic = topic
        self.families = list(families)
        super().__init__(
            f"no questions match {topic!r}. Known families: {', '.join(self.families)}"
        )


def _in_level_range(level: str, low: str | None, high: str | None) -> bool:
    index = LEVELS.index(level)
    return (low is None or index >= LEVELS.index(low)) and (
        high is None or index <= LEVELS.index(high)
    )


def choose_daily(
    candidates: Sequence[Candidate],
    history: Sequence[str],
    seed: str,
    level_min: str | None = None,
    level_max: str | None = None,
) -> Candidate | None:
    """No repeat until every eligible question was used; never the same family twice in a row.

    `history` lists the channel's past slugs, oldest first. Questions used least often form the
    pool (so a new cycle starts only once the pool is exhausted); within it, the last family is
    avoided when another one is available.
    """
    eligible = sorted(
        (c for c in candidates if _in_level_range(c.level, level_min, level_max)),
        key=lambda c: c.slug,
    )
    if not eligible:
        return None
    uses = Counter(slug for slug in history)
    fewest = min(uses[c.slug] for c in eligible)
    pool = [c for c in eligible if uses[c.slug] == fewest]
    by_slug = {c.slug: c for c in candidates}
    last_family = by_slug[history[-1]].family if history and history[-1] in by_slug else None
    # Prefer the families with the most questions left in this cycle: families interleave
    # evenly, and a large family is not left to the end, where it would have to repeat.
    remaining = Counter(c.family for c in pool)
    rotated = [c for c in pool if c.family != last_family]
    pool = rotated or pool
    most = max(remaining[c.family] for c in pool)
    pool = [c for c in pool if remaining[c.family] == most]
    return random.Random(seed).choice(pool)


_WORD = re.compile(r"[^a-z0-9]+")


def _norm(text: str) -> str:
    return _WORD.sub("-", text.casefold()).strip("-")


@dataclass(frozen=True)
class FamilyInfo:
    slug: str
    name: str
    aliases: tuple[str, ...]


def match_families(topic: str, families: Sequence[FamilyInfo]) -> list[str]:
    """Families a typed topic means: exact slug, name or alias first, then close spellings."""
    wanted = _norm(topic)
    names: dict[str, set[str]] = {}
    for family in families:
        for word in (family.slug, family.name, *family.aliases):
            names.setdefault(_norm(word), set()).add(family.slug)
        names.setdefault(_norm(family.slug.removesuffix("s")), set()).add(family.slug)
    if wanted in names:
        return sorted(names[wanted])
    prefixed = sorted({f for word, fams in names.items() if word.startswith(wanted) for f in fams})
    if prefixed and len(wanted) >= 3:
        return prefixed
    close = get_close_matches(wanted, list(names), n=3, cutoff=0.75)
    return sorted({f for word in close for f in names[word]})


def choose_mock(
    candidates: Sequence[Candidate],
    practised: Sequence[str] | Mapping[str, int],
    seed: str,
    topic_families: Sequence[str] | None = None,
    tag: str | None = None,
    weak_families: Sequence[str] = (),
    weak_concepts: Sequence[str] = (),
) -> Candidate | None:
    """Prefer the asked topic, then questions not practised, then what needs work.

    "Needs work" ranks a question by two hints from progress: it is in a family where the
    weakest criterion scored lowest, and it discusses concepts that exercise that criterion.
    """
    pool = list(candidates)
    if topic_families:
        pool = [c for c in pool if c.family in topic_families]
    elif tag:
        pool = [c for c in pool if tag in c.tags]
    if not pool:
        return None
    done = Counter(practised)
    fewest = min(done[c.slug] for c in pool)
    pool = [c for c in pool if done[c.slug] == fewest]
    concepts = set(weak_concepts)

    def need(c: Candidate) -> int:
        return (c.family in weak_families) + bool(concepts.intersection(c.tags))

    best = max(need(c) for c in pool)
    pool = sorted((c for c in pool if need(c) == best), key=lambda c: c.slug)
    return random.Random(seed).choice(pool)


def _candidates(session: Session, workspace_id: int | None) -> list[Candidate]:
    rows = session.execute(
        select(Question.slug, Family.slug, Question.level, Question.tags)
        .join(Family, Question.family_id == Family.id)
        .where(visible(workspace_id))
    )
    return [Candidate(slug, family, level, tuple(tags)) for slug, family, level, tags in rows]


def family_infos(session: Session, workspace_id: int | None = None) -> list[FamilyInfo]:
    """Families with at least one question in this view of the bank (bank/view.py)."""
    in_view = select(Question.family_id).where(visible(workspace_id))
    return [
        FamilyInfo(f.slug, f.name, tuple(f.aliases))
        for f in session.scalars(select(Family).where(Family.id.in_(in_view)).order_by(Family.slug))
    ]


def daily_question_for_channel(
    session: Session,
    channel_id: int,
    seed: str,
    level_min: str | None,
    level_max: str | None,
    workspace_id: int | None = None,
) -> Question | None:
    """The channel's next daily question, drawn from its workspace's view of the bank."""
    history = list(
        session.scalars(
            select(Question.slug)
            .join(DailyPrompt, DailyPrompt.question_id == Question.id)
            .where(DailyPrompt.channel_id == channel_id)
            .order_by(DailyPrompt.local_date)
        )
    )
    chosen = choose_daily(_candidates(session, workspace_id), history, seed, level_min, level_max)
    return _fetch(session, chosen)


def mock_question_for_member(
    session: Session,
    member_id: int,
    topic: str | None,
    seed: str,
    weak_families: Sequence[str] = (),
    workspace_id: int | None = None,
    weak_concepts: Sequence[str] = (),
) -> Question:
    """The question for a new mock from the workspace's view of the bank; a slug picks exactly
    that one. Raises `UnknownTopic`.

    A topic is a family (slug, name, alias or a close spelling) or a concept of the vocabulary
    (`position-bias`, or an alias such as `presentation-bias`) or any other tag.
    """
    if topic:
        exact = session.scalar(
            select(Question).where(Question.slug == topic.strip().lower(), visible(workspace_id))
        )
        if exact is not None:
            return exact
    candidates = _candidates(session, workspace_id)
    families = family_infos(session, workspace_id)
    topic_families: list[str] | None = None
    tag: str | None = None
    if topic:
        topic_families = match_families(topic, families)
        if not topic_families:
            tag = vocabulary().resolve(topic) or _norm(topic)
            if not any(tag in c.tags for c in candidates):
                raise UnknownTopic(topic, [f.slug for f in families])
    practised = Counter(  # counted in SQL: one row per question, whatever the history
        dict(
            session.execute(
                select(Question.slug, func.count())
                .join(Interview, Interview.question_id == Question.id)
                .where(Interview.candidate_id == member_id)
                .group_by(Question.slug)
            ).all()
        )
    )
    chosen = choose_mock(
        candidates, practised, seed, topic_families, tag, weak_families, weak_concepts
    )
    question = _fetch(session, chosen)
    if question is None:
        raise UnknownTopic(topic or "any", [f.slug for f in families])
    return question


def _fetch(session: Session, chosen: Candidate | None) -> Question | None:
    if chosen is None:
        return None
    return session.scalar(select(Question).where(Question.slug == chosen.slug))
