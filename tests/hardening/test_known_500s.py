"""The nine known causes of a 500 that the attack of issue 20 found, each pinned over HTTP: the live server
answers every one with a 4xx problem. (`tests/profiler/loaders/test_loader_fuzz.py` keeps looking for more.)
"""

import io
import json
import struct
import zipfile
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from bad_payloads import _npy_header, _npz_with_member, _safetensors, _tensor

PROBLEM_MEDIA_TYPE = "application/problem+json"
HUGE_EXTENT = 2**63


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((3, 4), np.float32))
    return buffer.getvalue()


def _stored_npz() -> bytearray:
    return bytearray(_npz_with_member("w.npy", _npy_bytes()))


def _central_directory(archive: bytearray) -> int:
    return archive.index(b"PK\x01\x02")


def _npz_bad_offsets() -> bytes:
    # Bytes cut from a member's data: the end record now places the directory past where it is, and zipfile
    # shifts every member's offset by the difference, to below 0 (ValueError: negative seek value).
    archive = _stored_npz()
    del archive[100:111]
    return bytes(archive)


def _npz_future_version() -> bytes:
    # "needs version 10.9 to extract" (NotImplementedError from zipfile).
    archive = _stored_npz()
    archive[_central_directory(archive) + 6] = 109
    return bytes(archive)


def _npz_empty_member_name() -> bytes:
    # A member named "" (IndexError in ZipInfo.is_dir).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), _npy_bytes())
    return buffer.getvalue()


def _npz_bad_utf8_name() -> bytes:
    # The UTF-8 flag set and the local header's name not UTF-8 (UnicodeDecodeError when the member opens).
    archive = _stored_npz()
    utf8_flag = struct.pack("<H", 0x800)
    archive[6:8] = utf8_flag
    central = _central_directory(archive)
    archive[central + 8 : central + 10] = utf8_flag
    archive[31] = 0xE0
    return bytes(archive)


def _short_npy_header() -> bytes:
    # The header's dict ends (unclosed) before its declared length, the rest blank: numpy's tokenizer hits
    # the end inside the open parenthesis (tokenize.TokenError).
    header = _npy_header("<f4", (3, 4))
    cut = header.index(b"(3,") + 3
    return header[:cut] + b" " * (len(header) - cut - 1) + b"\n"


def _safetensors_long_integer() -> bytes:
    # int() of 4,300+ digits raises a plain ValueError (CPython's guard), not a JSON error.
    entry = json.dumps({"w": _tensor("F32", [3, 4], 0, 48)}).replace("[3, 4]", "[3, " + "9" * 5000 + "]")
    header = entry.encode()
    return struct.pack("<Q", len(header)) + header + bytes(48)


FILES: dict[str, Callable[[], tuple[str, bytes]]] = {
    "npy zero extent beside 2^63": lambda: ("g.npy", _npy_header("<f4", (0, HUGE_EXTENT))),
    "npz member zero extent beside 2^63": lambda: (
        "g.npz",
        _npz_with_member("w.npy", _npy_header("<f4", (0, HUGE_EXTENT))),
    ),
    "safetensors zero extent beside 2^63": lambda: (
        "g.safetensors",
        _safetensors({"w": _tensor("F32", [0, HUGE_EXTENT], 0, 0)}, b""),
    ),
    "npy header shorter than declared": lambda: ("g.npy", _short_npy_header()),
    "safetensors integer of 5000 digits": lambda: ("g.safetensors", _safetensors_long_integer()),
    "npz negative member offset (ValueError)": lambda: ("g.npz", _npz_bad_offsets()),
    "npz unsupported zip version (NotImplementedError)": lambda: ("g.npz", _npz_future_version()),
    "npz empty member name (IndexError)": lambda: ("g.npz", _npz_empty_member_name()),
    "npz name not UTF-8 (UnicodeDecodeError)": lambda: ("g.npz", _npz_bad_utf8_name()),
}


def _assert_problem(response: httpx.Response, statuses: set[int]) -> None:
    assert response.status_code in statuses, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("case", list(FILES))
def test_corrupt_file_gets_a_4xx_as_raw_body_and_as_form(case: str, api: httpx.Client) -> None:
    filename, content = FILES[case]()
    raw = api.post(
        "/v1/profiles",
        params={"filename": filename},
        content=content,
        headers={"content-type": "application/octet-stream"},
    )
    _assert_problem(raw, {413, 415, 422})
    form = api.post("/v1/profiles", files={"gradients": (filename, content)})
    _assert_problem(form, {413, 415, 422})


def test_training_steps_beyond_any_float_gets_a_422_in_the_query_and_in_a_form(api: httpx.Client) -> None:
    # 10^400 overflowed a float in the projections (OverflowError): the bound is now 10^15 everywhere.
    huge = "1" + "0" * 400
    raw = api.post(
        "/v1/profiles",
        params={"filename": "g.npy", "training_steps": huge},
        content=_npy_bytes(),
        headers={"content-type": "application/octet-stream"},
    )
    _assert_problem(raw, {422})
    form = api.post(
        "/v1/profiles", data={"training_steps": huge}, files={"gradients": ("g.npy", _npy_bytes())}
    )
    _assert_problem(form, {422})
    assert huge not in raw.text + form.text
