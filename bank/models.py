"""Tables for the bank and for the community it serves (DESIGN.md §4).

They live in the bottom layer because every layer above reads them: the scoring layer needs
members and mocks, the bot needs all of it. Behaviour lives in services, not here.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bank.orm import Base, utcnow

JsonDict = dict[str, Any]


class Family(Base):
    __tablename__ = "families"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint("status in ('active', 'retired')", name="status"),
        Index("ix_questions_family_status", "family_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"))
    # None: the shipped, operator-owned bank; else the one workspace that added it (bank/view.py)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(2))
    difficulty: Mapped[str | None] = mapped_column(String(10))  # format v1 only
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    baseline: Mapped[str] = mapped_column(Text)
    guide: Mapped[JsonDict] = mapped_column(JSON)
    follow_ups: Mapped[list[Any]] = mapped_column(JSON)  # lines (v1) or {ask, probes, covers}
    strong_signals: Mapped[JsonDict | None] = mapped_column(JSON)  # format v1 only
    # format v2 (bank/schema.py): None on a question imported from a v1 file
    anchors: Mapped[JsonDict | None] = mapped_column(JSON)
    red_flags: Mapped[list[str] | None] = mapped_column(JSON)
    level_bar: Mapped[JsonDict | None] = mapped_column(JSON)
    kit: Mapped[JsonDict | None] = mapped_column(JSON)
    reference_design: Mapped[JsonDict | None] = mapped_column(JSON)
    ladder: Mapped[str | None] = mapped_column(String(80))
    variants: Mapped[list[JsonDict] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="active")
    times_drawn: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    family: Mapped[Family] = relationship(lazy="joined")


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    admin_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    rubric: Mapped[JsonDict | None] = mapped_column(JSON)
    next_mock_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    # set while the member has left the server / been deactivated: hidden from leaderboards,
    # history kept; cleared when they come back
    left_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Channel(Base):
    """A chat channel; `next_daily_at` is derived from the schedule so the due-scan is one index."""

    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_channels_due", "daily_enabled", "next_daily_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    daily_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_time: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    days: Mapped[str] = mapped_column(String(40), default="mon,tue,wed,thu,fri")
    level_min: Mapped[str | None] = mapped_column(String(2))
    level_max: Mapped[str | None] = mapped_column(String(2))
    next_daily_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set when the platform refused the daily post for good (issue 12): why, and how to fix it
    paused_reason: Mapped[str | None] = mapped_column(String(300))
    paused_fix: Mapped[str | None] = mapped_column(String(300))
    paused_at: Mapped[datetime | None] = mapped_column()
    pause_told_at: Mapped[datetime | None] = mapped_column()


class DailyPrompt(Base):
    __tablename__ = "daily_prompts"
    __table_args__ = (
        UniqueConstraint("channel_id", "local_date"),
        # the few prompts claimed but not yet confirmed posted, for the re-post scan
        Index(
            "ix_daily_prompts_unposted",
            "created_at",
            postgresql_where=text("posted_at IS NULL"),
            sqlite_where=text("posted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    local_date: Mapped[date] = mapped_column(Date)
    thread_external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    posted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyAnswer(Base):
    __tablename__ = "daily_answers"
    __table_args__ = (UniqueConstraint("prompt_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("daily_prompts.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interview(Base):
    """A mock interview; phase timing lives in `interview_phases`, one row per phase entered."""

    __tablename__ = "interviews"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        CheckConstraint("status in ('running', 'paused', 'ended')", name="status"),
        Index("ix_interviews_candidate_status", "candidate_id", "status"),
        Index("ix_interviews_status_deadline", "status", "phase_deadline"),
        Index("ix_interviews_results_pending", "status", "results_final_at", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    thread_external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(10), default="standard")
    status: Mapped[str] = mapped_column(String(10), default="running")
    phase_index: Mapped[int] = mapped_column(Integer, default=0)
    phase_deadline: Mapped[datetime | None] = mapped_column()
    paused_remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    paused_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[str | None] = mapped_column(String(20))
    results_sent_at: Mapped[datetime | None] = mapped_column()
    # set once the vote window has closed and the final result was settled: keeps the
    # scheduler's "results due" scan to the few mocks still open
    results_final_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterviewPhase(Base):
    """Per phase: when it ran, how long it was given, and which reminders went out (once each)."""

    __tablename__ = "interview_phases"
    __table_args__ = (UniqueConstraint("interview_id", "phase_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    phase_index: Mapped[int] = mapped_column(Integer)
    budget_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    warning_sent_at: Mapped[datetime | None] = mapped_column()
    timeup_sent_at: Mapped[datetime | None] = mapped_column()
    message_external_id: Mapped[str | None] = mapped_column(String(64))


class InterviewParticipant(Base):
    __tablename__ = "interview_participants"
    __table_args__ = (UniqueConstraint("interview_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="interviewer")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    # first time they took part (joined themselves, wrote in the thread): points need it
    took_part_at: Mapped[datetime | None] = mapped_column()


class ProcessedEvent(Base):
    """Platform event ids already handled: a retried or double-sent event is dropped here."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# -- practice partners (issue 16): pairing queue, booked mocks, suggestions, digests, pings ------


