"""What a CodeOcean answer must look like before it is used or stored.

Each check takes a JSON value and returns what to use, or raises on the wrong
shape; :func:`~aind_session.codeocean.client.request` then asks again, like on
a 5xx. The exceptions a check raises are :data:`SHAPE_ERRORS`, and
:func:`shape_problem` says what was wrong, for messages.

>>> folder_names({'items': [{'name': 'nwb'}]})
('nwb',)
>>> try:
...     folder_names({'items': [{'type': 'folder'}]})
... except SHAPE_ERRORS as exc:
...     print(shape_problem(exc))
has items without a 'name'
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any


class _Malformed(Exception):
    """A 200 answer whose body is not JSON, or not of the shape asked for."""


# what a check raises on an answer of the wrong shape
SHAPE_ERRORS: tuple[type[Exception], ...] = (_Malformed, TypeError, ValueError, KeyError)


def shape_problem(exc: BaseException) -> str:
    """What was wrong with an answer, from the exception its check raised (one of
    :data:`SHAPE_ERRORS`), for messages.

    >>> shape_problem(KeyError('id'))
    "has the wrong shape ('id')"
    >>> try:
    ...     list_of(str)({'results': []})
    ... except SHAPE_ERRORS as exc:
    ...     print(shape_problem(exc))
    is a JSON dict, not a list
    """
    return str(exc) if isinstance(exc, _Malformed) else f"has the wrong shape ({exc})"


def json_body(read: Callable[[], Any]) -> Any:
    """The JSON value that ``read`` (a response's ``json``) gives; raises
    ``_Malformed`` when the body is not JSON.

    >>> import json
    >>> json_body(lambda: json.loads('{"id": "x"}'))
    {'id': 'x'}
    >>> json_body(lambda: json.loads('<html>'))
    Traceback (most recent call last):
    ...
    aind_session.codeocean.shapes._Malformed: is not JSON
    """
    try:
        return read()
    except ValueError as exc:
        raise _Malformed("is not JSON") from exc


def record_of(cls: Callable[[], type]) -> Callable[[Any], dict[str, Any]]:
    """A check that a JSON value is a record of the SDK's ``cls()``: an object with
    its required fields. The check returns the value, or raises ``_Malformed``.

    >>> from aind_session.codeocean.models import data_asset_class
    >>> record_of(data_asset_class)({'id': '16d46411-540a-4122-b47f-8cb2a15d593a', 'owner': 'x'})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.shapes._Malformed: lacks created, last_used, mount, name, state, type
    """

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Malformed(f"is a JSON {type(value).__name__}, not an object")
        missing = _required_fields(cls()) - value.keys()
        if missing:
            raise _Malformed(f"lacks {', '.join(sorted(missing))}")
        return value

    return check


def list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    """A check that a JSON value is a list, each item checked by ``item``; the check
    returns what ``item`` returned for each, or raises ``_Malformed``.

    >>> list_of(int)(['1', '2'])
    [1, 2]
    >>> list_of(int)({'results': []})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.shapes._Malformed: is a JSON dict, not a list
    """

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Malformed(f"is a JSON {type(value).__name__}, not a list")
        return [item(v) for v in value]

    return check


@functools.cache
def _required_fields(cls: type) -> frozenset[str]:
    return frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def search_page(item: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    """A check that a JSON value is a search page: an object whose ``results`` are ``item``.

    The check returns the page with its ``results`` checked, or raises ``_Malformed``.

    >>> search_page(str)({'has_more': False, 'results': ['a']})
    {'has_more': False, 'results': ['a']}
    >>> search_page(str)({'has_more': False})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.shapes._Malformed: has no list of 'results'
    """

    def check(page: Any) -> dict[str, Any]:
        if not isinstance(page, dict):
            raise _Malformed(f"is a JSON {type(page).__name__}, not a search page")
        if not isinstance(page.get("results"), list):
            raise _Malformed("has no list of 'results'")
        page["results"] = list_of(item)(page["results"])
        return page

    return check


def download_url(value: Any) -> str:
    """A check of a ``results/urls`` answer: its ``download_url``, an http(s) URL.

    Raises ``_Malformed`` when there is none.

    >>> download_url({'download_url': 'https://example.org/output?signature=x'})
    'https://example.org/output?signature=x'
    >>> download_url({'url': 'https://example.org/output'})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.shapes._Malformed: has no 'download_url'
    """
    url = value.get("download_url") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _Malformed("has no 'download_url'")
    return url


def folder_names(value: Any) -> tuple[str, ...]:
    """A check of a folder listing answer: the names of its ``items``.

    Raises ``_Malformed`` when there is no list of items, or an item has no name.

    >>> folder_names({'items': [{'name': 'nwb', 'type': 'folder'}, {'name': 'output'}]})
    ('nwb', 'output')
    >>> folder_names({'items': []})
    ()
    """
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise _Malformed("has no list of 'items'")
    names = tuple(item.get("name") if isinstance(item, dict) else None for item in items)
    if not all(isinstance(name, str) for name in names):
        raise _Malformed("has items without a 'name'")
    return names  # type: ignore[return-value]
