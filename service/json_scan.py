"""A linear pre-scan of a JSON body: how deep it nests and how many values parsing it would create.

Both figures are needed before `json.loads` runs: depth to refuse what would recurse too far, and the value
count to know what the parsed document will cost in memory (every JSON value becomes a Python object of
tens of bytes, so a dense body of numbers expands many times over). The scan works on fixed-size chunks
with numpy, carrying its state from one chunk to the next, so its memory is bounded whatever the body holds
(a regular expression that strips strings kept state per character: 8.9 GiB for one 64 MiB string).
"""

from dataclasses import dataclass

import numpy as np

# Chunk size: the per-chunk temporaries are a few int64 arrays of this many elements (about 8 MiB in all).
_CHUNK = 256 * 1024
_QUOTE = ord('"')
_BACKSLASH = ord("\\")
_BRACKET_STEP = np.zeros(256, dtype=np.int64)
_BRACKET_STEP[list(b"[{")] = 1
_BRACKET_STEP[list(b"]}")] = -1
# Outside strings, each of these starts a value or a key: an upper bound on the objects parsing creates.
_STARTS_ITEM = np.zeros(256, dtype=bool)
_STARTS_ITEM[list(b"[{,:")] = True
_STRUCTURAL = _STARTS_ITEM.copy()
_STRUCTURAL[list(b'"]}')] = True


@dataclass(frozen=True)
class JsonShape:
    """What the scan found: the deepest nesting of arrays/objects and at most how many values (keys
    included) the document holds. Exact for valid JSON; for anything else the parser's verdict counts."""

    depth: int
    values: int


def scan_json(raw: bytes) -> JsonShape:
    """Depth and value count of `raw`, brackets and commas inside strings ignored (escapes honoured)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    depth = deepest = 0
    in_string = False
    backslashes = 0  # length of the run of backslashes that ended the previous chunk
    items = 1 if data.size else 0
    for start in range(0, data.size, _CHUNK):
        chunk = data[start : start + _CHUNK]
        structural, quotes, backslashes = _structural_bytes(chunk, backslashes)
        # A byte is inside a string when an odd number of unescaped quotes precede it (its own included,
        # which only matters for quotes, never counted below).
        inside = (np.cumsum(quotes, dtype=np.int64) + in_string) % 2 == 1
        outside = ~inside & ~quotes
        levels = depth + np.cumsum(np.where(outside, _BRACKET_STEP[structural], 0))
        if levels.size:
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
        items += int(np.count_nonzero(outside & _STARTS_ITEM[structural]))
        in_string = (int(np.count_nonzero(quotes)) + in_string) % 2 == 1
    return JsonShape(depth=deepest, values=items)


def _structural_bytes(chunk: np.ndarray, backslashes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The chunk's bytes that can matter (all of them where backslashes may escape quotes), which of those
    are unescaped quotes, and the run of backslashes the chunk ends with."""
    if backslashes == 0 and not np.any(chunk == _BACKSLASH):
        # The common case, no escapes: only quotes, brackets, commas and colons need looking at.
        structural = chunk[_STRUCTURAL[chunk]]
        return structural, structural == _QUOTE, 0
    positions = np.arange(chunk.size)
    # Index of the last byte that is not a backslash at or before each position (-1 - carried run where
    # the chunk opens with backslashes): a quote is escaped when an odd run of backslashes precedes it.
    last_plain = np.maximum.accumulate(np.where(chunk != _BACKSLASH, positions, -1 - backslashes))
    run_before = positions - 1 - np.concatenate(([-1 - backslashes], last_plain[:-1]))
    quotes = (chunk == _QUOTE) & (run_before % 2 == 0)
    return chunk, quotes, int(chunk.size - 1 - last_plain[-1])
