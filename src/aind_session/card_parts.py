"""The pieces the cards of :mod:`aind_session.cards` are drawn with: a leaf.

Inline styles only (notebook sanitisers drop ``<style>``), text in the
theme's own colour (``inherit``) and states drawn as translucent tints of
:data:`TONES`, so every piece reads on light and dark themes alike. Every
text given is HTML-escaped; links are built from quoted parts.

>>> badge('ok', 'sorted', None)
"<span style='...rgba(40,167,69,.18)...'><b>&#x2713;</b> sorted</span>"
"""

from __future__ import annotations

import datetime
import html
import urllib.parse
from collections.abc import Sequence
from typing import Any

# a state's hue as "r,g,b", drawn translucent over the theme's background, and its mark
TONES = {
    "ok": "40,167,69",
    "error": "220,53,69",
    "unknown": "230,160,0",
    "none": "128,128,128",
    "info": "50,130,240",
    "chosen": "50,130,240",
}
ICONS = {
    "ok": "&#x2713;",
    "error": "&#x2717;",
    "unknown": "?",
    "none": "&ndash;",
    "info": "&#x25CF;",
    "chosen": "&#x2605;",
}
# no quotes inside: the styles sit in single-quoted attributes
FONT = "var(--jp-ui-font-family,system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif)"
MONO = "var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,Consolas,monospace)"
CARD_STYLE = (
    f"font-family:{FONT};font-size:13px;line-height:1.45;color:inherit;text-align:left;"
    "border:1px solid rgba(128,128,128,.4);border-radius:8px;padding:10px 14px;"
    "margin:2px 0;max-width:900px;background:rgba(128,128,128,.06)"
)
LABEL = "font-size:11px;letter-spacing:.08em;text-transform:uppercase;opacity:.7"
MUTED = "opacity:.72"
SMALL = f"font-size:12px;{MUTED}"
_ID = f"font-family:{MONO};font-size:15px;font-weight:600;word-break:break-all"
_SECTION = (
    f"margin-top:10px;padding-top:6px;border-top:1px solid rgba(128,128,128,.3);{LABEL};"
    "font-weight:600"
)
_GRID = "display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin-top:4px"
_LINK = "color:var(--jp-content-link-color,inherit);text-decoration:underline"


def card(kind: str, ident: str, facts: str, body: str, bare: bool = False) -> str:
    """A card: its kind, the ID (escaped here), the facts and the body (HTML); a
    ``bare`` one is as wide as its text.

    >>> card('Subject', '1', '', '')
    "<div style='...'><div ...>Subject</div><div ...>1</div></div>"
    """
    fit = ";display:inline-block" if bare else ""
    shown = f"<div>{facts}</div>" if facts else ""
    return (
        f"<div style='{CARD_STYLE}{fit}'><div style='{LABEL}'>{kind}</div>"
        f"<div style='{_ID}'>{escape(ident)}</div>{shown}{body}</div>"
    )


def badge(state: str, text: str, reason: str | None) -> str:
    """A state's mark and ``text`` in its tint; ``reason`` in a tooltip.

    >>> badge('unknown', 'raw data folder unknown', 'S3 is down')
    "<span title='S3 is down' style='...'><b>?</b> raw data folder unknown</span>"
    """
    tone = TONES[state]
    title = f" title='{escape(reason)}'" if reason else ""
    return (
        f"<span{title} style='display:inline-block;white-space:nowrap;padding:0 7px;"
        f"border-radius:9px;font-size:12px;line-height:18px;color:inherit;"
        f"background:rgba({tone},.18);border:1px solid rgba({tone},.65)'>"
        f"<b>{ICONS[state]}</b> {escape(text)}</span>"
    )


def line(state: str, text: str, reason: str | None = None) -> str:
    """A line: a badge, then its reason.

    >>> line('none', 'none', 'nothing uploaded')
    "<div><span ...>...none</span> <span ...>&mdash; nothing uploaded</span></div>"
    """
    why = f" <span style='{MUTED}'>&mdash; {escape(reason)}</span>" if reason else ""
    return f"<div>{badge(state, text, reason)}{why}</div>"


def chip(text: Any) -> str:
    """A word on a grey tint (a modality).

    >>> chip('ecephys')
    "<span style='...'>ecephys</span>"
    """
    return (
        "<span style='display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;"
        f"background:rgba(128,128,128,.16)'>{escape(text)}</span>"
    )


