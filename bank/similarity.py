"""Near-duplicate questions, found with MinHash sketches in an LSH index (datasketch).

Comparing every pair of questions grows with the square of the bank; an LSH index answers "which
questions could be this one?" in about constant time, so a 10,000-question import stays linear.
Prompts and guides are indexed apart: a copied guide under a new title and prompt is a
near-duplicate too, and so is a lightly reworded prompt. Similarity is the Jaccard index of word
3-shingles, estimated from 128 permutations (±0.04 near the threshold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 3
_WORD = re.compile(r"\w+")
_WIDTH = 16
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_CHAR_MIX = np.random.default_rng(13).integers(1, 2**63, _WIDTH, dtype=np.uint64) | np.uint64(1)
SCHEME = "affine32"  # 32-bit hashes (datasketch 2 schemes)
_EMPTY = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, hashfunc=int)


def shingles(text: str) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Word 3-grams of the case-folded text as distinct 32-bit hashes (a shorter text is one
    shingle). Hashing is vectorised: words become fixed-width code-point rows (the first 16
    characters count), mixed with fixed odd multipliers, then combined into 3-grams."""
    found = _WORD.findall(text.casefold())
    if not found:
        return np.zeros(0, dtype=np.uint64)
    codes = np.array(found, dtype=f"U{_WIDTH}").view(np.uint32).reshape(len(found), _WIDTH)
    words = (codes.astype(np.uint64) * _CHAR_MIX).sum(axis=1, dtype=np.uint64)
    words ^= words >> np.uint64(31)
    if len(words) >= SHINGLE:
        grams = words[:-2] * _MIX[0] + words[1:-1] * _MIX[1] + words[2:] * _MIX[2]
    else:
        grams = (words * _MIX[: len(words)]).sum(keepdims=True, dtype=np.uint64)
    grams ^= grams >> np.uint64(32)
    return np.unique(grams & np.uint64(0xFFFFFFFF))


def sketch(text: str) -> MinHash | None:
    """The text's MinHash, or None for a text without words (nothing to compare)."""
    grams = shingles(text)
    if not len(grams):
        return None
    minhash = _EMPTY.copy()  # datasketch's own bulk pattern: no per-sketch set-up
    minhash.update_batch(grams.tolist())
    return minhash


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
    def sketches(texts: Mapping[str, str]) -> dict[str, MinHash | None]:
        """Each part's MinHash, computed once for both `match` and `add`."""
        return {part: sketch(text) for part, text in texts.items()}

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
