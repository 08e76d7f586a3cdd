"""Who a command names: only people the platform resolved, never text a user typed.

The grammar keeps a mention's platform id and drops everything else (a Slack `<@U…|label>` label
is typed text). Here each mention is matched with the adapter's `Command.mentions`; a mention the
platform did not resolve is refused, and the names shown are the platform's display names.
"""

from __future__ import annotations

from dataclasses import replace

from bot.grammar import Mention, Progress, Request, StartMock, UsageError
from bot.port import ResolvedUser

UNRESOLVED = "I could not confirm <@{user_id}> as a member here: pick people with the @ picker"


def _resolved(mention: Mention, known: dict[str, ResolvedUser], command: str) -> Mention:
    user = known.get(mention.user_id)
    if user is None:
        raise UsageError(UNRESOLVED.format(user_id=mention.user_id[:40]), command)
    return Mention(user.user_id, user.display_name)


def resolve(request: Request, mentions: tuple[ResolvedUser, ...], max_interviewers: int) -> Request:
    """`request` with every mention replaced by its resolved member. Raises `UsageError` for an
    unresolved mention or for more than `max_interviewers` interviewers on a mock."""
    known = {user.user_id: user for user in mentions}
    if isinstance(request, StartMock):
        if len(request.interviewers) > max_interviewers:
            raise UsageError(
                f"at most {max_interviewers} interviewers per mock "
                f"(got {len(request.interviewers)})",
                "mock",
            )
        panel = tuple(_resolved(m, known, "mock") for m in request.interviewers)
        return replace(request, interviewers=panel)
    if isinstance(request, Progress) and request.member is not None:
        return replace(request, member=_resolved(request.member, known, "progress"))
    return request
