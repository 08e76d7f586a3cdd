"""Reading and writing bank files, with errors that point at file, question, field and line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bank.schema import BankFile

BUILTIN_DIR = Path(str(files("bank") / "data"))


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


def parse_bank_text(text: str, path: Path) -> BankFile:
    name = path.name
    try:
        loader = yaml.SafeLoader(text)  # rejects control characters already
        try:
            root = loader.get_single_node()
            if root is None:
                raise BankFileError(path, [f"{name}: the file is empty"])
            data = loader.construct_document(root)
        finally:
            loader.dispose()
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


def load_bank_file(path: Path) -> LoadedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankFileError(path, [f"{path.name}: cannot be read: {exc}"]) from None
    return LoadedFile(path, parse_bank_text(text, path))


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


def write_bank_files(banks: Iterable[BankFile], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for bank in banks:
        path = directory / f"{bank.family}.yaml"
        path.write_text(dump_bank_file(bank), encoding="utf-8")
        written.append(path)
    return written
