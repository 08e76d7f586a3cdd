"""Benchmarks for mlsd-dojo: seed realistic volumes, time each operation next to bare SQL.

Run `python -m bench --db sqlite|postgresql --scale small|full` (README, "Performance"). Not part
of the test suite; nothing in `bot`, `scoring` or `bank` imports this package.
"""
