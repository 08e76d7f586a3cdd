"""`python -m bench.load`: commands at fixed offered rates against the real bot, through the
platforms' own interfaces, with the Web API as slow as asked (issue 18).

Per platform and database the bot runs as `dojo run` in a process of its own against a fake
(in this process); the workspace is prepared through the bot. Each cell (command, rate, Web API
latency) sends `rate x seconds` commands on a fixed schedule, never waiting for answers (an
open loop, as a crowd behaves), then waits for the answers and measures, per command, the
acknowledgement and the answer's arrival at the fake, what never came, what said "busy", and
the bot's resident memory before, at the peak and a while after. See README, "Performance".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bench.load_probe import Monitor, Request, cpu_seconds, rss_mib
from bench.load_rigs import COMMANDS, MEMBERS, DiscordRig, Matcher, Rig, RigError, SlackRig
from bench.runner import machine
from bench.target import TargetError, open_target
from bench.timing import Stats
from bot import migrate

T = TypeVar("T")
FLOOR_SAMPLES = 30
QUIET_SECONDS = 2.0  # no calls reach the fake this long: the bot has finished the cell's work


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Sender:
    """An event loop in a thread of its own, with one HTTP session without a connection cap,
    so a slow bot never slows the schedule down."""

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.timeout = timeout
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.session = self.run(self._open())

    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )

    def run(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def close(self) -> None:
        self.run(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


async def open_loop(
    rate: float, seconds: float, fire: Callable[[int], Coroutine[Any, Any, Request]]
) -> tuple[list[Request], float]:
    """Command i leaves at start + i / rate whatever happened to the earlier ones; returns the
    requests and how late the schedule ran at worst (the bench's own lag, seconds)."""
    loop = asyncio.get_running_loop()
    count = max(1, round(rate * seconds))
    start = loop.time() + 0.05
    tasks: list[asyncio.Task[Request]] = []
    lag = 0.0
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, loop.time() - due)
        tasks.append(asyncio.create_task(fire(i)))
    return list(await asyncio.gather(*tasks)), lag


@dataclass
class Cell:
    platform: str
    db: str
    command: str
    rate: float
    latency: float
    sent: int
    ack: dict[str, float] | None
    done: dict[str, float] | None
    answered: int
    lost: int
    busy: int
    limited: int  # refused by the bot's fair-use rate limits (--rate-limits)
    failed: int  # the bot answered that it failed ("something went wrong", database down)
    errors: int
    strays: int  # answers that matched no request of the cell
    rss_idle_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    cpu_seconds: float
    sender_lag_ms: float
    seconds_to_quiet: float


def _stats(samples: list[float]) -> dict[str, float] | None:
    return Stats.of(samples).as_ms() if samples else None


def _quiet(matcher: Matcher, fake_mark: Callable[[], int], cap: float) -> float:
    """Poll until no call reached the fake for QUIET_SECONDS (at most `cap` s); returns how long
    that took. Late answers are still matched, so they never land on the next cell."""
    started = time.monotonic()
    mark, changed = fake_mark(), time.monotonic()
    while time.monotonic() - started < cap:
        matcher.poll()
        now_mark = fake_mark()
        if now_mark != mark:
            mark, changed = now_mark, time.monotonic()
        elif time.monotonic() - changed >= QUIET_SECONDS:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def run_cell(
    rig: Rig,
    sender: Sender,
    db: str,
    command: str,
    rate: float,
    latency: float,
    args: argparse.Namespace,
) -> Cell:
    rig.set_latency(latency)
    matcher = rig.matcher()
    pid = rig.bot.pid
    idle = rss_mib(pid)
    cpu_before = cpu_seconds(pid)
    with Monitor(pid) as monitor:
        requests, lag = sender.run(
            open_loop(rate, args.seconds, lambda i: rig.fire(sender.session, matcher, command, i))
        )
        last_sent = max(r.sent for r in requests)
        while time.monotonic() < last_sent + args.timeout:
            matcher.poll()
            if all(r.done is not None or r.error for r in requests):
                break
            time.sleep(0.05)
        quiet = _quiet(matcher, rig.fake.mark, args.timeout)
    cpu = cpu_seconds(pid) - cpu_before
    if args.after > 0:
        time.sleep(args.after)
    after = rss_mib(pid)

    in_time = [
        r
        for r in requests
        if r.done_seconds is not None and r.done_seconds <= args.timeout and not r.error
    ]
    answered = [r for r in in_time if r.outcome == "ok"]
    return Cell(
        platform=rig.platform,
        db=db,
        command=command,
        rate=rate,
        latency=latency,
        sent=len(requests),
        ack=_stats([s for r in requests if (s := r.ack_seconds) is not None]),
        done=_stats([s for r in answered if (s := r.done_seconds) is not None]),
        answered=len(answered),
        lost=len(requests) - len(in_time),
        busy=sum(1 for r in in_time if r.outcome == "busy"),
        limited=sum(1 for r in in_time if r.outcome == "limited"),
        failed=sum(1 for r in in_time if r.outcome == "failed"),
        errors=sum(1 for r in requests if r.error),
        strays=matcher.strays,
        rss_idle_mib=round(idle, 1),
        rss_peak_mib=round(max(monitor.peak, idle), 1),
        rss_after_mib=round(after, 1),
        cpu_seconds=round(cpu, 2),
        sender_lag_ms=round(lag * 1000, 1),
        seconds_to_quiet=round(quiet, 1),
    )