def section(title: str, rows: Sequence[tuple[str, str]] = (), body: str = "") -> str:
    """A titled section: rows of (label, value) as two columns (HTML both), then ``body``.

    >>> section('Raw data', [('folder', 's3://b/p')])
    "<div ...>Raw data</div><div ...><div ...>folder</div><div>s3://b/p</div></div>"
    """
    cells = "".join(f"<div style='{MUTED}'>{label}</div><div>{v}</div>" for label, v in rows)
    grid = f"<div style='{_GRID}'>{cells}</div>" if rows else ""
    return f"<div style='{_SECTION}'>{escape(title)}</div>{grid}{body}"


def links(codeocean: str | None, s3: str | None) -> str:
    """Links to an asset's CodeOcean page and its S3 folder (those given); ``''`` without.

    >>> links(None, 'https://s3.console.aws.amazon.com/s3/buckets/b')
    "<div ...><a href='https://s3.console.aws.amazon.com/s3/buckets/b' ...>S3&nbsp;&#x2197;</a></div>"
    """
    found = [
        f"<a href='{escape(url)}' target='_blank' rel='noopener' style='{_LINK}'>"
        f"{label}&nbsp;&#x2197;</a>"
        for label, url in (("CodeOcean", codeocean), ("S3", s3))
        if url
    ]
    return f"<div style='font-size:12px'>{' &middot; '.join(found)}</div>" if found else ""


def codeocean_url(domain: str | None, asset_id: str) -> str | None:
    """The page of a data asset on a CodeOcean deployment; None without an http(s) domain.

    >>> codeocean_url('https://codeocean.allenneuraldynamics.org/', 'a782c5e4')
    'https://codeocean.allenneuraldynamics.org/data-assets/a782c5e4'
    """
    if not domain or not domain.startswith(("https://", "http://")) or not asset_id:
        return None
    return f"{domain.rstrip('/')}/data-assets/{urllib.parse.quote(str(asset_id), safe='')}"


def s3_console_url(url: str | None) -> str | None:
    """The AWS console's page of an ``s3://bucket/prefix`` folder; None for any other URL.

    >>> s3_console_url('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40')
    'https://s3.console.aws.amazon.com/s3/buckets/aind-ephys-data?prefix=ecephys_676909_2023-12-13_13-43-40/'
    """
    if not url or not url.startswith("s3://"):
        return None
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        return None
    link = f"https://s3.console.aws.amazon.com/s3/buckets/{urllib.parse.quote(bucket, safe='')}"
    prefix = prefix.strip("/")
    return f"{link}?prefix={urllib.parse.quote(prefix + '/', safe='/')}" if prefix else link


def when(value: Any, zone: bool = True) -> str:
    """A moment (a datetime or ISO 8601 text) as people read it, with its zone when
    known (and ``zone``); other text as it is, None as ``''``.

    >>> when('2023-12-13T13:43:40-08:00'), when('2023-12-15T06:13:48+00:00')
    ('2023-12-13 13:43:40 (UTC-08:00)', '2023-12-15 06:13:48 UTC')
    """
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None or not zone:
        return text
    if not offset:
        return f"{text} UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{text} (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"


def join(parts: Sequence[str]) -> str:
    """The parts that are not empty, with a middle dot between.

    >>> join(['a', '', 'b'])
    'a &middot; b'
    """
    return " &middot; ".join(p for p in parts if p)


def mono(text: Any) -> str:
    """``text`` escaped, in the code font.

    >>> mono('<id>')
    "<span style='...'>&lt;id&gt;</span>"
    """
    return f"<span style='font-family:{MONO}'>{escape(text)}</span>"


def muted(markup: str) -> str:
    """HTML ``markup`` (not escaped here) dimmed.

    >>> muted('a &middot; b')
    "<span style='opacity:.72'>a &middot; b</span>"
    """
    return f"<span style='{MUTED}'>{markup}</span>"


def escape(value: Any) -> str:
    """``value`` as HTML text, quotes included; None as ``''``.

    >>> escape("<b>'x'</b>")
    '&lt;b&gt;&#x27;x&#x27;&lt;/b&gt;'
    """
    return html.escape("" if value is None else str(value), quote=True)
