"""The pre-scan's depth and value count against the parsed document, chunk boundaries included."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optadvisor.service import json_scan

# Strings full of what the scan must see through: quotes, escapes, brackets, separators.
_TEXT = st.text(alphabet='ab"\\[]{},: \u00e9', max_size=8)
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30,
)


def _depth(document: Any) -> int:
    if isinstance(document, list):
        return 1 + max(map(_depth, document), default=0)
    if isinstance(document, dict):
        return 1 + max(map(_depth, document.values()), default=0)
    return 0


def _values(document: Any) -> int:
    """Every value and key (the scan also counts each container's first item when it is empty)."""
    if isinstance(document, list):
        return 1 + sum(map(_values, document))
    if isinstance(document, dict):
        return 1 + sum(1 + _values(value) for value in document.values())
    return 1


@pytest.mark.parametrize("chunk", [1, 3, 64, json_scan._CHUNK])
def test_scan_matches_the_parsed_document(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_scan, "_CHUNK", chunk)

    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    @given(_DOCUMENTS, st.booleans())
    def check(document: Any, ascii_only: bool) -> None:
        raw = json.dumps(document, ensure_ascii=ascii_only).encode()
        shape = json_scan.scan_json(raw)
        assert shape.depth == _depth(document)
        assert _values(document) <= shape.values <= 2 * _values(document) + 1

    check()


def test_a_long_run_of_backslashes_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_scan, "_CHUNK", 4)
    raw = json.dumps(["\\" * 9 + '"[', ["x"]]).encode()
    assert json_scan.scan_json(raw).depth == 2
