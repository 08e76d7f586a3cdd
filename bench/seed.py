"""The seeder: a year of a busy community, written in bulk (COPY / executemany), in time order.

The schema comes from the Alembic migrations and the questions from the built-in bank; every other
row is generated here, deterministic for a seed. Events are emitted in time order (daily prompts
with their answers, mocks with their phases, panel, votes and points), so ids and the physical
order of rows grow with time as they would in a real deployment.

Shape: one heavy workspace (30 % of members, channels and mocks) for the leaderboard; one heavy
member (the first member of that workspace) with hundreds of scored mocks and a long answering
streak for progress; one channel with a daily question every day of the year for selection; a few
recent mocks still open for votes; and extra scheduled channels so the due-scan sees
`scale.scan_channels` channels.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from sqlalchemy import Engine, Table, select, text
from sqlalchemy.orm import Session

import bank.models  # noqa: F401  (registers the tables on the metadata)
import scoring.models  # noqa: F401
from bank.calendar import WEEKDAYS, local_date, next_occurrence, slot_on
from bank.models import Question
from bank.orm import Base
from bench.bulk import BulkWriter, Row
from bench.scale import DUE_SHARE, HEAVY_SHARE, NOW, SCHEDULED_SHARE, Scale
from bot.phases import PHASES, budget_seconds
from scoring import totals
from scoring.aggregate import weighted_score
from scoring.ledger import DEFAULT_POINTS, PointKind
from scoring.rubric import DEFAULT_RUBRIC

YEAR = timedelta(days=365)
FLUSH_ROWS = 100_000
OPEN_MOCKS = 24  # recent mocks of the heavy workspace, inside their vote window at NOW
TIMEZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Kolkata", "UTC")
DAILY_TIMES = (clock_time(8, 30), clock_time(9, 0), clock_time(9, 30), clock_time(10, 0))
WEEKDAYS_ONLY = "mon,tue,wed,thu,fri"
EVERY_DAY = ",".join(WEEKDAYS)


def words(line: str) -> tuple[str, ...]:
    return tuple(line.split())


FIRST_NAMES = words(
    "Ada Alan Grace Edsger Barbara Donald Frances Ken Radia Tim Margaret Dennis Leslie Niklaus "
    "Shafi Yann Fei-Fei Geoffrey Daphne Andrew Cynthia Judea Sophie Raj Mei Omar Lena Ivan Zoe Kai"
)
LAST_NAMES = words(
    "Lovelace Turing Hopper Dijkstra Liskov Knuth Allen Thompson Perlman Berners-Lee Hamilton "
    "Ritchie Lamport Wirth Goldwasser LeCun Li Hinton Koller Ng Dwork Pearl Wilson Reddy Chen "
    "Haddad Berg Petrov Adams Tanaka"
)
COMMENTS = (
    "Clear structure; go deeper on features.",
    "Good metrics discussion, the serving path was thin.",
    "Strong trade-offs. Watch the clock in the deep dive.",
    "Start from the business goal before the model.",
)
SIGNAL_BANDS = ((1.75, "no-hire"), (2.5, "lean-no"), (3.25, "lean-hire"), (9.0, "hire"))
TABLE_ORDER = (
    "workspaces",
    "members",
    "channels",
    "daily_prompts",
    "daily_answers",
    "interviews",
    "interview_phases",
    "interview_participants",
    "votes",
    "mock_results",
    "progress_totals",
    "points_ledger",
)
COLUMNS: dict[str, tuple[str, ...]] = {
    "workspaces": words(
        "id platform external_id name timezone admin_ids rubric next_mock_number created_at"
    ),
    "members": words("id workspace_id external_id display_name created_at"),
    "channels": words(
        "id workspace_id external_id name daily_enabled daily_time timezone days level_min "
        "level_max next_daily_at created_at"
    ),
    "daily_prompts": words(
        "id channel_id question_id local_date thread_external_id posted_at created_at"
    ),
    "daily_answers": words("id prompt_id member_id answered_at"),
    "interviews": words(
        "id workspace_id number channel_id thread_external_id question_id candidate_id variant "
        "status phase_index phase_deadline paused_remaining_seconds paused_at end_reason "
        "results_sent_at results_final_at started_at ended_at last_activity_at"
    ),
    "interview_phases": words(
        "id interview_id phase_index budget_seconds started_at ended_at paused_seconds "
        "warning_sent_at timeup_sent_at message_external_id"
    ),
    "interview_participants": words("id interview_id member_id role joined_at"),
    "votes": words("id interview_id voter_id scores overall signal comment created_at updated_at"),
    "points_ledger": words("id workspace_id member_id kind reference points created_at"),
    "progress_totals": words("candidate_id family_id criterion score_sum scored"),
    "mock_results": words(
        "interview_id workspace_id candidate_id question_id ended_at settled_at criteria overall "
        "voters signals"
    ),
}


@dataclass
class Space:
    """One workspace: its members are the contiguous ids first_member .. first_member+size-1."""

    id: int
    timezone: str
    first_member: int
    size: int
    channels: list[int] = field(default_factory=list)
    mocks: int = 0

    def member(self, rng: random.Random) -> int:
        return self.first_member + rng.randrange(self.size)

    def sample(self, rng: random.Random, k: int) -> list[int]:
        return rng.sample(range(self.first_member, self.first_member + self.size), k)


@dataclass(frozen=True)
class ScheduledChannel:
    id: int
    space: Space
    at: clock_time
    timezone: str
    days: str
    popularity: float


@dataclass(frozen=True)
class PlannedMock:
    started_at: datetime
    space: Space
    candidate: int
    interviewers: int
    voters: int


@dataclass(frozen=True)
class SeedSummary:
    rows: dict[str, int]
    seconds: float
    heavy_workspace_id: int
    heavy_member_id: int
    history_channel_id: int


class _Scores:
    """Pre-drawn score tuples per skill level: drawing a vote is then one table lookup."""

    LEVELS = 17
    SIZE = 4096

    def __init__(self, rng: random.Random) -> None:
        ids = DEFAULT_RUBRIC.ids
        self.table: list[list[tuple[dict[str, int], float, str]]] = []
        for level in range(self.LEVELS):
            skill = 1.4 + 2.2 * level / (self.LEVELS - 1)
            rows = []
            for _ in range(self.SIZE):
                scores = {cid: min(4, max(1, round(rng.gauss(skill, 0.7)))) for cid in ids}
                overall = weighted_score(scores, DEFAULT_RUBRIC)
                signal = next(name for bound, name in SIGNAL_BANDS if overall < bound)
                rows.append((scores, overall, signal))
            self.table.append(rows)

    def draw(self, rng: random.Random, level: int) -> tuple[dict[str, int], float, str]:
        return self.table[level][rng.getrandbits(12)]


class Seeder:
    def __init__(
        self, engine: Engine, scale: Scale, log: Callable[[str], None], seed: int = 20260326
    ) -> None:
        self.engine = engine
        self.scale = scale
        self.log = log
        self.rng = random.Random(seed)
        self.tables: dict[str, Table] = {name: Base.metadata.tables[name] for name in TABLE_ORDER}
        self.buffers: dict[str, list[Row]] = {name: [] for name in TABLE_ORDER}
        self.ids = {name: itertools.count(1) for name in TABLE_ORDER}
        self.buffered = 0
        self.written = 0
        self.family_of: dict[int, int] = {}  # question id → family id
        self.progress: dict[tuple[int, int, str], list[float]] = {}  # → [sum, count]
        self.started = 0.0
        self.last_log = 0.0

    # -- plumbing --------------------------------------------------------------------------------

    def _next_id(self, table: str) -> int:
        return next(self.ids[table])

    def _add(self, table: str, row: Row) -> None:
        self.buffers[table].append(row)
        self.buffered += 1

    def _flush_if_full(self, writer: BulkWriter, where: str) -> None:
        if self.buffered >= FLUSH_ROWS:
            self._flush(writer, where)

    def _flush(self, writer: BulkWriter, where: str) -> None:
        for name in TABLE_ORDER:  # parents before children: foreign keys hold at every batch
            rows = self.buffers[name]
            if rows:
                writer.write(self.tables[name], COLUMNS[name], rows)
                self.written += len(rows)
                self.buffers[name] = []
        self.buffered = 0
        now = time.perf_counter()
        if now - self.last_log >= 2.0:
            self.last_log = now
            elapsed = now - self.started
            self.log(
                f"  seeding {where}: {self.written:>10,} rows in {elapsed:6.1f} s "
                f"({self.written / elapsed:,.0f} rows/s)"
            )

    # -- the plan --------------------------------------------------------------------------------

    def _spaces(self) -> list[Space]:
        scale, rng = self.scale, self.rng
        heavy = round(scale.members * HEAVY_SHARE)
        rest = scale.members - heavy
        others = scale.workspaces - 1
        sizes = [heavy] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]
        spaces, first = [], 1
        for index, size in enumerate(sizes):
            zone = "Europe/Berlin" if index == 0 else rng.choice(TIMEZONES)
            spaces.append(Space(index + 1, zone, first, size))
            first += size
        heavy_channels = max(1, round(scale.channels * HEAVY_SHARE))
        counts = [heavy_channels] + [
            (scale.channels - heavy_channels) // others
            + (1 if i < (scale.channels - heavy_channels) % others else 0)
            for i in range(others)
        ]
        channel_id = 1
        for space, count in zip(spaces, counts, strict=True):
            for _ in range(max(1, count)):
                space.channels.append(channel_id)
                channel_id += 1
        return spaces

    def _plan_mocks(self, spaces: list[Space]) -> list[PlannedMock]:
        scale, rng = self.scale, self.rng
        heavy = spaces[0]
        start = NOW - YEAR
        span = (YEAR - timedelta(hours=2)).total_seconds()
        low, high = scale.interviewers
        mean_voters = scale.votes / scale.mocks
        weights = [s.size for s in spaces]
        # The newest mocks of the heavy workspace are still open for votes (results not sent).
        recent = range(scale.heavy_member_mocks, scale.heavy_member_mocks + OPEN_MOCKS)
        plan = []
        for index in range(scale.mocks):
            forced = index < recent.stop
            space = heavy if forced else rng.choices(spaces, weights)[0]
            candidate = heavy.first_member if index < scale.heavy_member_mocks else None
            if candidate is None:
                candidate = space.member(rng)
            voters = round(rng.uniform(0.5, 1.5) * mean_voters)
            interviewers = rng.randint(low, high)
            limit = space.size - 1
            started = (
                NOW - timedelta(hours=rng.uniform(2, 44))
                if index in recent
                else start + timedelta(seconds=rng.uniform(0, span))
            )
            plan.append(
                PlannedMock(
                    started,
                    space,
                    candidate,
                    min(interviewers, limit),
                    max(min(voters, limit), min(interviewers, limit)),
                )
            )
        plan.sort(key=lambda m: m.started_at)
        for mock in plan:
            mock.space.mocks += 1
        return plan

    def _scheduled(self, spaces: list[Space]) -> list[ScheduledChannel]:
        rng = self.rng
        regular = [(space, cid) for space in spaces for cid in space.channels]
        count = max(1, round(len(regular) * SCHEDULED_SHARE))
        # The heavy workspace's first channel has a question every day: the long history.
        chosen = [regular[0], *rng.sample(regular[1:], count - 1)]
        result = []
        for index, (space, cid) in enumerate(chosen):
            result.append(
                ScheduledChannel(
                    cid,
                    space,
                    clock_time(9, 30) if index == 0 else rng.choice(DAILY_TIMES),
                    space.timezone,
                    EVERY_DAY if index == 0 or rng.random() < 0.1 else WEEKDAYS_ONLY,
                    2.0 if index == 0 else rng.uniform(0.5, 1.5),
                )
            )
        return result

    # -- rows ------------------------------------------------------------------------------------

    def _workspace_rows(self, spaces: list[Space]) -> None:
        created = NOW - YEAR - timedelta(days=30)
        for space in spaces:
            assert self._next_id("workspaces") == space.id
            name = "Heavy Co" if space.id == 1 else f"Workspace {space.id}"
            self._add(
                "workspaces",
                (space.id, "slack", f"T{space.id:05d}", name, space.timezone, [], None,
                 space.mocks + 1, created),
            )  # fmt: skip

    def _member_rows(self, spaces: list[Space], writer: BulkWriter) -> None:
        rng = self.rng
        created = NOW - YEAR - timedelta(days=30)
        for space in spaces:
            for member_id in range(space.first_member, space.first_member + space.size):
                assert self._next_id("members") == member_id
                name = (
                    "Ada Heavy"
                    if member_id == 1
                    else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                )
                self._add("members", (member_id, space.id, f"U{member_id:07d}", name, created))
                self._flush_if_full(writer, "members")

    def _channel_rows(self, spaces: list[Space], scheduled: list[ScheduledChannel]) -> int:
        """Regular channels (some scheduled), then the extra channels of the due-scan."""
        rng = self.rng
        created = NOW - YEAR - timedelta(days=30)
        by_id = {s.id: s for s in scheduled}
        for space in spaces:
            for cid in space.channels:
                assert self._next_id("channels") == cid
                plan = by_id.get(cid)
                if plan is None:
                    row: Row = (cid, space.id, f"C{cid:07d}", f"channel-{cid}", False, None,
                                space.timezone, WEEKDAYS_ONLY, None, None, None,
                                created)  # fmt: skip
                else:
                    due = next_occurrence(NOW, plan.at, plan.timezone, tuple(plan.days.split(",")))
                    row = (cid, space.id, f"C{cid:07d}", f"channel-{cid}", True, plan.at,
                           plan.timezone, plan.days, None, None, due, created)  # fmt: skip
                self._add("channels", row)
        extra = self.scale.scan_channels - sum(len(s.channels) for s in spaces)
        due_now = round(self.scale.scan_channels * DUE_SHARE)
        for index in range(max(0, extra)):
            cid = self._next_id("channels")
            space = rng.choice(spaces)
            if index < due_now:  # a popular slot: 09:00 UTC, due exactly at NOW
                at, zone, days = clock_time(9, 0), "UTC", EVERY_DAY
            else:
                minute = rng.randrange(24 * 60)
                at, zone = clock_time(minute // 60, minute % 60), space.timezone
                days = EVERY_DAY if rng.random() < 0.2 else WEEKDAYS_ONLY
            due = NOW if index < due_now else next_occurrence(NOW, at, zone, tuple(days.split(",")))
            self._add(
                "channels",
                (cid, space.id, f"C{cid:07d}", f"scan-{cid}", True, at, zone, days, None, None,
                 due, created),
            )  # fmt: skip
        return max(0, extra)

    def _prompt_slots(
        self, scheduled: list[ScheduledChannel]
    ) -> list[tuple[datetime, ScheduledChannel, date]]:
        slots = []
        for channel in scheduled:
            today = local_date(NOW, channel.timezone)
            days = set(channel.days.split(","))
            for back in range(365, -1, -1):
                day = today - timedelta(days=back)
                if WEEKDAYS[day.weekday()] not in days:
                    continue
                at = slot_on(day, channel.at, channel.timezone)
                if NOW - YEAR <= at <= NOW:
                    slots.append((at, channel, day))
        slots.sort(key=lambda s: (s[0], s[1].id))
        return slots

    def _regulars(
        self, spaces: list[Space], scheduled: list[ScheduledChannel]
    ) -> dict[int, list[int]]:
        """Who answers where: every member has one or two home channels among the scheduled
        channels of their workspace, and answers only there (streaks then mean something)."""
        rng = self.rng
        regulars: dict[int, list[int]] = {channel.id: [] for channel in scheduled}
        for space in spaces:
            homes = [channel.id for channel in scheduled if channel.space is space]
            if not homes:
                continue
            for member in range(space.first_member, space.first_member + space.size):
                count = 2 if rng.random() < 0.3 and len(homes) > 1 else 1
                for channel_id in rng.sample(homes, count):
                    regulars[channel_id].append(member)
        return regulars

    def run(self, writer: BulkWriter) -> SeedSummary:
        self.started = self.last_log = time.perf_counter()
        scale, rng = self.scale, self.rng
        with self.engine.connect() as connection:
            question_ids = list(
                connection.scalars(
                    select(Question.id).where(Question.status == "active").order_by(Question.id)
                )
            )
            self.family_of = dict(connection.execute(select(Question.id, Question.family_id)).all())
        spaces = self._spaces()
        plan = self._plan_mocks(spaces)
        scheduled = self._scheduled(spaces)
        slots = self._prompt_slots(scheduled)
        self._workspace_rows(spaces)
        self._member_rows(spaces, writer)
        extra = self._channel_rows(spaces, scheduled)
        self._flush(writer, "members and channels")
        self.log(
            f"  planned: {len(plan):,} mocks, {len(slots):,} daily prompts in "
            f"{len(scheduled):,} scheduled channels, {extra:,} extra due-scan channels"
        )

        # Answers fill the points ledger up to its target once the mocks' points are counted.
        with_results = sum(1 for m in plan if m.started_at + timedelta(hours=49) <= NOW)
        mock_points = sum(1 + m.interviewers + m.voters for m in plan) + with_results
        answers_target = max(0, scale.ledger - mock_points)
        weights = [channel.popularity * rng.uniform(0.5, 1.5) for _, channel, _ in slots]
        total_weight = sum(weights) or 1.0
        cumulative = list(itertools.accumulate(weights))
        answers_per_slot = [
            round(answers_target * c / total_weight)
            - round(answers_target * (c - w) / total_weight)
            for c, w in zip(cumulative, weights, strict=True)
        ]

        scores = _Scores(rng)
        rotation: dict[int, list[int]] = {}
        numbers = dict.fromkeys((s.id for s in spaces), 0)
        heavy = spaces[0]
        history_channel = scheduled[0].id
        regulars = self._regulars(spaces, scheduled)
        mock_times = [m.started_at for m in plan]
        next_mock = 0
        for (at, channel, day), answers in zip(slots, answers_per_slot, strict=True):
            # Mocks that started before this prompt go first: rows stay in time order.
            upto = bisect.bisect_right(mock_times, at, lo=next_mock)
            for mock in plan[next_mock:upto]:
                self._mock_rows(mock, numbers, question_ids, scores, heavy)
                self._flush_if_full(writer, f"{mock.started_at:%Y-%m-%d}")
            next_mock = upto
            cycle = rotation.get(channel.id)
            if not cycle:
                cycle = rng.sample(question_ids, len(question_ids))
                rotation[channel.id] = cycle
            self._prompt_rows(
                at, channel, day, cycle.pop(), regulars[channel.id], answers, heavy, history_channel
            )
            self._flush_if_full(writer, f"{at:%Y-%m-%d}")
        for mock in plan[next_mock:]:
            self._mock_rows(mock, numbers, question_ids, scores, heavy)
            self._flush_if_full(writer, f"{mock.started_at:%Y-%m-%d}")
        for (candidate, family, criterion), (total, count) in self.progress.items():
            self._add("progress_totals", (candidate, family, criterion, total, int(count)))
        self._flush(writer, "the last day")
        return SeedSummary(
            {name: stats.rows for name, stats in writer.stats.items()},
            time.perf_counter() - self.started,
            heavy.id,
            heavy.first_member,
            history_channel,
        )

    def _prompt_rows(
        self,
        at: datetime,
        channel: ScheduledChannel,
        day: date,
        question_id: int,
        regulars: list[int],
        answers: int,
        heavy: Space,
        history_channel: int,
    ) -> None:
        rng = self.rng
        prompt_id = self._next_id("daily_prompts")
        self._add(
            "daily_prompts",
            (prompt_id, channel.id, question_id, day, f"P{prompt_id:08d}", at, at),
        )
        space = channel.space
        members = rng.sample(regulars, min(answers, len(regulars)))
        # The heavy member answers here nearly every day, and every day of the last 120.
        keen = rng.random() < 0.95 or NOW - at < timedelta(days=120)
        if channel.id == history_channel and keen and heavy.first_member not in members:
            members.append(heavy.first_member)
        reference = f"prompt:{prompt_id}"
        points = DEFAULT_POINTS[PointKind.DAILY_ANSWER]
        latest = max(0.0, (NOW - at).total_seconds() - 1)
        for member in members:
            answered = at + timedelta(seconds=min(latest, rng.uniform(60, 8 * 3600)))
            self._add(
                "daily_answers", (self._next_id("daily_answers"), prompt_id, member, answered)
            )
            self._add(
                "points_ledger",
                (self._next_id("points_ledger"), space.id, member, PointKind.DAILY_ANSWER.value,
                 reference, points, answered),
            )  # fmt: skip

    def _mock_rows(
        self,
        mock: PlannedMock,
        numbers: dict[int, int],
        question_ids: Sequence[int],
        scores: _Scores,
        heavy: Space,
    ) -> None:
        rng = self.rng
        space = mock.space
        interview_id = self._next_id("interviews")
        numbers[space.id] += 1
        variant = "quick" if rng.random() < 0.1 else "standard"
        phase_rows: list[Row] = []
        moment = mock.started_at
        for index in range(len(PHASES)):
            budget = budget_seconds(index, variant)
            spent = max(60.0, budget + rng.uniform(-180, 120))
            ended = moment + timedelta(seconds=spent)
            late = spent >= budget
            phase_rows.append(
                (self._next_id("interview_phases"), interview_id, index, budget, moment, ended, 0,
                 moment + timedelta(seconds=budget - 60) if spent >= budget - 60 else None,
                 moment + timedelta(seconds=budget) if late else None, f"M{interview_id}-{index}")
            )  # fmt: skip
            moment = ended
        ended_at = moment
        results = ended_at + timedelta(hours=48)
        results_sent_at = results if results <= NOW else None
        channel = rng.choice(space.channels)
        question = rng.choice(question_ids)
        self._add(
            "interviews",
            (interview_id, space.id, numbers[space.id], channel,
             f"M{interview_id:08d}", question, mock.candidate, variant, "ended",
             len(PHASES) - 1, None, None, None, "completed", results_sent_at, results_sent_at,
             mock.started_at, ended_at, ended_at),
        )  # fmt: skip
        for row in phase_rows:
            self._add("interview_phases", row)
        panel_size = mock.voters + 1
        pool = [
            m for m in space.sample(rng, min(space.size, panel_size + 1)) if m != mock.candidate
        ]
        interviewers, voters = pool[: mock.interviewers], pool[: mock.voters]
        reference = f"interview:{interview_id}"
        ledger = self.buffers["points_ledger"]
        self._add(
            "points_ledger",
            (self._next_id("points_ledger"), space.id, mock.candidate,
             PointKind.MOCK_CANDIDATE.value, reference, DEFAULT_POINTS[PointKind.MOCK_CANDIDATE],
             ended_at),
        )  # fmt: skip
        for member in interviewers:
            self._add(
                "interview_participants",
                (self._next_id("interview_participants"), interview_id, member, "interviewer",
                 mock.started_at),
            )  # fmt: skip
            self._add(
                "points_ledger",
                (self._next_id("points_ledger"), space.id, member,
                 PointKind.MOCK_INTERVIEWER.value, reference,
                 DEFAULT_POINTS[PointKind.MOCK_INTERVIEWER], ended_at),
            )  # fmt: skip
        if mock.candidate == heavy.first_member:  # improves over the year, for the charts
            progress = (mock.started_at - (NOW - YEAR)) / YEAR
            level = min(_Scores.LEVELS - 1, int(2 + 12 * progress))
        else:
            level = mock.candidate % _Scores.LEVELS
        latest = max(0.0, (NOW - ended_at).total_seconds() - 1)
        overall_sum = 0.0
        criterion_sums = dict.fromkeys(DEFAULT_RUBRIC.ids, 0)
        signals = {name: 0 for _, name in SIGNAL_BANDS}
        peer_points = DEFAULT_POINTS[PointKind.PEER_VOTE]
        voted = 0
        for voter in voters:
            delay = rng.uniform(300, 47 * 3600)
            if delay > latest:
                continue  # an open mock: this voter has not voted yet
            vote_scores, overall, signal = scores.draw(rng, level)
            overall_sum += overall
            voted += 1
            signals[signal] += 1
            for cid, value in vote_scores.items():
                criterion_sums[cid] += value
            at = ended_at + timedelta(seconds=delay)
            comment = rng.choice(COMMENTS) if rng.random() < 0.3 else ""
            self._add(
                "votes",
                (self._next_id("votes"), interview_id, voter, vote_scores, overall, signal,
                 comment, at, at),
            )  # fmt: skip
            ledger.append(
                (self._next_id("points_ledger"), space.id, voter, PointKind.PEER_VOTE.value,
                 reference, peer_points, at)
            )  # fmt: skip
            self.buffered += 1
        if results_sent_at is not None and voted:
            mean = overall_sum / voted
            family = self.family_of[question]
            for cid, total in criterion_sums.items():  # and the candidate's progress totals
                entry = self.progress.setdefault((mock.candidate, family, cid), [0.0, 0])
                entry[0] += total / voted
                entry[1] += 1
            self._add(  # what delivering the result stores (scoring.results.record_result)
                "mock_results",
                (interview_id, space.id, mock.candidate, question, ended_at, results_sent_at,
                 {cid: total / voted for cid, total in criterion_sums.items()}, mean, voted,
                 signals, ),
            )  # fmt: skip
            bonus = max(0, round((mean - 2) * DEFAULT_POINTS[PointKind.SCORE_BONUS]))
            if bonus:
                self._add(
                    "points_ledger",
                    (self._next_id("points_ledger"), space.id, mock.candidate,
                     PointKind.SCORE_BONUS.value, reference, bonus, results_sent_at),
                )  # fmt: skip


def seed_totals(engine: Engine, writer: BulkWriter) -> int:
    """The leaderboard totals of the seeded ledger, as `dojo scoring rebuild` computes them
    (`scoring.totals.recompute`), written in bulk; rows written."""
    table = Base.metadata.tables["member_totals"]
    columns = ("workspace_id", "bucket", "member_id", "points")
    written = 0
    with Session(engine) as session:
        for chunk in totals.recompute(session):
            writer.write(table, columns, [(*key, points) for key, points in chunk.items()])
            written += len(chunk)
    return written


def finish(engine: Engine, log: Callable[[str], None]) -> None:
    """PostgreSQL: sequences past the explicit ids, and the statistics autovacuum would gather."""
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for name in (t for t in TABLE_ORDER if COLUMNS[t][0] == "id"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        log(f"  VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
    else:
        # No ANALYZE: the bot never runs it on SQLite, so its planner works without statistics.
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.commit()
        log(f"  WAL checkpoint: {time.perf_counter() - started:.1f} s")


def database_rows(engine: Engine) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for name in ("questions", *TABLE_ORDER, "member_totals"):
            counts[name] = int(connection.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
    return counts


def describe(rows: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in rows.items())
