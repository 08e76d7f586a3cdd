"""Words for practice partners: matches, bookings and their reminders, reviews, the digest."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bank.schema import QuestionSpec
from bot.bookings import GRACE, mock_minutes
from bot.digest import DigestReport
from bot.port import Button, Message, Style, Tone

INTERVIEW = "book:interview"
WATCH = "book:watch"
CANCEL = "book:cancel"
HERE = "book:here"
APPROVE = "suggest:approve"
REJECT = "suggest:reject"


def when(instant: datetime, timezone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(timezone)):%a %d %b %H:%M} {timezone}"


def topic_of(family: str | None) -> str:
    return family or "any topic"


def booking_post(
    number: int,
    booking_id: int,
    family: str | None,
    starts_at: datetime,
    timezone: str,
    candidate: str,
    interviewers: list[str],
    watchers: list[str],
) -> Message:
    """The public booking with its RSVP buttons; re-rendered when someone signs up."""
    fields = [
        ("When", f"{when(starts_at, timezone)} · about {mock_minutes()} min"),
        ("Candidate", candidate),
        ("Interviewers", ", ".join(interviewers) or "nobody yet: press Interview"),
    ]
    if watchers:
        fields.append(("Watching", ", ".join(watchers)))
    value = str(booking_id)
    return Message(
        title=f"Mock #{number} booked: {topic_of(family)}",
        text="Sign up below. Reminders come an hour and ten minutes before; at the time a "
        "thread opens, and the mock starts once the candidate and an interviewer are there.",
        fields=tuple(fields),
        buttons=(
            Button("Interview", INTERVIEW, value, Style.PRIMARY),
            Button("Watch", WATCH, value),
            Button("Cancel", CANCEL, value, Style.DANGER),
        ),
    )


def booking_closed(number: int, family: str | None, status: str) -> Message:
    words = {"cancelled": "was cancelled", "no-show": "did not take place (no-show)"}
    return Message(
        title=f"Mock #{number}: {topic_of(family)}",
        text=f"This booking {words.get(status, 'has started')}.",
        tone=Tone.WARNING if status != "started" else Tone.INFO,
    )


def reminder(
    number: int, family: str | None, starts_at: datetime, timezone: str, step: str
) -> Message:
    ahead = "in an hour" if step == "hour" else "in ten minutes"
    return Message(
        f"Reminder: booked mock #{number} ({topic_of(family)}) starts {ahead}, at "
        f'{when(starts_at, timezone)}. The thread opens at the time; press "I\'m here" in it.',
        tone=Tone.WARNING,
    )


def reminder_fallback(number: int) -> str:
    """The public line when a reminder reaches nobody privately (DMs closed, no ephemeral)."""
    return f"Booked mock #{number} starts soon: `/mlsd bookings` shows its time."


def opening(number: int, booking_id: int, family: str | None, players: list[str]) -> Message:
    return Message(
        title=f"Mock #{number} is starting: {topic_of(family)}",
        text=f'{", ".join(players)}: press "I\'m here". The first phase starts when the '
        f"candidate and an interviewer are here; after {int(GRACE.total_seconds() // 60)} "
        "minutes without them the booking is cancelled as a no-show.",
        buttons=(Button("I'm here", HERE, str(booking_id), Style.PRIMARY),),
        tone=Tone.PHASE,
    )


def no_show(number: int, absent: list[str]) -> Message:
    return Message(
        f"Mock #{number} is cancelled: {', '.join(absent) or 'nobody'} did not come in time. "
        "No points; the no-show is noted in their history.",
        tone=Tone.WARNING,
    )


def matched(
    partner: str, role: str, number: int, starts_at: datetime | None, timezone: str
) -> Message:
    other = "interviewer" if role == "candidate" else "candidate"
    if starts_at is None:
        text = f"Matched with {partner}: you are the {role}, {partner} is the {other}. "
        text += f"Mock #{number} is open in its thread."
    else:
        text = (
            f"Matched with {partner} for {when(starts_at, timezone)}: you are the {role}, "
            f"{partner} is the {other}. Mock #{number} is booked; the calendar file is attached "
            "to the booking."
        )
    return Message(text, title="Practice partner found", tone=Tone.SUCCESS)


MATCHED_FALLBACK = (
    "You have a practice partner: I could not tell you privately, so look for your mock's "
    "thread or booking in this channel (`/mlsd bookings`)."
)
NOBODY_FALLBACK = "A pairing request ended without a match: `/mlsd pair` to try again."


def nobody_matched(window: str) -> Message:
    return Message(
        f"Nobody matched your pairing request ({window}). Try another time or a wider topic "
        "with `/mlsd pair`.",
        tone=Tone.WARNING,
    )


def suggestion_card(
    suggestion_id: int, author: str, family: str, spec: QuestionSpec, waiting: int
) -> Message:
    value = str(suggestion_id)
    more = f"{waiting - 1} more waiting after this one." if waiting > 1 else "The last one."
    return Message(
        title=f"Suggested by {author}: {spec.title}",
        text=f"{spec.prompt}\n\n{more}",
        fields=(
            ("Family · level", f"{family} · {spec.level}"),
            ("Slug", spec.slug),
            ("Baseline", spec.baseline),
        ),
        buttons=(
            Button("Approve", APPROVE, value, Style.PRIMARY),
            Button("Reject", REJECT, value, Style.DANGER),
        ),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def digest(report: DigestReport, week_label: str) -> Message:
    practised = "\n".join(
        f"• {name}: {count} practice{'s' if count != 1 else ''}, streak {days}"
        for name, count, days in report.practised[:25]
    )
    booked = "\n".join(
        f"• #{number} {when(start, report.timezone)} · {topic_of(family)}"
        for number, start, family in report.booked[:15]
    )
    return Message(
        title=f"Weekly digest · week of {week_label}",
        text=f"{_count(len(report.practised), 'member')} practised; "
        f"{_count(report.mocks, 'mock')} held, {report.with_results} with results.",
        fields=(
            ("Who practised", practised or "nobody this week"),
            ("Booked for the coming week", booked or "nothing booked yet: `/mlsd book`"),
            ("Questions waiting for review", str(report.waiting_review)),
        ),
    )
