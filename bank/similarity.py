"""Near-duplicate questions, found with MinHash sketches in an LSH index (datasketch).

Comparing every pair of questions grows with the square of the bank; an LSH index answers "which
questions could be this one?" in about constant time, so a 10,000-question import stays linear.
Prompts and guides are indexed apart: a copied guide under a new title and prompt is a
near-duplicate too, and so is a lightly reworded prompt. Similarity is the Jaccard index of word
3-shingles, estimated from 128 permutations (±0.04 near the threshold).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from datasketch import LeanMinHash, MinHash, MinHashLSH

THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 3
_WORD = re.compile(r"\w+")
SCHEME = "affine32"  # 32-bit hashes (datasketch 2 schemes)
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME).permutations


def _hash(data: bytes) -> int:
    return zlib.crc32(data)  # 32 bits, as MinHash expects; fast and stable across processes


def shingles(text: str) -> set[bytes]:
    """Word 3-grams of the case-folded text (a shorter text is one shingle)."""
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


def sketch(text: str) -> LeanMinHash | None:
    """The text's MinHash, or None for a text without words (nothing to compare)."""
    grams = shingles(text)
    if not grams:
        return None
    minhash = MinHash(num_perm=NUM_PERM, hashfunc=_hash, permutations=_PERMUTATIONS, scheme=SCHEME)
    minhash.update_batch(grams)
    return LeanMinHash(minhash)


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
        self._sketches: dict[str, dict[str, LeanMinHash]] = {part: {} for part in parts}

    def match(self, key: str, texts: dict[str, str]) -> Match | None:
        """The most similar other question at or above the threshold, if any."""
        best: Match | None = None
        for part, text in texts.items():
            minhash = sketch(text)
            if minhash is None:
                continue
            for other in self._lsh[part].query(minhash):
                if other == key:
                    continue
                similarity = float(minhash.jaccard(self._sketches[part][other]))
                if similarity >= self.threshold and (best is None or similarity > best.similarity):
                    best = Match(other, part, similarity)
        return best

    def add(self, key: str, texts: dict[str, str]) -> None:
        """Index (or re-index) a question's parts under its key."""
        for part, text in texts.items():
            if key in self._sketches[part]:
                self._lsh[part].remove(key)
                del self._sketches[part][key]
            minhash = sketch(text)
            if minhash is not None:
                self._lsh[part].insert(key, minhash)
                self._sketches[part][key] = minhash


def guide_text(guide: Mapping[str, Iterable[str]]) -> str:
    """Every line of a four-phase guide, one per line, in phase order."""
    return "\n".join(line for lines in guide.values() for line in lines)
