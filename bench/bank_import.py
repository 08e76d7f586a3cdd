"""`python -m bench.bank_import [--sizes 1000 10000] [--json out.json]`: bank import time.

Writes synthetic bank files (1,000 questions per family file, each question with its own prompt
and guide drawn from a vocabulary, realistic in length), then times parsing and checking the
files and importing them, near-duplicate check included, into a fresh SQLite database at head.
A second run of the same files (all unchanged) shows the cost of the index over a full bank.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bank.catalog import import_banks, load_files
from bank.db import Database
from bank.schema import BankFile, StrongSignals
from bot import migrate

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # writing the files is not measured
PER_FILE = 1000
CRITERIA = tuple(StrongSignals.model_fields)
PHASE_LINES = {"clarify": 4, "architecture": 5, "deep_dive": 6, "trade_offs": 4}


def _words(rng: random.Random, vocabulary: Sequence[str], count: int) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def question(rng: random.Random, vocabulary: Sequence[str], number: int) -> dict[str, Any]:
    slug = f"bench-q{number:05d}"
    return {
        "slug": slug,
        "title": f"Design system {number}: {_words(rng, vocabulary, 4)}",
        "prompt": f"Question {number}. " + _words(rng, vocabulary, 70) + ".",
        "level": rng.choice(["L3", "L4", "L5", "L6"]),
        "difficulty": rng.choice(["easy", "medium", "hard"]),
        "tags": ["bench", f"t{number % 50}"],
        "baseline": _words(rng, vocabulary, 15),
        "guide": {
            phase: [_words(rng, vocabulary, 18) for _ in range(lines)]
            for phase, lines in PHASE_LINES.items()
        },
        "follow_ups": [_words(rng, vocabulary, 12) for _ in range(3)],
        "strong_signals": {c: _words(rng, vocabulary, 14) for c in CRITERIA},
    }


def write_bank(directory: Path, size: int, seed: int = 13) -> list[Path]:
    rng = random.Random(seed)
    vocabulary = [f"w{rng.getrandbits(32):x}" for _ in range(5000)]
    paths = []
    for start in range(0, size, PER_FILE):
        family = f"bench-family-{start // PER_FILE:03d}"
        bank = BankFile.model_validate(
            {
                "family": family,
                "name": f"Bench family {start // PER_FILE}",
                "aliases": [],
                "questions": [
                    question(rng, vocabulary, n) for n in range(start, min(size, start + PER_FILE))
                ],
            }
        )
        path = directory / f"{family}.yaml"
        data = bank.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def measure(size: int, work: Path) -> dict[str, Any]:
    bank_dir = work / f"bank-{size}"
    bank_dir.mkdir()
    write_bank(bank_dir, size)
    megabytes = sum(p.stat().st_size for p in bank_dir.iterdir()) / 1024 / 1024
    db = Database(f"sqlite:///{work / f'import-{size}.db'}")
    migrate.upgrade(db)
    load = os.getloadavg()[0]  # a shared machine shows here: wall time then includes waiting
    cpu = time.process_time()
    started = time.perf_counter()
    banks = load_files(bank_dir)
    parsed = time.perf_counter()
    with db.unit_of_work() as session:
        report = import_banks(session, banks)
    imported = time.perf_counter()
    cpu = time.process_time() - cpu
    with db.unit_of_work() as session:
        again = import_banks(session, load_files(bank_dir))
    repeated = time.perf_counter()
    db.engine.dispose()
    assert len(report.added) == size and not report.rejected, report.summary()
    assert len(again.unchanged) == size, again.summary()
    return {
        "questions": size,
        "megabytes": round(megabytes, 1),
        "parse_seconds": round(parsed - started, 2),
        "import_seconds": round(imported - parsed, 2),
        "total_seconds": round(imported - started, 2),
        "total_cpu_seconds": round(cpu, 2),  # what the wall time is on an otherwise idle core
        "reimport_seconds": round(repeated - imported, 2),
        "load_average": round(load, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bank_import", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dojo-bench-import-") as work:
        for size in args.sizes:
            rows.append(measure(size, Path(work)))
            row = rows[-1]
            print(
                f"{row['questions']:>7,} questions ({row['megabytes']} MB): "
                f"parse+check {row['parse_seconds']} s, import {row['import_seconds']} s, "
                f"total {row['total_seconds']} s (CPU {row['total_cpu_seconds']} s); "
                "re-import (all unchanged) "
                f"{row['reimport_seconds']} s; load average {row['load_average']}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