def prepare_database(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db)
        with db.unit_of_work() as session:
            ensure_builtin_bank(session)
    finally:
        db.dispose()


def start_rig(platform: str, url: str, members: int, rate_limits: bool) -> Rig:
    kind = SlackRig if platform == "slack" else DiscordRig
    rig: Rig = kind(url, members, rate_limits)
    try:
        rig.wait_ready()
        started = time.monotonic()
        rig.prepare()
        log(f"  prepared the workspace through the bot in {time.monotonic() - started:.1f} s")
    except BaseException:
        rig.stop()
        raise
    return rig


def _ms(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "–"
    return f"{stats['p50_ms']:.0f} / {stats['p99_ms']:.0f} / {stats['max_ms']:.0f}"


def table(cells: Sequence[Cell]) -> str:
    lines = [
        "| platform | db | command | rate/s | API latency | sent | ack p50/p99/max ms "
        "| answer p50/p99/max ms | lost | busy | failed | RSS idle/peak/after MiB | bot CPU s |",
        "|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|",
    ]
    for c in cells:
        lines.append(
            f"| {c.platform} | {c.db} | {c.command} | {c.rate:g} | {c.latency * 1000:.0f} ms "
            f"| {c.sent} | {_ms(c.ack)} | {_ms(c.done)} | {c.lost} | {c.busy} | {c.failed} "
            f"| {c.rss_idle_mib:.0f} / {c.rss_peak_mib:.0f} / {c.rss_after_mib:.0f} "
            f"| {c.cpu_seconds:.1f} |"
        )
    return "\n".join(lines)


def floor_table(floors: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| platform | API latency | fake round trip p50/p99/max ms (the floor) |",
        "|---|---:|---|",
    ]
    for f in floors:
        lines.append(f"| {f['platform']} | {f['latency'] * 1000:.0f} ms | {_ms(f['stats'])} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Open-loop command rates against the real bot and local platform fakes.",
    )
    parser.add_argument("--platform", choices=("slack", "discord", "both"), default="both")
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    parser.add_argument("--rates", nargs="+", type=float, default=[10, 50, 100, 200])
    parser.add_argument(
        "--latency", nargs="+", type=float, default=[0.0, 0.1], help="Web API latency, seconds"
    )
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each burst")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="an answer later than this is lost"
    )
    parser.add_argument(
        "--after", type=float, default=60.0, help="seconds after a burst before RSS is read again"
    )
    parser.add_argument("--quick", action="store_true", help="--after 3 (memory is not settled)")
    parser.add_argument("--members", type=int, default=MEMBERS, help="people sending commands")
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="keep the bot's fair-use rate limits (lifted by default; refusals count as limited)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    if args.quick:
        args.after = 3.0
    return args


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally`s that stop the bot


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    platforms = ("slack", "discord") if args.platform == "both" else (args.platform,)
    cells: list[Cell] = []
    floors: list[dict[str, Any]] = []
    begun = time.monotonic()
    sender = Sender(args.timeout)
    try:
        for backend in args.db:
            with open_target(backend, None, keep=False) as target:
                prepare_database(target.url)
                for platform in platforms:
                    log(f"{platform} on {backend}: starting the bot")
                    rig = start_rig(platform, target.url, args.members, args.rate_limits)
                    try:
                        for latency in args.latency:
                            rig.set_latency(latency)
                            samples = sender.run(rig.floor(sender.session, FLOOR_SAMPLES))
                            floors.append(
                                {"platform": platform, "latency": latency, "stats": _stats(samples)}
                            )
                            for command in args.commands:
                                for rate in args.rates:
                                    cell = run_cell(
                                        rig, sender, backend, command, rate, latency, args
                                    )
                                    cells.append(cell)
                                    log(
                                        f"  {command} {rate:g}/s {latency * 1000:.0f} ms: "
                                        f"ack {_ms(cell.ack)}, answer {_ms(cell.done)}, "
                                        f"lost {cell.lost}, busy {cell.busy}, "
                                        f"limited {cell.limited}, failed {cell.failed}"
                                    )
                    finally:
                        rig.stop()
    except (TargetError, RigError) as exc:
        log(f"error: {exc}")
        return 1
    finally:
        sender.close()
    meta = machine(",".join(args.db), None)
    print(
        f"## Load: {meta['cpus']} CPUs, {meta['cpu_model']}, {meta['memory_gib']} GiB; "
        f"Python {meta['python']}; {args.seconds:g} s per burst, answers later than "
        f"{args.timeout:g} s lost, RSS 'after' {args.after:g} s after the burst; load average "
        f"at the end {meta['load_average_1_5_15']}"
    )
    print()
    print(table(cells))
    print()
    print(floor_table(floors))
    if cells:
        lag = max(c.sender_lag_ms for c in cells)
        strays = sum(c.strays for c in cells)
        limited = sum(c.limited for c in cells)
        print(
            f"\nthe send schedule ran at most {lag:.0f} ms late; {strays} answers paired with no "
            f"command; {limited} refused by a fair-use rate limit"
        )
    print(f"\ntotal run time {time.monotonic() - begun:.0f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": meta,
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "cells": [asdict(c) for c in cells],
            "floors": floors,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
