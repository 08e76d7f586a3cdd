"""Near-duplicate questions, found with MinHash sketches in an LSH index (datasketch).

Comparing every pair of questions grows with the square of the bank; an LSH index answers "which
questions could be this one?" in about constant time, so a 10,000-question import stays linear.
Prompts and guides are indexed apart: a copied guide under a new title and prompt is a
near-duplicate too, and so is a lightly reworded prompt. Similarity is the Jaccard index of word
3-shingles, estimated from 128 permutations (±0.04 near the threshold).

Sketches are computed for many texts at once: one numpy pass hashes every word of a batch, and
datasketch's own permutations are applied to all shingles of the batch together, with one
minimum per text (`np.minimum.reduceat`). The values are exactly those `MinHash.update_batch`
gives for each text alone; only the per-text Python and numpy call overhead is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 3
SEED = 1
_WORD = re.compile(r"\w+")
# ASCII bytes that `\w` does not match, mapped to a space (a faster way to the same words)
_ASCII_GAPS = bytes(c if chr(c).isascii() and _WORD.fullmatch(chr(c)) else 32 for c in range(256))
_WIDTH = 16
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_CHAR_MIX = np.random.default_rng(13).integers(1, 2**63, _WIDTH, dtype=np.uint64) | np.uint64(1)
SCHEME = "affine32"  # 32-bit hashes (datasketch 2 schemes)
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=int)
BATCH_WORDS = 1 << 14  # words per numpy pass: a (128 x shingles) uint32 block of about 8 MB

Hashes = np.ndarray[Any, np.dtype[np.uint64]]
Sketches = dict[str, LeanMinHash | None]  # a question's MinHash per part ("prompt", "guide")


def _word_hashes(found: Sequence[str]) -> Hashes:
    """Each word as a 64-bit hash of its first 16 code points, mixed with fixed odd multipliers."""
    codes = np.array(found, dtype=f"U{_WIDTH}").view(np.uint32).reshape(len(found), _WIDTH)
    hashed = (codes.astype(np.uint64) * _CHAR_MIX).sum(axis=1, dtype=np.uint64)
    hashed ^= hashed >> np.uint64(31)
    return hashed  # type: ignore[no-any-return]


def _fold(grams: Hashes) -> Hashes:
    grams ^= grams >> np.uint64(32)
    return grams & np.uint64(0xFFFFFFFF)


def _grams(hashed: Hashes) -> Hashes:
    """Word 3-grams of one text's word hashes (a text of one or two words is one shingle)."""
    if len(hashed) >= SHINGLE:
        grams = hashed[:-2] * _MIX[0] + hashed[1:-1] * _MIX[1] + hashed[2:] * _MIX[2]
    else:
        grams = (hashed * _MIX[: len(hashed)]).sum(keepdims=True, dtype=np.uint64)
    return _fold(grams)


def words(text: str) -> list[str]:
    r"""The case-folded text's `\w+` runs; ASCII text (the usual case) goes through
    `bytes.translate` and `split`, several times faster than the regular expression."""
    if text.isascii():
        return text.lower().encode("ascii").translate(_ASCII_GAPS).decode("ascii").split()
    return _WORD.findall(text.casefold())


def shingles(text: str) -> Hashes:
    """Word 3-grams of the case-folded text as distinct 32-bit hashes (a shorter text is one
    shingle). Hashing is vectorised: words become fixed-width code-point rows (the first 16
    characters count), mixed with fixed odd multipliers, then combined into 3-grams."""
    found = words(text)
    if not found:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(_grams(_word_hashes(found)))


def _batch_grams(texts: list[list[str]]) -> tuple[Hashes, list[int]]:
    """Every text's shingles in one array, and where each text's run starts (texts have words)."""
    hashed = _word_hashes([word for found in texts for word in found])
    bounds = np.cumsum([0] + [len(found) for found in texts])
    if all(len(found) >= SHINGLE for found in texts):
        grams = _fold(hashed[:-2] * _MIX[0] + hashed[1:-1] * _MIX[1] + hashed[2:] * _MIX[2])
        # a 3-gram starting in the last two words of a text runs into the next text: drop it
        keep = np.ones(len(grams), dtype=bool)
        for end in bounds[1:]:
            keep[end - 2 : end] = False
        starts = [int(start) - 2 * n for n, start in enumerate(bounds[:-1])]
        return grams[keep], starts
    parts = [_grams(hashed[start:end]) for start, end in pairwise(bounds)]
    starts = np.cumsum([0] + [len(part) for part in parts[:-1]]).tolist()
    return np.concatenate(parts), starts


