"""Codecs of the disk cache: how answers are written to and read back from the
disk cache (:mod:`aind_session.persistent`), and the shapes they must have.

A :class:`Codec` turns one kind of answer into JSON and back; its ``decode``
raises on a stored value of the wrong shape, so that entry is dropped and
asked again; :func:`disk_key` writes a question as the text key it is kept
under. Here are the codecs of plain answers (the layers define those of
their own models):

>>> TEXT.decode('ecephys_676909_2023-12-13_13-43-40')
'ecephys_676909_2023-12-13_13-43-40'
>>> STRINGS.decode(['nwb', 'output'])
('nwb', 'output')
>>> FLAG.decode('yes')
Traceback (most recent call last):
...
aind_session.disk_codecs._WrongShape: expected bool, found str
>>> SMALL_BYTES.decode(SMALL_BYTES.encode(b'{}'))
b'{}'
>>> SMALL_BYTES.encode(bytes(SMALL_FILE_BYTES + 1)) is SKIP
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Codec(NamedTuple):
    """How one kind of answer becomes JSON and back.

    ``decode`` raises (``ValueError``, ``TypeError``, ``KeyError``) on a
    stored value of the wrong shape: that entry is dropped and asked again.
    """

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class _WrongShape(TypeError):
    """A stored value that is not of the shape its codec keeps."""


SKIP: Any = object()  # what a codec's encode returns for a value not worth keeping on disk


# -- codecs of plain answers (the layers define those of their own models) --------------
def _scalar(obj: Any) -> Any:
    if obj is not None and not isinstance(obj, (str, bool, int, float)):
        raise _WrongShape(f"expected a plain value, found {type(obj).__name__}")
    return obj


def _of(kind: type) -> Callable[[Any], Any]:
    def decode(obj: Any) -> Any:
        if not isinstance(obj, kind) or (kind is int and isinstance(obj, bool)):
            raise _WrongShape(f"expected {kind.__name__}, found {type(obj).__name__}")
        return obj

    return decode


def _strings(obj: Any) -> tuple[str, ...]:
    if not isinstance(obj, list) or not all(isinstance(item, str) for item in obj):
        raise _WrongShape("expected a list of strings")
    return tuple(obj)


def _records(obj: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(obj, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in obj
    ):
        raise _WrongShape("expected a list of records with an 'id'")
    return tuple(obj)


PLAIN = Codec(lambda v: v, _scalar)  # a str, bool, number or None
TEXT = Codec(lambda v: v, _of(str))
FLAG = Codec(lambda v: v, _of(bool))
STRINGS = Codec(list, _strings)
RECORDS = Codec(list, _records)  # JSON records of a service, each with an "id"
SMALL_FILE_BYTES = 1_000_000


def _bytes_encode(value: bytes) -> Any:
    import base64

    return SKIP if len(value) > SMALL_FILE_BYTES else base64.b64encode(value).decode("ascii")


def _bytes_decode(obj: Any) -> bytes:
    import base64

    return base64.b64decode(_of(str)(obj), validate=True)


SMALL_BYTES = Codec(_bytes_encode, _bytes_decode)


def disk_key(key: Any) -> str:
    """A stable text key: the services asked (no credentials) and the question.

    The scope is the CodeOcean domain, the S3 endpoint (``aws`` when none is
    set), the data buckets, DocDB's URL and its collections, so answers of one
    service never answer for another; ``key`` follows as compact JSON.

    >>> disk_key(['get_data_asset', '16d46411-540a-4122-b47f-8cb2a15d593a'])
    'http://127.0.0.1:...|http://127.0.0.1:...|...,aind-ephys-data,...|http://127.0.0.1:...|metadata_index_v2/data_assets,...|["get_data_asset","16d46411-540a-4122-b47f-8cb2a15d593a"]'
    """
    import json

    from aind_session.config import get_settings

    s = get_settings()  # answers depend on where they were asked, and on what was searched
    places = (s.codeocean_domain, s.s3_endpoint_url or "aws", s.docdb_url)
    scope = "|".join(
        (*places[:2], ",".join(s.data_buckets), places[2], ",".join(s.docdb_collections))
    )
    return f"{scope}|{json.dumps(key, default=str, separators=(',', ':'))}"