class PairRequest(Base):
    """One member waiting for a partner; `window_start` None means "now". One wait per member."""

    __tablename__ = "pair_requests"
    __table_args__ = (
        CheckConstraint("status in ('waiting', 'matched', 'left', 'expired')", name="status"),
        Index("ix_pair_requests_workspace_status", "workspace_id", "status"),
        Index("ix_pair_requests_due", "status", "expires_at"),
        Index(
            "ix_pair_requests_one_waiting",
            "member_id",
            unique=True,
            postgresql_where=text("status = 'waiting'"),
            sqlite_where=text("status = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    family: Mapped[str | None] = mapped_column(String(80))  # None: any topic
    level: Mapped[str | None] = mapped_column(String(2))  # None: any level
    window_start: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    role: Mapped[str | None] = mapped_column(String(20))  # candidate / interviewer once matched
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # A match is announced after its commit (thread or booking card, then both notes):
    # `announcing_at` is when that was last taken up (the match, or a recovery's claim),
    # `announced_at` when it finished; a match a crash left unannounced is claimed again
    # (`pairing.claim_unannounced`).
    announcing_at: Mapped[datetime | None] = mapped_column()
    announced_at: Mapped[datetime | None] = mapped_column()
    # what the match made in its transaction: a mock now, or a booking for a later window
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="SET NULL")
    )
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))


class Booking(Base):
    """A mock booked for a time; it keeps its mock number (#N) when it starts as an interview."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        CheckConstraint(
            "status in ('booked', 'open', 'started', 'cancelled', 'no-show')", name="status"
        ),
        Index("ix_bookings_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    family: Mapped[str | None] = mapped_column(String(80))
    starts_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(10), default="booked")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    message_external_id: Mapped[str | None] = mapped_column(String(64))
    thread_external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reminded_hour_at: Mapped[datetime | None] = mapped_column()
    reminded_soon_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BookingRsvp(Base):
    """Who signed up for a booking and as what; `here_at` once they pressed "I'm here"."""

    __tablename__ = "booking_rsvps"
    __table_args__ = (
        UniqueConstraint("booking_id", "member_id"),
        CheckConstraint("role in ('candidate', 'interviewer', 'watcher')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    here_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberNote(Base):
    """A line in a member's history that is not points, e.g. a no-show; once per reference."""

    __tablename__ = "member_notes"
    __table_args__ = (UniqueConstraint("kind", "reference", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """A question a member proposed; admins approve it into the bank or reject it with a reason."""

    __tablename__ = "suggestions"
    __table_args__ = (
        CheckConstraint("status in ('pending', 'approved', 'rejected')", name="status"),
        Index("ix_suggestions_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    spec: Mapped[JsonDict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(String(300))
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelPing(Base):
    """The group the daily post of a channel mentions: a Discord role or a Slack user group id."""

    __tablename__ = "channel_pings"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(String(64))


class Digest(Base):
    """One weekly digest per channel and local week (the week's Monday): the row is the claim."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("channel_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoiceRoom(Base):
    """A voice channel beside a booked or running mock; `mock_key` ("booking:7", "interview:9")
    is the claim, so two processes never open two rooms for one mock."""

    __tablename__ = "voice_rooms"
    __table_args__ = (Index("ix_voice_rooms_open", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    mock_key: Mapped[str] = mapped_column(String(40), unique=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE")
    )
    room_external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class WorkspaceRetirement(Base):
    """A question a workspace's admins retired from chat: hidden in that workspace only."""

    __tablename__ = "workspace_retirements"
    __table_args__ = (UniqueConstraint("workspace_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    retired_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One keyed message the core sends: the ledger that makes every send happen exactly once.

    A row is written `pending` before the platform call (for reminders and results, in the same
    transaction as the change that makes the message due, with the message in `payload`), and
    becomes `delivered` (with the platform's message id) or `failed` (refused for good, with the
    reason). A `pending` row found later means the answer never came: the post is looked up
    by its key on the platform before it is sent again.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("platform", "key"),
        Index("ix_deliveries_pending", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    kind: Mapped[str] = mapped_column(String(12))  # post, thread, note
    channel_external_id: Mapped[str | None] = mapped_column(String(64))
    thread_external_id: Mapped[str | None] = mapped_column(String(64))
    user_external_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[JsonDict | None] = mapped_column(JSON)
    message_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormDraft(Base):
    """A multi-page form filled in part: shared by every process, gone after `expires_at`."""

    __tablename__ = "form_drafts"
    __table_args__ = (UniqueConstraint("platform", "user_external_id", "form_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_external_id: Mapped[str] = mapped_column(String(64))
    form_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[JsonDict] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
