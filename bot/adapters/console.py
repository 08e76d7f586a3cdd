"""The console channel: a local chat in the terminal, and a script runner for whole journeys.

Each input line is one event (DESIGN.md §3, console script grammar):

    alice: /mlsd mock recommendation @bob     a user types in the channel
    bob #3: I would start by asking…          a user writes in the thread of mock #3
    carol #daily: my answer                   a user writes in the newest daily thread
    bob: [Next phase]                         a user presses the newest button with that label
    carol> title: Ranking jobs                fills a field of the form the bot last opened for
                                              carol (`\\n` starts a new line in the value)
    carol> submit                             submits that form
    ~ +6m                                     the clock moves forward (s, m, h, d)
    # a comment

What the bot says is printed (with colour on a terminal, plain text otherwise); images and
exported files are written to the output directory.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from bank.db import Database
from bank.files import private_dir, write_private
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.port import (
    Action,
    Actor,
    Ambiguous,
    Button,
    Command,
    Delivered,
    Form,
    Message,
    Outcome,
    Place,
    Reply,
    ResolvedUser,
    Tone,
)
from bot.scheduler import Ticker
from bot.text import render

WORKSPACE = "console"
CHANNEL = "general"
BOT = "dojo"
_LINE = re.compile(r"^(?P<who>[\w.\-]+)(?:\s+#(?P<thread>\w+))?\s*:\s*(?P<text>.*)$")
_CLOCK = re.compile(r"^~\s*\+\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhd])$")
_BUTTON = re.compile(r"^\[(?P<label>[^\]]+)\]$")
_FIELD = re.compile(r"^(?P<who>[\w.\-]+)>\s*(?:(?P<name>\w+)\s*:\s?(?P<value>.*)|submit)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_STYLE = {
    Tone.INFO: "cyan",
    Tone.SUCCESS: "green",
    Tone.WARNING: "yellow",
    Tone.ERROR: "red",
    Tone.PHASE: "magenta",
}


_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _visible(char: str) -> str:
    code = ord(char)
    if char in "\n\t" or not (code < 0x20 or 0x7F <= code < 0xA0 or code in _BIDI):
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_terminal(text: str) -> str:
    """Untrusted text for a terminal: control characters (ANSI escapes, carriage returns, bells)
    and bidirectional overrides shown as `\\xNN`/`\\uNNNN`, so nobody can redraw the screen or
    reverse a line; rich markup is escaped separately when printing."""
    return "".join(map(_visible, text))


def terminal(text: str) -> str:
    """A core text for the console: rich markup escaped, untrusted control characters shown."""
    return escape(render(text, escape_terminal))


@dataclass
class Posted:
    message_id: str
    place: Place
    message: Message


class ConsolePort:
    """The ChatPort of the console: prints, and remembers messages so buttons can be pressed.

    Keyed posts are also written to a journal in `out_dir` (the console's message history), so
    `find` answers across restarts like a platform's history does. Tests can plan failures
    (`plan`): the next calls answer those outcomes; an `Ambiguous` one is printed first (the
    post went out, the answer was lost), the others are not.
    """

    JOURNAL = "console-posts.jsonl"

    def __init__(self, console: Console, out_dir: Path) -> None:
        self.console = console
        self.out_dir = out_dir
        self.posted: list[Posted] = []
        self.private: list[tuple[str, Message]] = []
        self.planned: list[Outcome] = []
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]  # ids stay unique across restarts on one database

    def plan(self, *outcomes: Outcome) -> None:
        """Make the next calls answer `outcomes` (in order); `Delivered()` lets one through."""
        self.planned.extend(outcomes)

    def _new_id(self) -> str:
        return f"m{next(self._ids)}-{self._run}"

    def _refused(self) -> Outcome | None:
        """The planned outcome of this call; a planned `Delivered` lets it through as usual."""
        planned = self.planned.pop(0) if self.planned else None
        return None if isinstance(planned, Delivered) else planned

    def post(self, place: Place, message: Message, key: str | None = None) -> Outcome:
        refused = self._refused()
        if refused is not None and not isinstance(refused, Ambiguous):
            return refused
        message_id = self._new_id()
        if key is not None:  # history first, then the screen: what is shown can be found
            self._journal(key, place, message_id)
        self.posted.append(Posted(message_id, place, message))
        self.show(message, thread=place.thread_id)
        return refused or Delivered(message_id)

    def start_thread(self, channel_id: str, message: Message, key: str | None = None) -> Outcome:
        return self.post(Place(channel_id), message, key)

    def edit(self, place: Place, message_id: str, message: Message) -> Outcome:
        refused = self._refused()
        if refused is not None and not isinstance(refused, Ambiguous):
            return refused
        for index, posted in enumerate(self.posted):
            if posted.message_id == message_id:
                self.posted[index] = Posted(message_id, posted.place, message)
        return refused or Delivered(message_id)

    def send_private(self, user_id: str, place: Place, message: Message) -> Outcome:
        refused = self._refused()
        if refused is not None and not isinstance(refused, Ambiguous):
            return refused
        self.private.append((user_id, message))
        self.show(message, to=user_id)
        return refused or Delivered()

    def send_direct(self, user_id: str, message: Message, key: str | None = None) -> Outcome:
        refused = self._refused()
        if refused is not None and not isinstance(refused, Ambiguous):
            return refused
        if key is not None:
            self._journal(key, Place(f"@{user_id}"), key)
        self.private.append((user_id, message))
        self.show(message, to=user_id)
        return refused or Delivered(key or "")

    def find(self, place: Place, key: str) -> str | None:
        path = self.out_dir / self.JOURNAL
        if not path.exists():
            return None
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("key") == key:
                return str(entry["id"])
        return None

    def _journal(self, key: str, place: Place, message_id: str) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        entry = json.dumps({"key": key, "channel": place.channel_id, "id": message_id})
        with (self.out_dir / self.JOURNAL).open("a") as journal:
            journal.write(entry + "\n")  # one short append: whole after a kill

    def find_button(self, label: str) -> tuple[Posted, Button] | None:
        wanted = label.strip().casefold()
        for posted in reversed(self.posted):
            for button in posted.message.buttons:
                if button.label.casefold() == wanted:
                    return posted, button
        return None

    def show(self, message: Message, *, to: str | None = None, thread: str | None = None) -> None:
        colour = _STYLE[message.tone]
        head = f"[bold {colour}]{BOT}[/]"
        if to is not None:
            head += f" → {terminal(to)} [dim](only {terminal(to)} sees this)[/]"
        indent = "    ↳ " if thread else ""
        lines = []
        if message.mentions:
            lines.append(" ".join(f"[bold]@{escape(group)}[/]" for group in message.mentions))
        if message.title:
            lines.append(f"[bold]{terminal(message.title)}[/]")
        lines.extend(terminal(message.text).splitlines())
        for name, value in message.fields:
            value_lines = terminal(value).splitlines() or [""]
            lines.append(f"[dim]{terminal(name)}:[/] {value_lines[0]}")
            lines.extend(f"  {v}" for v in value_lines[1:])
        if message.form is not None:
            lines.append(
                f"[dim]form «{terminal(message.form.title)}»:[/] "
                + ", ".join(terminal(i.label) for i in message.form.inputs)
            )
            for item in message.form.inputs:  # the options that explain themselves (anchors)
                described = [c for c in item.choices if c.description]
                if described:
                    lines.append(f"  [dim]{escape(item.label)}:[/]")
                    lines.extend(
                        f"    {escape(c.label)} {escape(c.description)}" for c in described
                    )
        if message.buttons:
            lines.append(" ".join(f"[reverse] {terminal(b.label)} [/]" for b in message.buttons))
        for image in message.images:
            path = self._save(image.filename, image.png)
            lines.append(f"[dim]image saved:[/] {escape(str(path))} ({escape(image.alt)})")
        for attachment in message.files:
            path = self._save(attachment.filename, attachment.content.encode())
            lines.append(f"[dim]file saved:[/] {escape(str(path))}")
        pad = " " * (len(indent) + len(BOT) + 2)
        first, *rest = lines or [""]
        self.console.print(f"{indent}{head}: {first}")
        for line in rest:
            self.console.print(f"{pad}{line}")
        self.console.file.flush()  # a transcript must survive a crash of this process

    def _save(self, filename: str, data: bytes) -> Path:
        private_dir(self.out_dir)
        return write_private(self.out_dir / Path(filename).name, data)


_CONSOLE_MENTION = re.compile(r"(?<!\S)@([\w.\-]+)")


def console_mentions(text: str) -> tuple[str, tuple[ResolvedUser, ...]]:
    """The console is its own platform: its users are the names typed in the script, so it
    resolves `@bob` itself, as Slack and Discord resolve their mentions."""
    names = list(dict.fromkeys(_CONSOLE_MENTION.findall(text)))
    return _CONSOLE_MENTION.sub(r"<@\1>", text), tuple(ResolvedUser(n, n) for n in names)


class ConsoleChannel:
    """Turns script lines into the core's events and prints the conversation."""

    def __init__(
        self,
        dojo: Dojo,
        port: ConsolePort,
        clock: ManualClock,
        admins: Iterable[str] | None,
        echo: bool,
    ) -> None:
        self.dojo = dojo
        self.port = port
        self.clock = clock
        self.admins = {a.strip() for a in admins or () if a.strip()}
        self.echo = echo
        self._events = itertools.count(1)
        self._run_id = uuid.uuid4().hex[:8]  # event ids stay unique across restarts
        self.forms: dict[str, tuple[Form, Place, dict[str, str]]] = {}  # per user: open form
        self.private_buttons: dict[str, list[Posted]] = {}  # per user: buttons only they saw

    def actor(self, name: str) -> Actor:
        if not self.admins:
            self.admins.add(name)  # the first user who speaks is the admin by default
        return Actor(WORKSPACE, name, name, is_admin=name in self.admins)

    def feed(self, raw: str) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        if self.echo:
            self.port.console.print(f"[dim]{terminal(line)}[/]")
        clock = _CLOCK.match(line)
        if clock:
            unit = _UNITS[clock.group("unit")]
            self.clock.advance(timedelta(**{unit: float(clock.group("n"))}))
            self.dojo.run_due()
            return
        field = _FIELD.match(line)
        if field:
            self._fill(field.group("who"), field.group("name"), field.group("value"))
            self.dojo.run_due()
            return
        match = _LINE.match(line)
        if match is None:
            self.port.console.print(
                "[red]?[/] lines look like `alice: /mlsd help` (or `~ +5m` to move the clock)"
            )
            return
        actor = self.actor(match.group("who"))
        place = self._place(match.group("thread"))
        if place is None:
            return
        text = match.group("text").strip()
        event_id = f"console-{self._run_id}-{next(self._events)}"
        button = _BUTTON.match(text)
        if button:
            self._press(actor, button.group("label"), event_id)
        elif text.startswith("/mlsd"):
            typed, mentions = console_mentions(text.removeprefix("/mlsd"))
            command = Command.from_text(typed, actor, place, event_id, mentions)
            self._reply(actor, self.dojo.handle_command(command), place)
        elif place.thread_id is not None:
            self.dojo.handle_message(actor, place, event_id)
        self.dojo.run_due()

    def _place(self, thread: str | None) -> Place | None:
        if thread is None:
            return Place(CHANNEL)
        found = (
            self.dojo.daily_thread(WORKSPACE, CHANNEL)
            if thread == "daily"
            else self.dojo.mock_thread(WORKSPACE, int(thread))
            if thread.isdigit()
            else None
        )
        if found is None:
            self.port.console.print(f"[red]?[/] there is no thread #{terminal(thread)} yet")
            return None
        return Place(CHANNEL, found)

    def _press(self, actor: Actor, label: str, event_id: str) -> None:
        found = self._private_button(actor.user_id, label) or self.port.find_button(label)
        if found is None:
            self.port.console.print(f"[red]?[/] no message has a [{terminal(label)}] button")
            return
        posted, button = found
        place = posted.place if posted.place.thread_id else Place(CHANNEL, posted.message_id)
        action = Action(button.action_id, button.value, actor, place, event_id=event_id)
        self._reply(actor, self.dojo.handle_action(action), place)

    def _private_button(self, user: str, label: str) -> tuple[Posted, Button] | None:
        """A button on a private reply to `user` (e.g. an admin's review card), newest first."""
        wanted = label.strip().casefold()
        for posted in reversed(self.private_buttons.get(user, [])):
            for button in posted.message.buttons:
                if button.label.casefold() == wanted:
                    return posted, button
        return None

    def _fill(self, who: str, name: str | None, value: str | None) -> None:
        """A field of the user's open form, or (no name) its submission."""
        if who not in self.forms:
            self.port.console.print(f"[red]?[/] {escape(who)} has no form open")
            return
        form, place, fields = self.forms[who]
        if name is not None:
            if name not in {item.name for item in form.inputs}:
                known = ", ".join(item.name for item in form.inputs)
                self.port.console.print(f"[red]?[/] the form has no field {escape(name)} ({known})")
                return
            fields[name] = (value or "").replace("\\n", "\n")
            return
        del self.forms[who]
        event_id = f"console-{self._run_id}-{next(self._events)}"
        action = Action(form.form_id, form.value, self.actor(who), place, dict(fields), event_id)
        self._reply(self.actor(who), self.dojo.handle_action(action), place)

    def _reply(self, actor: Actor, reply: Reply | None, place: Place | None = None) -> None:
        if reply is None:
            return
        if reply.message.form is not None:
            self.forms[actor.user_id] = (reply.message.form, place or Place(CHANNEL), {})
        if reply.private and reply.message.buttons:
            where = place or Place(CHANNEL)
            shown = Posted(f"private-{next(self._events)}", where, reply.message)
            self.private_buttons.setdefault(actor.user_id, []).append(shown)
        self.port.show(reply.message, to=actor.user_id if reply.private else None)


def run_console(
    db: Database,
    admins: list[str] | None = None,
    speed: float | None = None,
    start: datetime | None = None,
    out_dir: Path = Path("dojo-output"),
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    max_interviewers: int = 4,
) -> None:
    """Run the console channel until end of input (Ctrl-D) or Ctrl-C.

    Interactive (a terminal): the clock runs at `speed` (default 1) and timers fire on their own.
    Scripted (piped input): the clock stands still (unless `speed` is given) and moves only with
    `~ +N[smhd]` lines, so a transcript is the same on every run.
    """
    interactive = stdin.isatty()
    console = Console(file=stdout, highlight=False, soft_wrap=True)
    rate = speed if speed is not None else (1.0 if interactive else 0.0)
    clock = ManualClock(start=start, speed=rate)
    port = ConsolePort(console, out_dir)
    dojo = Dojo(db, port, clock, platform="console", max_interviewers=max_interviewers)
    channel = ConsoleChannel(dojo, port, clock, admins, echo=not interactive)
    ticker = None
    if interactive:
        console.print(
            f"[bold]mlsd-dojo[/] console · channel #{CHANNEL} · type "
            "`alice: /mlsd help` · Ctrl-D to quit"
        )
    if rate > 0:  # the clock runs: the scheduler fires timers on its own
        ticker = Ticker(dojo, interval=1.0)
        ticker.start()
    else:
        dojo.recover()
    try:
        for raw in stdin:
            channel.feed(raw)
    except KeyboardInterrupt:
        pass
    finally:
        if ticker is not None:
            ticker.stop()
        if interactive:
            console.print("bye")
