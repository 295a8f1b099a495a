"""HTML cards and tables for Jupyter: a leaf, given plain data (ids, dicts).

It imports nothing of the package, so `Session`, `Subject` and the summaries
of :mod:`aind_session.report` can all render through it without an import
running upward. Rendering never makes a request.

>>> subject_card('676909')
"<div style='...'><b>Subject</b> <code>676909</code></div>"
>>> html_table({'id': 'x', 'probes': None}, {'probes': 'S3 is down'})
"<table style='...'>...<td style='text-align:left'>unknown: S3 is down</td></tr></table>"
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Mapping
from typing import Any

CARD_STYLE = (
    "border:1px solid #8884;border-radius:6px;padding:6px 10px;display:inline-block;"
    "font-family:sans-serif;font-size:13px"
)


def html_table(data: Mapping[str, Any], unknown: Mapping[str, str]) -> str:
    """An HTML table of ``data``, one row per key; a value that is None and in
    ``unknown`` shows as unknown with its reason, other None values as a dash.

    Lists show one item a line (a dash when empty), dicts one ``key: value``
    a line; text is HTML-escaped.

    >>> html_table({'modalities': ['behavior', 'ecephys'], 'raw_data_dir': None}, {})
    "<table style='...'><tr><th ...>modalities</th><td ...>behavior<br>ecephys</td></tr><tr><th ...>raw_data_dir</th><td ...>&mdash;</td></tr></table>"
    """
    rows = []
    for key, value in data.items():
        if value is None and key in unknown:
            shown = html.escape(f"unknown: {unknown[key]}")
        elif isinstance(value, (list, tuple)):
            shown = "<br>".join(html.escape(_short(v)) for v in value) or "&mdash;"
        elif isinstance(value, Mapping):
            shown = (
                "<br>".join(
                    f"{html.escape(str(k))}: {html.escape(_short(v))}" for k, v in value.items()
                )
                or "&mdash;"
            )
        else:
            shown = "&mdash;" if value is None else html.escape(str(value))
        rows.append(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(key)}</th><td style='text-align:left'>{shown}</td></tr>"
        )
    return f"<table style='{CARD_STYLE}'>{''.join(rows)}</table>"


def _short(value: Any) -> str:
    if isinstance(value, Mapping):  # a sorted asset's entry: its unknown parts say why
        unknown = value.get("unknown") or {}
        return "; ".join(
            f"{k}: unknown ({unknown[k]})" if k in unknown else f"{k}: {_short(v)}"
            for k, v in value.items()
            if k not in ("problems", "unknown") and (v is not None or k in unknown)
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_short, value)) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def session_card(
    session_id: str,
    platform: str | None,
    subject_id: str,
    date: datetime.date,
    time: datetime.time,
) -> str:
    """HTML card of a session from its parsed fields.

    >>> import datetime
    >>> session_card('ecephys_676909_2023-12-13_13-43-40', 'ecephys', '676909',
    ...              datetime.date(2023, 12, 13), datetime.time(13, 43, 40))
    "<div style='...'><b>Session</b> <code>ecephys_676909_2023-12-13_13-43-40</code><br>platform: ecephys &middot; subject: 676909 &middot; 2023-12-13 13:43:40</div>"

    An ID without a platform (aind-data-schema 2.x) shows none:

    >>> session_card('780345_2025-02-20_00-00-00', None, '780345',
    ...              datetime.date(2025, 2, 20), datetime.time(0, 0))
    "<div style='...'><b>Session</b> <code>780345_2025-02-20_00-00-00</code><br>subject: 780345 &middot; 2025-02-20 00:00:00</div>"
    """
    named = "" if platform is None else f"platform: {html.escape(platform)} &middot; "
    return (
        f"<div style='{CARD_STYLE}'><b>Session</b> <code>{html.escape(session_id)}</code><br>"
        f"{named}subject: {html.escape(subject_id)}"
        f" &middot; {date.isoformat()} {time.isoformat()}</div>"
    )


def subject_card(subject_id: str) -> str:
    """HTML card of a subject from its ID.

    >>> subject_card('676909')
    "<div style='...'><b>Subject</b> <code>676909</code></div>"
    """
    return f"<div style='{CARD_STYLE}'><b>Subject</b> <code>{html.escape(subject_id)}</code></div>"
