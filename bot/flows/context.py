"""What every flow needs: the database, the chat port, the clock, and who is asking."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bank.db import Database
from bank.models import Channel, Interview
from bank.scope import Scope
from bot.clock import Clock
from bot.community import Seen
from bot.delivery import Courier
from bot.port import Actor, ChatPort, Place
from bot.ratelimit import Pacer

log = logging.getLogger("dojo.due")


@dataclass
class Context:
    db: Database
    port: ChatPort
    clock: Clock
    platform: str
    seed: str = "mlsd-dojo"
    max_interviewers: int = 4
    # the workspaces whose due work this process does: its platform's, all or some (bank/scope.py)
    scope: Scope = field(init=False)
    # paces the scheduled fan-out (daily questions); each adapter sets its platform's rate
    fanout: Pacer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.scope = Scope(self.platform)

    sleep: Callable[[float], None] = time.sleep  # waits between platform retries (tests: no-op)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def courier(self) -> Courier:
        """The port behind the delivery policy: retries, fallbacks, exactly-once keys."""
        return Courier(self.db, self.port, self.platform, self.now, self.sleep)

    @contextmanager
    def seen(self, actor: Actor, place: Place) -> Iterator[tuple[Session, Seen]]:
        """A unit of work with the actor's workspace, member and channel rows at hand."""
        with self.db.unit_of_work() as session:
            yield session, Seen(session, self.platform, actor, place)


def thread_place(session: Session, interview: Interview) -> Place:
    channel = session.get_one(Channel, interview.channel_id)
    return Place(channel.external_id, interview.thread_external_id)


@contextmanager
def isolated(what: str) -> Iterator[None]:
    """One item of due work failing (a platform refusing a post) must not stop the others."""
    try:
        yield
    except Exception:
        log.exception("%s failed; the rest of the due work goes on", what)
