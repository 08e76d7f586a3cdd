"""`python -m bench --db sqlite|postgresql --scale small|full [--url URL] [--json out.json]`.

Seeds a scratch database (or the empty one at --url), times every operation next to its bare SQL,
starts the bot in a process of its own, then prints a table and writes JSON. See README,
"Performance".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bank.catalog import ensure_builtin_bank
from bank.db import Database, make_engine
from bank.models import Member
from bench import runner
from bench.bulk import BulkWriter
from bench.ops import OPERATIONS, Bench, BenchError, discover
from bench.scale import NOW, SCALES, Scale
from bench.seed import Seeder, database_rows, describe, finish, seed_totals
from bench.target import TargetError, open_target
from bot import migrate

PROCESS_STARTS = 5


def log(line: str) -> None:
    print(line, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed realistic volumes and time each operation next to its bare SQL.",
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument(
        "--url",
        help="an empty database to use (default: a scratch one; PostgreSQL needs "
        "DOJO_BENCH_POSTGRES_URL or DOJO_TEST_POSTGRES_URL, an admin URL)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-seed",
        action="store_true",
        help="--url holds a database seeded by an earlier run (--keep): measure only",
    )
    parser.add_argument(
        "--only",
        help="comma-separated operation keys: "
        + ", ".join(op.key for op in OPERATIONS)
        + ", startup_process",
    )
    return parser.parse_args(argv)


def seed(db: Database, url: str, scale: Scale) -> dict[str, Any]:
    started = time.perf_counter()
    migrate.upgrade(db)
    with db.unit_of_work() as session:
        if session.scalar(select(func.count()).select_from(Member)):
            raise BenchError(
                "the database already holds members: give an empty one, or --no-seed to "
                "measure a database seeded by an earlier run"
            )
        ensure_builtin_bank(session)
    log(f"schema (Alembic) and built-in bank: {time.perf_counter() - started:.1f} s")
    engine = make_engine(url)  # its own connections: bulk-load settings stay off the bench
    try:
        writer = BulkWriter(engine)
        try:
            summary = Seeder(engine, scale, log).run(writer)
            totals_started = time.perf_counter()
            totals_rows = seed_totals(engine, writer)
            totals_seconds = time.perf_counter() - totals_started
            log(f"leaderboard totals: {totals_rows:,} rows in {totals_seconds:.1f} s")
        finally:
            writer.close()
        rows = sum(summary.rows.values())
        rate = rows / summary.seconds
        log(f"seeded {rows:,} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s)")
        for name, stats in writer.stats.items():
            rate = stats.rows / stats.seconds if stats.seconds else 0.0
            log(
                f"  {name:<24} {stats.rows:>10,} rows  {stats.seconds:6.1f} s  {rate:>9,.0f} rows/s"
            )
        finish(engine, log)
    finally:
        engine.dispose()
    return {
        "rows": summary.rows,
        "totals_seconds": round(totals_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "rows_per_second": round(rows / summary.seconds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scale = SCALES[args.scale]
    chosen = {key.strip() for key in args.only.split(",")} if args.only else None
    if args.no_seed and not args.url:
        log("error: --no-seed needs --url")
        return 2
    begun = time.perf_counter()
    try:
        with (
            open_target(args.db, args.url, args.keep) as target,
            open(os.devnull, "w") as null,
            tempfile.TemporaryDirectory(prefix="dojo-bench-out-") as out_dir,
        ):
            db = Database(target.url)
            try:
                log(f"mlsd-dojo bench: {args.db}, scale {scale.name}, at {NOW:%Y-%m-%d %H:%M} UTC")
                seeded = None if args.no_seed else seed(db, target.url, scale)
                rows = database_rows(db.engine)
                log(f"database: {describe(rows)}")
                bench = Bench(db, target.url, discover(db), Path(out_dir), null)
                outcomes: list[runner.Outcome] = []
                for operation in OPERATIONS:
                    if chosen is not None and operation.key not in chosen:
                        continue
                    outcome = runner.run_operation(bench, operation)
                    outcomes.append(outcome)
                    ratio = "" if outcome.ratio is None else f", ratio {outcome.ratio:.2f}"
                    log(
                        f"  {operation.title:<36} p50 {runner.ms(outcome.stats.p50):>9} ms  "
                        f"p99 {runner.ms(outcome.stats.p99):>9} ms{ratio}"
                    )
                memory = None
                if chosen is None or "startup_process" in chosen:
                    process = runner.run_process_startup(bench, PROCESS_STARTS)
                    outcomes.append(process.outcome)
                    memory = process.memory
                meta = runner.machine(args.db, runner.server_version(bench))
            finally:
                db.dispose()
    except (TargetError, BenchError) as exc:
        log(f"error: {exc}")
        return 1
    total = time.perf_counter() - begun
    print()
    print(
        f"## {args.db}, scale {scale.name} ({meta['cpus']} CPUs, {meta['cpu_model']}, "
        f"{meta['memory_gib']} GiB; Python {meta['python']}, SQLite {meta['sqlite']}"
        + (f", PostgreSQL {meta['postgresql']}" if meta["postgresql"] else "")
        + f"; load average at the end {meta['load_average_1_5_15']})"
    )
    print()
    print(runner.table(outcomes))
    print()
    print(runner.notes(outcomes))
    if memory is not None:
        print(
            f"- resident memory (bot process): {memory['rss_after_start_mib']} MiB after start-up, "
            f"{memory['rss_after_leaderboard_mib']} MiB after the leaderboard "
            f"(peak {memory['peak_after_leaderboard_mib']} MiB)"
        )
    print(f"\ntotal run time {total:.0f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "backend": args.db,
            "scale": scale.name,
            "at": NOW.isoformat(),
            "machine": meta,
            "seed": seeded,
            "rows": rows,
            "operations": [o.as_json() for o in outcomes],
            "memory": memory,
            "total_seconds": round(total, 1),
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
