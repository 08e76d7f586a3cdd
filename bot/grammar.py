"""The `/mlsd` command grammar (DESIGN.md §3), parsed in one place for every platform.

`parse(name, args)` returns one typed request per subcommand or raises `UsageError`, whose text is
the one-line reason followed by the usage of that subcommand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cache
from zoneinfo import available_timezones

from bank.calendar import WEEKDAYS
from scoring.aggregate import SIGNALS as SIGNALS  # re-exported: the grammar names them

DAY_ALIASES = {
    "daily": WEEKDAYS,
    "everyday": WEEKDAYS,
    "weekdays": WEEKDAYS[:5],
    "weekends": WEEKDAYS[5:],
}
SIGNAL_ALIASES = {
    "nohire": "no-hire",
    "no": "no-hire",
    "strong-no": "no-hire",
    "leanno": "lean-no",
    "lean-no-hire": "lean-no",
    "leanhire": "lean-hire",
    "yes": "hire",
    "strong-hire": "hire",
}
PERIODS = ("week", "month", "all")
MAX_EXTEND_MINUTES = 15
DEFAULT_EXTEND_MINUTES = 2

USAGE: dict[str, tuple[str, str]] = {
    "help": ("/mlsd help [COMMAND]", "show the commands, or the usage of one"),
    "daily": ("/mlsd daily [now]", "this channel's daily question; `now` (admin) posts a new one"),
    "schedule": (
        "/mlsd schedule [HH:MM [TZ] [DAYS] [L3-L6] [ping @role|off] | off]",
        "(admin) daily question time here, e.g. 09:00 Europe/Berlin mon-fri L4-L6 ping @mlsd",
    ),
    "mock": (
        "/mlsd mock [TOPIC|SLUG] [quick] [@user…]",
        "start a mock in a new thread: you are the candidate, @users interview",
    ),
    "join": ("/mlsd join [#N]", "join a mock as an interviewer"),
    "next": ("/mlsd next [#N]", "move the mock on to its next phase"),
    "pause": ("/mlsd pause [#N]", "pause the phase timer"),
    "resume": ("/mlsd resume [#N]", "resume the phase timer"),
    "extend": (
        "/mlsd extend [MIN] [#N]",
        f"give the current phase more time (default 2, at most {MAX_EXTEND_MINUTES} minutes)",
    ),
    "end": ("/mlsd end [#N]", "end the mock now"),
    "vote": (
        "/mlsd vote [#N] [S1..S6] [hire|lean-hire|lean-no|no-hire] [comment…]",
        "score a finished mock: six scores 1–4 in rubric order, or none to open the form",
    ),
    "leaderboard": ("/mlsd leaderboard [week|month|all]", "standings in this workspace"),
    "progress": ("/mlsd progress [@user]", "scores over time, weakest criterion, what to practise"),
    "bank": (
        "/mlsd bank list [TOPIC] | show SLUG | add | import | export | retire SLUG | stats"
        " | review",
        "browse and manage the question bank (add, import, retire: admin)",
    ),
    "pair": (
        "/mlsd pair [TOPIC] [L3-L6] [now|HH:MM [TZ] [DAYS]] | leave",
        "find a practice partner now or for a time; roles alternate between you",
    ),
    "book": (
        "/mlsd book [TOPIC] at HH:MM [TZ] [DATE]",
        "book a mock for later, e.g. book ads at 18:30 Europe/Berlin tomorrow",
    ),
    "bookings": ("/mlsd bookings", "the booked mocks of this workspace that are still ahead"),
    "suggest": ("/mlsd suggest", "propose a question for the bank; an admin reviews it"),
}

_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$")
_LABEL = re.compile(r"<@(!?[A-Za-z0-9]+)\|[^>]*>")  # a mention's typed label, spaces and all
_PLAIN_MENTION = re.compile(r"^@[\w.\-]+$")
PLAIN_MENTION_HINT = (
    "mention people with the chat's @ picker (a real mention), not typed text like {token}"
)
_MOCK_REF = re.compile(r"^#(\d{1,9})$")
_LEVELS = re.compile(r"^(L[3-6])(?:-(L[3-6]))?$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# a group to mention: a Discord role, a Slack user group (escaped form), or `@&name` (console)
_GROUP = re.compile(
    r"^<@&(\d{1,20})>$|^<!subteam\^([A-Z0-9]{1,20})(?:\|[^>]*)?>$|^@&([\w.\-]{1,40})$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


MAX_REASON = 300  # reasons quote what was typed: never let that grow a reply without bound


class UsageError(Exception):
    """A bad command: `reason` in one line, plus the usage of the subcommand it was for."""

    def __init__(self, reason: str, command: str | None = None) -> None:
        self.reason = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
        self.command = command
        super().__init__(self.text)

    @property
    def text(self) -> str:
        if self.command in USAGE:
            return f"{self.reason}\nUsage: {USAGE[self.command][0]}"
        return f"{self.reason}\nTry /mlsd help."


@dataclass(frozen=True)
class Mention:
    """A platform mention; `name` is filled only from the platform's resolved data."""

    user_id: str
    name: str | None = None


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class Daily:
    post_now: bool = False


