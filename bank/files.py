"""Reading and writing bank files, with errors that point at file, question, field and line."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bank.schema import BankFile

BUILTIN_DIR = Path(str(files("bank") / "data"))
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster when present
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class BankLimits(BaseSettings):
    """Bounds on a bank file, so a hostile or broken file fails fast with one line instead of
    exhausting memory, time or the stack. Settings `DOJO_BANK_MAX_BYTES` and friends."""

    model_config = SettingsConfigDict(env_prefix="DOJO_BANK_", env_file=".env", extra="ignore")

    max_bytes: int = 32 * 1024 * 1024  # about 10,000 questions
    max_depth: int = 12  # the schema needs 5 levels
    max_aliases: int = 100  # YAML `*alias` references
    max_values: int = 2_000_000  # values after expanding aliases (a 10,000-question file: ~0.5M)


class BankFileError(Exception):
    """A bank file that cannot be used; `problems` holds one human-readable line per fault."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    bank: BankFile


def _node_line(root: yaml.Node, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest YAML node on the path `loc`, if the parser knows it."""
    node: yaml.Node | None = root
    line = root.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _slug_at(data: Any, loc: Sequence[int | str]) -> str | None:
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        try:
            slug = data["questions"][loc[1]].get("slug")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return str(slug) if slug is not None else f"#{loc[1] + 1}"
    return None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large tree of acyclic objects is built: collections
    triggered by the allocations alone more than double the time of composing a big file."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def check_size(size: int, name: str, limits: BankLimits) -> None:
    if size > limits.max_bytes:
        raise BankFileError(
            Path(name),
            [
                f"{name}: {_megabytes(size)} is over the {_megabytes(limits.max_bytes)} limit "
                "for a bank file (DOJO_BANK_MAX_BYTES)"
            ],
        )


def check_structure(text: str, name: str, limits: BankLimits) -> None:
    """Nesting depth, alias count and the size after expanding aliases, from the parser's events
    (iterative, so a 100,000-level file cannot overflow the stack before it is refused)."""
    depth = aliases = values = 0
    anchors: dict[str, int] = {}
    opened: list[tuple[str | None, int]] = []
    problem = ""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, _OPEN):
            depth += 1
            values += 1
            opened.append((event.anchor, values))
            if depth > limits.max_depth:
                problem = f"nested deeper than {limits.max_depth} levels (DOJO_BANK_MAX_DEPTH)"
        elif isinstance(event, _CLOSE):
            depth -= 1
            anchor, start = opened.pop()
            if anchor is not None:
                anchors[anchor] = values - start + 1
        elif isinstance(event, yaml.ScalarEvent):
            values += 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            values += anchors.get(event.anchor or "", 1)
            if aliases > limits.max_aliases:
                problem = f"more than {limits.max_aliases} aliases (DOJO_BANK_MAX_ALIASES)"
        if values > limits.max_values:
            problem = (
                f"expands to more than {limits.max_values:,} values through anchors and aliases "
                "(DOJO_BANK_MAX_VALUES)"
            )
        if problem:
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            raise BankFileError(Path(name), [f"{name}:{line}: {problem}"])


def _compose(text: str, path: Path) -> tuple[yaml.Node, Any]:
    """The general path: the node tree (for error lines) and the data built from it."""
    loader = _Loader(text)  # rejects control characters already
    try:
        root = loader.get_single_node()
        if root is None:
            raise BankFileError(path, [f"{path.name}: the file is empty"])
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def parse_bank_text(text: str, path: Path, limits: BankLimits | None = None) -> BankFile:
    """A bank file's text, checked against `limits` (from the environment when not given)
    before it is composed; every fault becomes a `BankFileError` line, never a traceback."""
    name = path.name
    limits = limits or BankLimits()
    try:
        check_size(len(text.encode("utf-8", "surrogatepass")), name, limits)
        with gc_paused():
            check_structure(text, name, limits)
            root, data = _compose(text, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise BankFileError(path, [f"{name}{where}: not valid YAML: {reason}"]) from None
    except ValueError as exc:  # e.g. a number too long for Python to convert
        raise BankFileError(path, [f"{name}: unreadable value: {str(exc)[:120]}"]) from None
    try:
        return BankFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = error["loc"]
            line = _node_line(root, loc)
            slug = _slug_at(data, loc)
            field = ".".join(str(part) for part in (loc[2:] if slug else loc)) or "(file)"
            where = f"{name}:{line}" if line else name
            subject = f"question {slug!r}, field {field}" if slug else f"field {field}"
            problems.append(f"{where}: {subject}: {error['msg']}")
        raise BankFileError(path, problems) from None


def load_bank_file(path: Path, limits: BankLimits | None = None) -> LoadedFile:
    limits = limits or BankLimits()
    try:
        check_size(path.stat().st_size, path.name, limits)  # before reading it into memory
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankFileError(path, [f"{path.name}: cannot be read: {exc}"]) from None
    return LoadedFile(path, parse_bank_text(text, path, limits))


def bank_paths(target: Path) -> list[Path]:
    """A file, or every `*.yaml`/`*.yml` file in a directory, in a stable order."""
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml"))
    return [target]


def dump_bank_file(bank: BankFile) -> str:
    """YAML that reads back to the same `BankFile` (defaults left out, keys in schema order)."""
    data = bank.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    data.setdefault("aliases", [])
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def private_dir(directory: Path) -> Path:
    """Create `directory` (and missing parents) for the owner only (0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def write_private(path: Path, data: bytes) -> Path:
    """Write a file the owner alone can read (0600), whatever the umask: exports, charts and
    databases hold members' names and scores."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path


def write_bank_files(banks: Iterable[BankFile], directory: Path) -> list[Path]:
    private_dir(directory)
    written = []
    for bank in banks:
        path = directory / f"{bank.family}.yaml"
        write_private(path, dump_bank_file(bank).encode("utf-8"))
        written.append(path)
    return written
