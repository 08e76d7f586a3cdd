"""Plain YAML read in one pass over libyaml's events, with the bank file bounds kept on the way.

Bank files are plain YAML: mappings, sequences and scalars, no anchors, aliases, tags or merge
keys. For such a file, checking the bounds on the parser's events, composing a node tree and
constructing Python objects from it are three walks over the same text; here they are one, which
roughly halves the time of reading a large file. The result is what PyYAML's safe loader builds
(scalars are resolved by the loader's own resolver and constructors).

Anything else (an anchor, alias, tag, merge key, complex key, second document, empty stream, or a
bound exceeded, a syntax error or a scalar that cannot be constructed) returns `FULL`: the caller
then takes the general path, which bounds, composes and constructs in the usual way and reports
every problem exactly as before, with its line.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.nodes import ScalarNode

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster when present
_STR: Final = "tag:yaml.org,2002:str"
_MERGE: Final = "tag:yaml.org,2002:merge"
FULL: Final = object()  # "not plain: use the general loader"
_NO_KEY: Final = object()
_NODES: Final = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS: Final = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _NotPlain(Exception):
    """Raised inside the walk when the file needs the general loader."""


def _scalar(loader: Any, event: yaml.ScalarEvent) -> Any:
    if event.anchor is not None or event.tag is not None:
        raise _NotPlain
    value = event.value
    if not event.implicit[0]:  # quoted or block scalar: always a string
        return value
    tag = loader.resolve(ScalarNode, value, event.implicit)
    if tag == _STR:
        return value
    if tag == _MERGE:
        raise _NotPlain
    construct = loader.yaml_constructors.get(tag)
    if construct is None:  # e.g. "=" (the value tag): the general path reports it
        raise _NotPlain
    node = ScalarNode(tag, value, None, None, event.style)  # no marks: errors go the general way
    try:
        return construct(loader, node)
    except (yaml.YAMLError, ValueError):  # e.g. the date 2024-02-30
        raise _NotPlain from None


def _walk(loader: Any, max_depth: int, max_values: int) -> Any:
    """The document's data; `_NotPlain` for anything the general path must handle."""
    get_event = loader.get_event
    stack: list[Any] = []  # open containers
    keys: list[Any] = []  # per open mapping: its pending key, or _NO_KEY
    root: Any = FULL
    values = 0
    documents = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind in _NODES:
            values += 1
            if values > max_values:
                raise _NotPlain
            if kind is yaml.ScalarEvent:
                item = _scalar(loader, event)
            else:
                if event.anchor is not None or event.tag is not None:
                    raise _NotPlain
                if len(stack) >= max_depth:
                    raise _NotPlain
                item = {} if kind is yaml.MappingStartEvent else []
            if not stack:
                root = item
            else:
                top = stack[-1]
                if type(top) is list:
                    top.append(item)
                elif keys[-1] is _NO_KEY:
                    if kind is not yaml.ScalarEvent:  # a complex key
                        raise _NotPlain
                    keys[-1] = item
                else:
                    top[keys[-1]] = item
                    keys[-1] = _NO_KEY
            if kind is not yaml.ScalarEvent:
                stack.append(item)
                keys.append(_NO_KEY)
        elif kind in _ENDS:
            stack.pop()
            keys.pop()
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _NotPlain
        elif kind is yaml.StreamEndEvent:
            if root is FULL:  # an empty stream
                raise _NotPlain
            return root
        elif kind is yaml.AliasEvent:
            raise _NotPlain


def plain_data(text: str, max_depth: int, max_values: int) -> Any:
    """The data of a plain YAML text, or `FULL` when the general loader must read it (also
    when it is nested deeper than `max_depth` or holds more than `max_values` values)."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError:  # e.g. a control character: the general path reports it
        return FULL
    try:
        return _walk(loader, max_depth, max_values)
    except (_NotPlain, yaml.YAMLError):  # the general path reports errors, with their lines
        return FULL
    finally:
        loader.dispose()