def _minimums(grams: Hashes, starts: list[int]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """One row of 128 permuted minimums per text: datasketch's affine32 permutations (the
    template's own `a`, `b`, after the MurmurHash3 pre-mix it applies in `update_batch`)."""
    a, b = _TEMPLATE.permutations
    values = grams.astype(np.uint32)
    values ^= values >> np.uint32(16)
    values *= np.uint32(0x85EBCA6B)
    values ^= values >> np.uint32(13)
    values *= np.uint32(0xC2B2AE35)
    values ^= values >> np.uint32(16)
    permuted = a[:, None] * values[None, :]  # permutations by rows: each text's run is contiguous
    permuted += b[:, None]
    return np.minimum.reduceat(permuted, starts, axis=1).T


def sketch_many(texts: Sequence[str]) -> list[LeanMinHash | None]:
    """Each text's MinHash (None for a text without words), computed a batch at a time."""
    found = [words(text) for text in texts]
    sketches: list[LeanMinHash | None] = [None] * len(texts)
    batch: list[int] = []
    size = 0
    for position in [n for n, words in enumerate(found) if words] + [-1]:
        if batch and (position < 0 or size + len(found[position]) > BATCH_WORDS):
            grams, starts = _batch_grams([found[n] for n in batch])
            for n, row in zip(batch, _minimums(grams, starts), strict=True):
                sketches[n] = LeanMinHash(seed=SEED, hashvalues=row, scheme=SCHEME)
            batch, size = [], 0
        if position >= 0:
            batch.append(position)
            size += len(found[position])
    return sketches


def sketch(text: str) -> LeanMinHash | None:
    """The text's MinHash, or None for a text without words (nothing to compare)."""
    return sketch_many([text])[0]


@dataclass(frozen=True)
class Match:
    key: str
    part: str  # "prompt" or "guide"
    similarity: float


class NearDuplicates:
    """An index of questions by key (their slug); each part is compared with the same part."""

    def __init__(self, parts: Sequence[str] = ("prompt", "guide"), threshold: float = THRESHOLD):
        self.threshold = threshold
        self._lsh = {part: MinHashLSH(threshold=threshold, num_perm=NUM_PERM) for part in parts}
        self._sketches: dict[str, dict[str, MinHash]] = {part: {} for part in parts}

    @staticmethod
    def sketches(texts: Mapping[str, str]) -> Sketches:
        """Each part's MinHash, computed once for both `match` and `add`."""
        return NearDuplicates.sketches_of([texts])[0]

    @staticmethod
    def sketches_of(items: Sequence[Mapping[str, str]]) -> list[Sketches]:
        """`sketches` for many questions in one batched pass (what an import needs)."""
        keys = [(n, part) for n, texts in enumerate(items) for part in texts]
        found = sketch_many([items[n][part] for n, part in keys])
        result: list[Sketches] = [{} for _ in items]
        for (n, part), minhash in zip(keys, found, strict=True):
            result[n][part] = minhash
        return result

    def match(self, key: str, sketches: Mapping[str, MinHash | None]) -> Match | None:
        """The most similar other question at or above the threshold, if any."""
        best: Match | None = None
        for part, minhash in sketches.items():
            if minhash is None:
                continue
            for other in self._lsh[part].query(minhash):
                if other == key:
                    continue
                similarity = float(minhash.jaccard(self._sketches[part][other]))
                if similarity >= self.threshold and (best is None or similarity > best.similarity):
                    best = Match(other, part, similarity)
        return best

    def add(self, key: str, sketches: Mapping[str, MinHash | None]) -> None:
        """Index (or re-index) a question's parts under its key."""
        for part, minhash in sketches.items():
            if key in self._sketches[part]:
                self._lsh[part].remove(key)
                del self._sketches[part][key]
            if minhash is not None:
                self._lsh[part].insert(key, minhash)
                self._sketches[part][key] = minhash


def guide_text(guide: Mapping[str, Iterable[str]]) -> str:
    """Every line of a four-phase guide, one per line, in phase order."""
    return "\n".join(line for lines in guide.values() for line in lines)