@dataclass(frozen=True)
class Schedule:
    at: time | None  # None: switch the daily question off
    timezone: str | None = None
    days: tuple[str, ...] | None = None
    levels: tuple[str, str] | None = None  # e.g. ("L4", "L6"): only questions in that range
    show: bool = False  # a bare `/mlsd schedule`: say what is set (and why it is paused)
    ping: str | None = None  # a role / user group id to mention; "" switches the ping off


@dataclass(frozen=True)
class StartMock:
    topic: str | None
    interviewers: tuple[Mention, ...] = ()
    quick: bool = False


@dataclass(frozen=True)
class MockControl:
    """join, next, pause, resume, extend and end: one shape, told apart by `verb`."""

    verb: str
    number: int | None = None
    minutes: int | None = None
    phase: int | None = None  # set by buttons: the phase they were posted for
    budget: int | None = None  # set by buttons: that phase's budget (s), its extension version


@dataclass(frozen=True)
class Vote:
    number: int | None
    scores: tuple[int, ...] = ()
    signal: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class Leaderboard:
    period: str = "week"


@dataclass(frozen=True)
class Progress:
    member: Mention | None = None


@dataclass(frozen=True)
class BankCommand:
    verb: str  # list, show, add, import, export, retire, stats
    argument: str | None = None


@dataclass(frozen=True)
class Pair:
    """Join the pairing queue (`at` None: now), or leave it."""

    topic: str | None = None
    level: str | None = None
    at: time | None = None
    timezone: str | None = None
    days: tuple[str, ...] | None = None
    leave: bool = False


@dataclass(frozen=True)
class Book:
    topic: str | None
    at: time
    timezone: str | None = None
    day: str | None = None  # YYYY-MM-DD, today, tomorrow or a weekday name; None: next HH:MM


@dataclass(frozen=True)
class Bookings:
    pass


@dataclass(frozen=True)
class Suggest:
    pass


Request = (
    Help
    | Daily
    | Schedule
    | StartMock
    | MockControl
    | Vote
    | Leaderboard
    | Progress
    | BankCommand
    | Pair
    | Book
    | Bookings
    | Suggest
)


def opens_form(name: str, args: str) -> bool:
    """Whether a command may answer with a form: `vote` without scores, `bank add|import`,
    `suggest`. Adapters need it before the core answers: a form must be the first answer
    (Slack's trigger and Discord's initial response live 3 s)."""
    words = args.lower().split()
    if name == "vote":
        return not any(word.isdigit() for word in words)
    if name == "bank":
        return bool(words) and words[0] in ("add", "import")
    return name == "suggest"


def parse_mention(token: str, command: str | None = None) -> Mention | None:
    """A `<@ID>` mention (a Slack `|label` is ignored: anyone can type one); None for other
    words. Typed `@name` text names nobody: it is refused with a hint."""
    if _PLAIN_MENTION.match(token):
        raise UsageError(PLAIN_MENTION_HINT.format(token=token), command)
    match = _MENTION.match(token)
    return None if match is None else Mention(match.group(1))


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(word: str) -> int | None:
    """`mon` or `monday` → 0; anything else → None."""
    for index, name in enumerate(_DAY_NAMES):
        if word in (name, name[:3]):
            return index
    return None


