"""The port between the core and the chat platforms (DESIGN.md §2).

Adapters turn platform events into `Command`s and `Action`s and render the neutral `Message`s the
core answers with. `ChatPort` is what the core may ask of a platform on its own initiative (daily
prompts, phase reminders). Nothing here knows which platform it is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Actor:
    workspace_id: str
    user_id: str
    display_name: str
    is_admin: bool = False


@dataclass(frozen=True)
class Place:
    channel_id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class ResolvedUser:
    """A user the platform itself resolved from a mention (Slack `<@U…>` looked up with
    users.info, a Discord member option): the only way a command can name another person."""

    user_id: str
    display_name: str


@dataclass(frozen=True)
class Command:
    """A typed `/mlsd` command: `name` is the subcommand, `args` the rest of the line.

    `mentions` are the people the text mentions, as the adapter resolved them on the platform;
    a mention in `args` without an entry here is refused by the core.
    """

    name: str
    args: str
    actor: Actor
    place: Place
    event_id: str | None = None
    mentions: tuple[ResolvedUser, ...] = ()

    @classmethod
    def from_text(
        cls,
        text: str,
        actor: Actor,
        place: Place,
        event_id: str | None = None,
        mentions: tuple[ResolvedUser, ...] = (),
    ) -> Command:
        name, _, args = text.strip().partition(" ")
        return cls(name.lower(), args.strip(), actor, place, event_id, mentions)


@dataclass(frozen=True)
class Action:
    """A button press (`value` set) or a submitted form (`fields` set)."""

    action_id: str
    value: str
    actor: Actor
    place: Place
    fields: Mapping[str, str] = field(default_factory=dict)
    event_id: str | None = None


class Style(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str = ""
    style: Style = Style.DEFAULT


@dataclass(frozen=True)
class Choice:
    """One option; `description` says more under the label where the platform has room
    (a scoring anchor), and adapters clip it to their limit."""

    value: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class FormInput:
    """A choice (select one of `choices`; any number of them with `multiple`) or a free-text
    input. A multiple choice arrives as its values joined by commas ("" when none)."""

    name: str
    label: str
    choices: tuple[Choice, ...] = ()
    required: bool = True
    multiline: bool = False
    max_length: int = 1000
    hint: str = ""
    multiple: bool = False

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class Form:
    """A dialog; submitting it arrives as `Action(form_id, value, fields=…)`."""

    form_id: str
    title: str
    inputs: tuple[FormInput, ...]
    value: str = ""
    submit_label: str = "Submit"


@dataclass(frozen=True)
class Image:
    filename: str
    png: bytes
    alt: str


@dataclass(frozen=True)
class Attachment:
    """A text file to hand over (e.g. an exported bank file)."""

    filename: str
    content: str


class Tone(StrEnum):
    """A hint for colour: adapters may tint by it (Discord embed colour, console style)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    PHASE = "phase"


@dataclass(frozen=True)
class Message:
    text: str
    title: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    form: Form | None = None
    images: tuple[Image, ...] = ()
    files: tuple[Attachment, ...] = ()
    tone: Tone = Tone.INFO
    # groups to notify (a Discord role id, a Slack user group id): adapters let these ping and
    # nothing else
    mentions: tuple[str, ...] = ()


MAX_ERROR = 1000


def clip_words(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with "…" when it is longer
    (mid-word only if a single word exceeds the room)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room else room
    return cut.rstrip(" ,;:·-") + "…"


@dataclass(frozen=True)
class Reply:
    """The core's answer to one command or action. `private`: only the actor should see it."""

    message: Message
    private: bool = True

    @classmethod
    def error(cls, text: str) -> Reply:
        """A short refusal; whatever it quotes, it stays a short message."""
        clipped = text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
        return cls(Message(clipped, tone=Tone.ERROR), private=True)


@dataclass(frozen=True)
class Delivered:
    """The platform accepted the call; `message_id` is the new (or found) message's id."""

    message_id: str = ""


@dataclass(frozen=True)
class Permanent:
    """Refused for that place (channel, thread, user or message): retrying cannot help.

    `reason` says what the platform answered, `fix` what a person can do about it.
    """

    reason: str
    fix: str
    code: str = ""


@dataclass(frozen=True)
class Transient:
    """Refused for now (rate limit, platform outage, connection reset before sending).

    `retry_after`: seconds the platform asked us to wait, or None when it did not say.
    """

    retry_after: float | None = None
    code: str = ""


@dataclass(frozen=True)
class Ambiguous:
    """The call went out and no answer came back: it may or may not have taken effect."""

    detail: str = ""


Outcome = Delivered | Permanent | Transient | Ambiguous


class ChatPort(Protocol):
    """What the core may ask of a platform outside a reply. Ids are the platform's own.

    Every call answers a typed `Outcome` instead of raising the platform library's errors.
    `key` marks a post so it can be found again (`find`) or de-duplicated by the platform when an
    ambiguous call is repeated (Discord message nonce, Slack message metadata).
    """

    def post(self, place: Place, message: Message, key: str | None = None) -> Outcome:
        """Post into a channel (or into `place.thread_id`); `Delivered.message_id` is its id."""

    def start_thread(self, channel_id: str, message: Message, key: str | None = None) -> Outcome:
        """Post `message` as the root of a new thread; `Delivered.message_id` is the thread id."""

    def edit(self, place: Place, message_id: str, message: Message) -> Outcome:
        """Replace a message the bot posted (e.g. to disable the buttons of a past phase)."""

    def send_private(self, user_id: str, place: Place, message: Message) -> Outcome:
        """A short-lived note only `user_id` sees (ephemeral in the place where possible)."""

    def send_direct(self, user_id: str, message: Message, key: str | None = None) -> Outcome:
        """A note that must last (a guide, a result): a direct message to `user_id`."""

    def find(self, place: Place, key: str) -> str | None:
        """The id of an earlier post marked `key` in `place` (a thread root: its thread id);
        `Place("@" + user_id)` means the direct messages with that user."""


@runtime_checkable
class VoiceRooms(Protocol):
    """An optional capability of a port: voice channels beside mock threads (Discord only)."""

    @property
    def voice_rooms(self) -> bool:
        """Whether the setting is on (and so whether the bot asked for Manage Channels)."""

    def open_voice_room(self, channel_id: str, name: str) -> str:
        """Create a voice channel next to `channel_id`; returns its id."""

    def close_voice_room(self, room_id: str) -> None:
        """Delete a voice channel made by `open_voice_room` (gone already: no error)."""
