"""What the core does with each platform outcome (DESIGN.md §11): the delivery policy.

- Permanent: never retried; the caller decides (pause a schedule, fall back, tell the actor).
- Transient: a bounded number of retries, waiting what the platform asked (`Retry-After`) or an
  exponential backoff; a wait longer than `MAX_WAIT` is not taken here (the next tick retries).
- Ambiguous: a keyed post is looked up on the platform (`ChatPort.find`) and sent again only if
  it is not there, with the same key (Discord de-duplicates it by nonce); an unkeyed post is not
  repeated (it might double).

Keyed sends go through the `deliveries` ledger, so each key is delivered exactly once: across
retries, restarts and SIGKILL (a `pending` row is looked up before anything is sent again).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.db import Database
from bank.models import Delivery
from bank.upsert import insert_ignore
from bot.port import (
    Ambiguous,
    Attachment,
    Button,
    ChatPort,
    Delivered,
    Message,
    Outcome,
    Permanent,
    Place,
    Style,
    Tone,
    Transient,
)

log = logging.getLogger("dojo.delivery")
MAX_ATTEMPTS = 4
MAX_WAIT = 10.0  # seconds; a longer Retry-After is left to the next scheduler tick
BACKOFF = 0.5  # seconds before the second attempt; doubles each time

Sleep = Callable[[float], None]


def describe(outcome: Outcome) -> str:
    """A sentence for people about a failed outcome (what happened; for Permanent, the fix)."""
    match outcome:
        case Permanent(reason, fix):
            return f"{reason}; to fix it: {fix}"
        case Transient():
            return "the platform is busy or unreachable right now; I will not retry it by hand"
        case Ambiguous():
            return "the platform did not answer, so I cannot tell whether it arrived"
    return "it went through"


def backoff(outcome: Transient, attempt: int) -> float | None:
    """Seconds to wait after a Transient outcome of attempt number `attempt` (from 0): what
    the platform asked, else exponential; None when that is too long or attempts are spent."""
    wait = BACKOFF * 2**attempt if outcome.retry_after is None else outcome.retry_after
    return None if wait > MAX_WAIT or attempt == MAX_ATTEMPTS - 1 else wait


async def retry_async(call: Callable[[], Awaitable[Outcome]]) -> Outcome:
    """`Courier.retry` for an unkeyed call awaited on the event loop (a reply): Transient waits
    without holding a thread; Ambiguous is not repeated (it might double)."""
    outcome: Outcome = Ambiguous("not attempted")
    for attempt in range(MAX_ATTEMPTS):
        outcome = await call()
        if not isinstance(outcome, Transient):
            return outcome
        wait = backoff(outcome, attempt)
        if wait is None:
            return outcome
        await asyncio.sleep(wait)
    return outcome


@dataclass(frozen=True)
class Note:
    """A private note that must reach `user_id`: a DM first, then an ephemeral note in `place`,
    then (DMs closed and no ephemeral possible) a public `fallback` line in `place`."""

    user_id: str
    place: Place
    message: Message
    fallback: str


class Courier:
    """Sends through a `ChatPort` with the policy above; one per call site is cheap."""

    def __init__(
        self, db: Database, port: ChatPort, platform: str, now: Callable[[], datetime], sleep: Sleep
    ) -> None:
        self.db = db
        self.port = port
        self.platform = platform
        self.now = now
        self.sleep = sleep

    # -- unkeyed (replies, edits): retried only when that cannot double anything --------------

    def post(self, place: Place, message: Message) -> Outcome:
        return self.retry(lambda: self.port.post(place, message))

    def edit(self, place: Place, message_id: str, message: Message) -> Outcome:
        return self.retry(lambda: self.port.edit(place, message_id, message), repeatable=True)

    def private(self, user_id: str, place: Place, message: Message) -> Outcome:
        return self.retry(lambda: self.port.send_private(user_id, place, message))

    def note(self, note: Note, key: str | None = None) -> Outcome:
        """Deliver `note` by the first way that works. Permanent when it could not be delivered
        privately (the public pointer was then posted instead, if the place allowed it)."""
        outcome = self.retry(
            lambda: self.port.send_direct(note.user_id, note.message, key),
            find=(lambda: None) if key else None,
            repeatable=key is not None,
        )
        if not isinstance(outcome, Permanent):
            return outcome
        log.info("no direct message to %s (%s); trying in place", note.user_id, outcome.reason)
        fallback = self.retry(
            lambda: self.port.send_private(note.user_id, note.place, note.message)
        )
        if not isinstance(fallback, Permanent):
            return fallback
        pointer = self.retry(
            lambda: self.port.post(note.place, Message(note.fallback, tone=Tone.INFO), key),
            find=(lambda: self.port.find(note.place, key)) if key else None,
        )
        if not isinstance(pointer, Delivered):
            log.warning("no way to reach %s: %s", note.user_id, pointer)
        return fallback  # the note itself did not reach them privately; the pointer did

    def retry(
        self,
        call: Callable[[], Outcome],
        *,
        find: Callable[[], str | None] | None = None,
        repeatable: bool = False,
    ) -> Outcome:
        """Bounded retries: Transient waits and tries again; Ambiguous looks the post up (`find`)
        and repeats only what is `repeatable` or keyed (has a `find`)."""
        outcome: Outcome = Ambiguous("not attempted")
        for attempt in range(MAX_ATTEMPTS):
            outcome = call()
            if isinstance(outcome, Delivered | Permanent):
                return outcome
            if isinstance(outcome, Transient):
                wait = backoff(outcome, attempt)
                if wait is None:
                    return outcome
                self.sleep(wait)
                continue
            if find is not None:
                found = find()
                if found is not None:
                    return Delivered(found)
            elif not repeatable:
                return outcome
        return outcome

    # -- keyed: exactly once, through the ledger ------------------------------------------------

    def start_thread(self, channel_id: str, message: Message, key: str) -> Outcome:
        place = Place(channel_id)
        return self._once(
            key,
            lambda: self.port.start_thread(channel_id, message, key),
            lambda: self.port.find(place, key),
        )

    def post_once(self, place: Place, message: Message, key: str) -> Outcome:
        return self._once(
            key, lambda: self.port.post(place, message, key), lambda: self.port.find(place, key)
        )

    def _once(
        self, key: str, send: Callable[[], Outcome], find: Callable[[], str | None]
    ) -> Outcome:
        with self.db.unit_of_work() as session:
            row = self._row(session, key)
            if row is None:
                insert_ignore(session, Delivery, self._pending(key, "post"), ("platform", "key"))
            earlier = None if row is None else _settled(row)
            state = None if row is None else row.state
        if earlier is not None:
            return earlier
        if state == "pending":  # an earlier attempt's answer never came
            found = find()
            if found is not None:
                self._record(key, Delivered(found))
                return Delivered(found)
        outcome = self.retry(send, find=find)
        self._record(key, outcome)
        return outcome

    # -- the outbox: messages made due inside a transaction, sent after it commits ----------------

    def enqueue(
        self, session: Session, key: str, place: Place, message: Message, note: Note | None = None
    ) -> str:
        """Add `message` for `place` (or `note`) to the ledger in the caller's transaction."""
        values = self._pending(key, "note" if note else "post")
        values.update(
            channel_external_id=place.channel_id,
            thread_external_id=place.thread_id,
            user_external_id=note.user_id if note else None,
            payload={
                "message": to_json(note.message if note else message),
                "fallback": note.fallback if note else "",
            },
        )
        insert_ignore(session, Delivery, values, ("platform", "key"))
        return key

    def flush(self, keys: list[str]) -> dict[str, Outcome]:
        """Send the queued messages named by `keys` that are not delivered yet."""
        results: dict[str, Outcome] = {}
        for key in keys:
            with self.db.unit_of_work() as session:
                row = self._row(session, key)
                if row is None or row.payload is None:
                    continue
                earlier = _settled(row)
                if earlier is not None:
                    results[key] = earlier
                    continue
                first = row.attempts == 0
                row.attempts += 1  # counted before the call: a kill after it still looks first
                place = Place(row.channel_external_id or "", row.thread_external_id)
                message = from_json(row.payload["message"])
                user = row.user_external_id
                fallback = str(row.payload.get("fallback", ""))

            def find(p: Place = place, k: str = key, u: str | None = user) -> str | None:
                direct = self.port.find(Place(f"@{u}"), k) if u is not None else None
                return direct or self.port.find(p, k)

            if not first:  # sent before, no answer recorded: is it there already?
                found = find()
                if found is not None:
                    self._record(key, Delivered(found))
                    results[key] = Delivered(found)
                    continue
            if user is not None:
                outcome = self.note(Note(user, place, message, fallback), key)
            else:
                send = functools.partial(self.port.post, place, message, key)
                outcome = self.retry(send, find=find)
            self._record(key, outcome)
            results[key] = outcome
        return results

    def resend_pending(self, older_than: timedelta = timedelta()) -> int:
        """Deliver every queued message of this platform still pending (a crash, a dropped
        connection or a long rate limit came in between); returns how many went out now."""
        cutoff = self.now() - older_than
        with self.db.unit_of_work() as session:
            keys = list(
                session.scalars(
                    select(Delivery.key)
                    .where(
                        Delivery.platform == self.platform,
                        Delivery.state == "pending",
                        Delivery.payload.is_not(None),
                        Delivery.created_at <= cutoff,
                    )
                    .order_by(Delivery.id)
                )
            )
        results = self.flush(keys)
        return sum(isinstance(o, Delivered) for o in results.values())

    # -- ledger rows -------------------------------------------------------------------------------

    def _row(self, session: Session, key: str) -> Delivery | None:
        return session.scalars(
            select(Delivery).where(Delivery.platform == self.platform, Delivery.key == key)
        ).first()

    def _pending(self, key: str, kind: str) -> dict[str, Any]:
        now = self.now()
        return {
            "platform": self.platform,
            "key": key,
            "state": "pending",
            "kind": kind,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }

    def _record(self, key: str, outcome: Outcome) -> None:
        with self.db.unit_of_work() as session:
            row = self._row(session, key)
            if row is None:
                return
            row.updated_at = self.now()
            if isinstance(outcome, Delivered):
                row.state, row.message_id = "delivered", outcome.message_id
            elif isinstance(outcome, Permanent):
                row.state, row.reason = "failed", f"{outcome.reason}\n{outcome.fix}"[:300]

    def forget(self, key: str) -> None:
        """Drop a key's ledger row (its work was taken back, e.g. a refused daily prompt)."""
        with self.db.unit_of_work() as session:
            row = self._row(session, key)
            if row is not None:
                session.delete(row)