def parse_days(token: str) -> tuple[str, ...] | None:
    """`mon-fri`, `mon,wed,fri`, `daily`, `weekdays`… → weekdays in week order; None if not days."""
    token = token.lower()
    if token in DAY_ALIASES:
        return DAY_ALIASES[token]
    chosen: set[str] = set()
    for part in token.split(","):
        start, dash, end = part.partition("-")
        first, last = _weekday(start), _weekday(end) if dash else _weekday(start)
        if first is None or last is None:
            return None
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        chosen.update(WEEKDAYS[i] for i in span)
    return tuple(day for day in WEEKDAYS if day in chosen)


@cache
def _time_zones() -> frozenset[str]:
    """IANA names only: `zoneinfo` alone would also accept folder names and `localtime`."""
    return frozenset(available_timezones())


def _mock_ref(token: str, command: str) -> int:
    match = _MOCK_REF.match(token)
    if match is None:
        raise UsageError(f"expected a mock number like #3, got {token!r}", command)
    return int(match.group(1))


def _parse_help(args: list[str]) -> Help:
    if len(args) > 1:
        raise UsageError("help takes at most one command name", "help")
    topic = args[0].lower().lstrip("/") if args else None
    if topic is not None and topic not in USAGE:
        raise UsageError(f"there is no command {topic!r}", "help")
    return Help(topic)


def _parse_daily(args: list[str]) -> Daily:
    if not args:
        return Daily()
    if [a.lower() for a in args] == ["now"]:
        return Daily(post_now=True)
    raise UsageError(f"unexpected {' '.join(args)!r}", "daily")


def _parse_schedule(args: list[str]) -> Schedule:
    if not args:
        return Schedule(at=None, show=True)
    if args[0].lower() == "off":
        if len(args) > 1:
            raise UsageError("`schedule off` takes nothing else", "schedule")
        return Schedule(at=None)
    match = _TIME.match(args[0])
    if match is None:
        raise UsageError(f"{args[0]!r} is not a time of day (use HH:MM, 24-hour)", "schedule")
    timezone: str | None = None
    days: tuple[str, ...] | None = None
    levels: tuple[str, str] | None = None
    rest, ping = _ping_of(args[1:])
    for token in rest:
        parsed_days = parse_days(token)
        level_range = _LEVELS.match(token.upper())
        if level_range is not None and levels is None:
            low, high = level_range.group(1), level_range.group(2) or level_range.group(1)
            if low > high:
                raise UsageError(f"level range {token!r} runs backwards (e.g. L4-L6)", "schedule")
            levels = (low, high)
        elif parsed_days is not None and days is None:
            days = parsed_days
        elif timezone is None and parsed_days is None:
            if token not in _time_zones():
                raise UsageError(
                    f"unknown time zone or days {token!r} (e.g. Europe/Berlin, mon-fri)", "schedule"
                )
            timezone = token
        else:
            raise UsageError(f"unexpected {token!r}", "schedule")
    return Schedule(
        time(int(match.group(1)), int(match.group(2))), timezone, days, levels, ping=ping
    )


def parse_group(token: str) -> str | None:
    """`<@&123>`, `<!subteam^S1|@team>` or `@&team` → the group's id; anything else → None."""
    match = _GROUP.match(token)
    if match is None:
        return None
    return next(group for group in match.groups() if group)


def _ping_of(tokens: list[str]) -> tuple[list[str], str | None]:
    """Split `ping GROUP` / `ping off` out of schedule arguments."""
    lowered = [t.lower() for t in tokens]
    if "ping" not in lowered:
        return tokens, None
    at = lowered.index("ping")
    if at + 1 >= len(tokens):
        raise UsageError("say which role or user group to ping, or `ping off`", "schedule")
    target = tokens[at + 1]
    group = "" if target.lower() == "off" else parse_group(target)
    if group is None:
        raise UsageError(f"{target!r} is not a role or user group mention", "schedule")
    return tokens[:at] + tokens[at + 2 :], group


def _parse_mock(args: list[str]) -> StartMock:
    topic_words: list[str] = []
    interviewers: list[Mention] = []
    quick = False
    for token in args:
        mention = parse_mention(token, "mock")
        if mention is not None:
            if all(m.user_id != mention.user_id for m in interviewers):
                interviewers.append(mention)
        elif token.lower() == "quick":
            quick = True
        elif interviewers:
            raise UsageError(f"put the topic before the @mentions (got {token!r})", "mock")
        else:
            topic_words.append(token)
    topic = " ".join(topic_words) or None
    if topic is not None and len(topic) > 80:
        raise UsageError("the topic is too long (80 characters at most)", "mock")
    return StartMock(topic, tuple(interviewers), quick)


def _parse_control(verb: str, args: list[str]) -> MockControl:
    number: int | None = None
    minutes: int | None = None
    for token in args:
        if token.startswith("#"):
            if number is not None:
                raise UsageError("name one mock only", verb)
            number = _mock_ref(token, verb)
        elif verb == "extend" and minutes is None and token.isascii() and token.isdigit():
            minutes = int(token) if len(token) <= 3 else MAX_EXTEND_MINUTES + 1
            if not 1 <= minutes <= MAX_EXTEND_MINUTES:
                raise UsageError(f"extend by 1 to {MAX_EXTEND_MINUTES} minutes", verb)
        else:
            raise UsageError(f"unexpected {token!r}", verb)
    return MockControl(verb, number, minutes)


_SCORE_TOKEN = re.compile(r"^\d$|^\d{6}$|^\d(?:,\d)+$")


def _parse_scores(tokens: list[str]) -> tuple[tuple[int, ...], int]:
    """Leading score tokens (`3 4 2 3 3 4`, `343234` or `3,4,2,3,3,4`) → scores, tokens used."""
    scores: list[int] = []
    used = 0
    for token in tokens:
        if _SCORE_TOKEN.match(token) is None:
            if token.isdigit():
                raise UsageError(f"{token!r} is not a score: every score must be 1–4", "vote")
            break
        scores.extend(int(digit) for digit in token if digit.isdigit())
        used += 1
    for position, score in enumerate(scores, start=1):
        if not 1 <= score <= 4:
            raise UsageError(f"score {position} is {score}: every score must be 1–4", "vote")
    return tuple(scores), used


def _parse_vote(args: list[str]) -> Vote:
    number: int | None = None
    rest = args
    if rest and rest[0].startswith("#"):
        number = _mock_ref(rest[0], "vote")
        rest = rest[1:]
    scores, used = _parse_scores(rest)
    rest = rest[used:]
    signal: str | None = None
    if rest:
        candidate = SIGNAL_ALIASES.get(rest[0].lower(), rest[0].lower())
        if candidate in SIGNALS:
            signal, rest = candidate, rest[1:]
    if scores and signal is None:
        raise UsageError(
            "add a hire signal after the scores: hire, lean-hire, lean-no or no-hire", "vote"
        )
    if not scores and (signal is not None or rest):
        raise UsageError("give the six scores (1–4) first, or nothing to open the form", "vote")
    comment = " ".join(rest)
    if len(comment) > 2000:
        raise UsageError("the comment is too long (2,000 characters at most)", "vote")
    return Vote(number, scores, signal, comment)


def _parse_leaderboard(args: list[str]) -> Leaderboard:
    if not args:
        return Leaderboard()
    if len(args) == 1 and args[0].lower() in PERIODS:
        return Leaderboard(args[0].lower())
    raise UsageError(f"period must be week, month or all (got {' '.join(args)!r})", "leaderboard")


def _parse_progress(args: list[str]) -> Progress:
    if not args:
        return Progress()
    mention = parse_mention(args[0], "progress") if len(args) == 1 else None
    if mention is None:
        raise UsageError("name one member with an @ mention", "progress")
    return Progress(mention)


BANK_VERBS = ("list", "show", "add", "import", "export", "retire", "stats", "review")


def _parse_bank(args: list[str]) -> BankCommand:
    if not args:
        raise UsageError("say what to do with the bank", "bank")
    verb, rest = args[0].lower(), args[1:]
    if verb not in BANK_VERBS:
        raise UsageError(f"unknown bank command {verb!r}", "bank")
    if verb in ("show", "retire"):
        if len(rest) != 1:
            raise UsageError(f"`bank {verb}` needs one question slug", "bank")
        return BankCommand(verb, rest[0].lower())
    if verb == "list":
        return BankCommand(verb, " ".join(rest) or None)
    if rest:
        raise UsageError(f"`bank {verb}` takes no arguments", "bank")
    return BankCommand(verb)