def _settled(row: Delivery) -> Outcome | None:
    """A ledger row's final outcome, or None while it is pending."""
    if row.state == "delivered":
        return Delivered(row.message_id or "")
    if row.state == "failed":
        reason, _, fix = (row.reason or "").partition("\n")
        return Permanent(reason, fix)
    return None


def to_json(message: Message) -> dict[str, Any]:
    """The parts of a message the outbox keeps (text, title, fields, buttons, tone, text files)."""
    assert not (message.images or message.form), "outbox messages hold no images or forms"
    return {
        "files": [[f.filename, f.content] for f in message.files],
        "text": message.text,
        "title": message.title,
        "fields": [list(f) for f in message.fields],
        "buttons": [[b.label, b.action_id, b.value, b.style.value] for b in message.buttons],
        "tone": message.tone.value,
    }


def from_json(data: dict[str, Any]) -> Message:
    return replace(
        Message(str(data["text"])),
        title=str(data.get("title", "")),
        fields=tuple((str(a), str(b)) for a, b in data.get("fields", [])),
        buttons=tuple(Button(a, b, c, Style(d)) for a, b, c, d in data.get("buttons", [])),
        tone=Tone(data.get("tone", "info")),
        files=tuple(Attachment(str(a), str(b)) for a, b in data.get("files", [])),
    )