def parse(name: str, args: str) -> Request:
    """Parse one command; `name` is the subcommand (empty for a bare `/mlsd`)."""
    name = name.lower().lstrip("/")
    tokens = _LABEL.sub(r"<@\1>", args).split()
    if name in ("", "help"):
        return _parse_help(tokens)
    if name == "daily":
        return _parse_daily(tokens)
    if name == "schedule":
        return _parse_schedule(tokens)
    if name == "mock":
        return _parse_mock(tokens)
    if name in ("join", "next", "pause", "resume", "extend", "end"):
        return _parse_control(name, tokens)
    if name == "vote":
        return _parse_vote(tokens)
    if name == "leaderboard":
        return _parse_leaderboard(tokens)
    if name == "progress":
        return _parse_progress(tokens)
    if name == "bank":
        return _parse_bank(tokens)
    if name == "pair":
        return _parse_pair(tokens)
    if name == "book":
        return _parse_book(tokens)
    if name == "bookings":
        if tokens:
            raise UsageError("`bookings` takes no arguments", "bookings")
        return Bookings()
    if name == "suggest":
        if tokens:
            raise UsageError("`suggest` takes no arguments: it opens the form", "suggest")
        return Suggest()
    raise UsageError(f"unknown command {name!r}")


def _time_of(token: str, command: str) -> time:
    match = _TIME.match(token)
    if match is None:
        raise UsageError(f"{token!r} is not a time of day (use HH:MM, 24-hour)", command)
    return time(int(match.group(1)), int(match.group(2)))


def _topic(words: list[str], command: str) -> str | None:
    topic = " ".join(words) or None
    if topic is not None and len(topic) > 80:
        raise UsageError("the topic is too long (80 characters at most)", command)
    return topic


def _parse_pair(args: list[str]) -> Pair:
    if [a.lower() for a in args] == ["leave"]:
        return Pair(leave=True)
    words: list[str] = []
    level: str | None = None
    at: time | None = None
    timezone: str | None = None
    days: tuple[str, ...] | None = None
    now = False
    for token in args:
        upper = token.upper()
        parsed_days = parse_days(token) if at is not None else None
        if _LEVELS.match(upper) and "-" not in upper and level is None:
            level = upper
        elif token.lower() == "now" and at is None and not now:
            now = True
        elif ":" in token and token[0].isdigit() and at is None and not now:
            at = _time_of(token, "pair")
        elif at is not None and parsed_days is not None and days is None:
            days = parsed_days
        elif at is not None and timezone is None and token in _time_zones():
            timezone = token
        elif at is None and not now and level is None:
            words.append(token)
        else:
            raise UsageError(f"unexpected {token!r}", "pair")
    return Pair(_topic(words, "pair"), level, at, timezone, days)


def _parse_book(args: list[str]) -> Book:
    lowered = [a.lower() for a in args]
    if "at" not in lowered:
        raise UsageError("say when: `at HH:MM`", "book")
    split = lowered.index("at")
    if split + 1 >= len(args):
        raise UsageError("give a time after `at`, like 18:30", "book")
    at = _time_of(args[split + 1], "book")
    timezone: str | None = None
    day: str | None = None
    for token in args[split + 2 :]:
        if timezone is None and token in _time_zones():
            timezone = token
        elif day is None and (
            _DATE.match(token)
            or token.lower() in ("today", "tomorrow")
            or _weekday(token.lower()) is not None
        ):
            day = token.lower()
        else:
            raise UsageError(
                f"unexpected {token!r} (a time zone or a date, like 2026-03-04)", "book"
            )
    return Book(_topic(args[:split], "book"), at, timezone, day)


def help_text(topic: str | None = None) -> str:
    if topic is not None:
        usage, summary = USAGE[topic]
        return f"{usage}\n{summary}"
    width = max(len(usage) for usage, _ in USAGE.values())
    width = min(width, 44)
    lines = [f"{usage:<{width}}  {summary}" for usage, summary in USAGE.values()]
    return "\n".join(lines)
