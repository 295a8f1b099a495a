"""HTML cards for Jupyter: a leaf, given plain data (ids, dicts, datetimes).

It imports only its pieces (:mod:`aind_session.card_parts`, a leaf too), so
`Session`, `Subject` and the summaries of :mod:`aind_session.report` can all
render through it without an import running upward. Rendering never makes a
request: what a card links to comes with its data (the CodeOcean domain is
passed in). Every card is one ``<div>``, readable on light and dark themes,
every text given HTML-escaped (see :mod:`aind_session.card_parts`).

>>> subject_card('676909')
"<div ...>Subject</div>...676909...</div>"
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from aind_session.card_parts import (
    ICONS,
    LABEL,
    MUTED,
    SMALL,
    TONES,
    badge,
    card,
    chip,
    codeocean_url,
    escape,
    join,
    line,
    links,
    mono,
    muted,
    s3_console_url,
    section,
    when,
)

SHOWN_IDS = 6  # session IDs listed per platform on a subject's card
# what the keys of a summary are called on a card
LABELS = {
    "raw_data_asset": "raw data asset",
    "raw_data_dir": "raw data folder",
    "modalities": "modalities",
    "metadata_files": "metadata files",
    "sorted_data_assets": "sorted data assets",
    "running_pipeline_computations": "sorting pipeline runs",
    "sessions": "sessions",
}


# -- the cards -----------------------------------------------------------------------------
def session_card(
    session_id: str, platform: str | None, subject_id: str, start: datetime.datetime
) -> str:
    """The card of a bare session, from its parsed fields: its ID and facts.

    >>> import datetime
    >>> card = session_card('ecephys_676909_2023-12-13_13-43-40', 'ecephys', '676909',
    ...                     datetime.datetime(2023, 12, 13, 13, 43, 40))
    >>> card
    "<div ...>Session</div>...ecephys_676909_2023-12-13_13-43-40...2023-12-13 13:43:40...</div>"

    An ID without a platform (aind-data-schema 2.x) names none:

    >>> 'platform' in session_card('780345_2025-02-20_00-00-00', None, '780345',
    ...                            datetime.datetime(2025, 2, 20))
    False
    """
    hint = _hint("session.describe()", "shows its raw data, sorting and links")
    return card("Session", session_id, _facts(platform, subject_id, start), hint, bare=True)


def summary_card(
    summary: Mapping[str, Any], *, codeocean_domain: str | None = None, sorting: bool = True
) -> str:
    """The card of a session's summary (:func:`aind_session.report.describe`).

    At the top the ID and facts, then a badge per status (a tooltip gives its
    reason), then the raw data (its asset, folder, modalities and metadata
    files), and, when ``sorting`` applies to the session's platform, its
    sorted assets newest first (the chosen one and the failed ones marked)
    and the sorting pipeline's runs. Each asset links to its page on
    ``codeocean_domain`` (none when it is None) and to its S3 folder (when the
    summary knows it: ``raw_data_dir``, or a sorted entry's ``dir``). What
    could not be found out says so, with its reason.

    >>> card = summary_card({'id': 'x', 'platform': 'behavior', 'subject_id': '1',
    ...     'start_time': '2024-01-01T10:00:00-08:00', 'raw_data_asset': None,
    ...     'raw_data_dir': None, 'unknown': {'raw_data_dir': 'S3 is down'}}, sorting=False)
    >>> 'S3 is down' in card, 'Sorting' in card
    (True, False)
    """
    unknown: Mapping[str, str] = summary.get("unknown") or {}
    problems: Mapping[str, str] = summary.get("problems") or {}
    entries = summary.get("sorted_data_assets")
    chosen, why_none = chosen_sorted_asset(entries or ())
    parts = [_badges(summary, unknown, problems, sorting, chosen), _unknown_note(unknown)]
    parts.append(_raw_section(summary, unknown, problems, codeocean_domain))
    if sorting:
        parts.append(
            _sorting_section(entries, unknown, problems, chosen, why_none, codeocean_domain)
        )
        parts.append(_runs_section(summary.get("running_pipeline_computations"), unknown))
    facts = _facts(
        summary.get("platform"), str(summary.get("subject_id", "")), summary.get("start_time")
    )
    return card("Session", str(summary.get("id", "")), facts, "".join(parts))


def subject_card(subject_id: str) -> str:
    """The card of a bare subject, from its ID.

    >>> subject_card('676909')
    "<div ...>Subject</div>...676909...describe()...</div>"
    """
    hint = _hint("subject.describe()", "summarises its sessions by platform")
    return card("Subject", subject_id, "", hint, bare=True)


def subject_summary_card(summary: Mapping[str, Any]) -> str:
    """The card of a subject's summary (:func:`aind_session.subject.describe_subject`):
    its sessions counted by platform, with the first and last start of each.

    >>> card = subject_summary_card({'subject_id': '1', 'sessions': None, 'platforms': None,
    ...     'unknown': {'sessions': 'CodeOcean is down'}})
    >>> 'CodeOcean is down' in card
    True
    """
    rows, count, ident = (
        summary.get("platforms"),
        summary.get("sessions"),
        summary.get("subject_id"),
    )
    if rows is None:
        reason = (summary.get("unknown") or {}).get("sessions")
        return card("Subject", str(ident), "", line("unknown", "sessions unknown", reason))
    first, last = summary.get("first_start_time"), summary.get("last_start_time")
    span = f"{escape(when(first, zone=False))} &rarr; {escape(when(last, zone=False))}"
    facts = join(
        [f"<b>{escape(count)}</b> session{'' if count == 1 else 's'}"] + ([span] if first else [])
    )
    if not rows:
        return card("Subject", str(ident), facts, line("none", "no sessions found"))
    head = "".join(
        f"<div style='{LABEL}'>{h}</div>"
        for h in ("platform", "sessions", "first start", "last start")
    )
    cells = []
    for row in rows:
        platform = row.get("platform")
        shown = escape(platform) if platform else f"<span style='{MUTED}'>(none in ID)</span>"
        ids = list(row.get("session_ids") or ())
        listed = ", ".join(mono(i) for i in ids[:SHOWN_IDS])
        if len(ids) > SHOWN_IDS:
            listed += f" and {len(ids) - SHOWN_IDS} more"
        cells.append(
            f"<div><b>{shown}</b></div><div style='text-align:right'>{escape(row.get('sessions'))}</div>"
            f"<div>{escape(when(row.get('first_start_time'), zone=False))}</div>"
            f"<div>{escape(when(row.get('last_start_time'), zone=False))}</div><div></div>"
            f"<div></div><div style='grid-column:2 / span 4;font-size:12px;{MUTED}'>{listed}</div>"
        )
    grid = (
        "<div style='display:grid;grid-template-columns:max-content max-content max-content "
        f"max-content 1fr;gap:2px 18px;margin-top:8px'>{head}<div></div>{''.join(cells)}</div>"
    )
    return card("Subject", str(ident), facts, grid)


def chosen_sorted_asset(entries: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """The id of the sorted asset a session uses (the latest whose status is ok), or
    None with why: none is usable, or a newer one could not be checked (it may
    be the answer, so none is chosen). Entries are oldest first.

    >>> chosen_sorted_asset([{'id': 'a', 'status': 'ok'}, {'id': 'b', 'status': 'error'}])
    ('a', None)
    >>> chosen_sorted_asset([{'id': 'a', 'status': 'ok'}, {'id': 'b', 'status': 'unknown'}])
    (None, 'b is newer than any usable one and could not be checked')
    """
    for entry in reversed(entries):
        if entry.get("status") == "ok":
            return str(entry.get("id")), None
        if entry.get("status") != "error":
            return None, f"{entry.get('id')} is newer than any usable one and could not be checked"
    return None, ("every sorted data asset holds a sorting error" if entries else None)


def _badges(
    summary: Mapping[str, Any],
    unknown: Mapping[str, str],
    problems: Mapping[str, str],
    sorting: bool,
    chosen: str | None,
) -> str:
    badges = []
    for key in ("raw_data_asset", "raw_data_dir", "modalities"):
        label, (state, reason) = LABELS[key], _state(summary, key, unknown, problems)
        shown = {"ok": label, "none": f"no {label}", "unknown": f"{label} unknown"}[state]
        badges.append(badge(state, shown, reason))
    if sorting:
        entries = summary.get("sorted_data_assets")
        if entries is None:
            badges.append(badge("unknown", "sorting unknown", unknown.get("sorted_data_assets")))
        elif not entries:
            badges.append(badge("none", "not sorted", problems.get("sorted_data_assets")))
        elif any(e.get("status") == "ok" for e in entries):
            badges.append(
                badge("ok", "sorted", "a sorted data asset without a sorting error exists")
            )
        elif any(e.get("status") != "error" for e in entries):
            badges.append(badge("unknown", "sorted unknown", unknown.get("sorted_data_assets")))
        else:
            badges.append(badge("error", "no usable sorting", "every sorted data asset failed"))
        if chosen and entries and entries[-1].get("status") == "error":  # an older one used
            badges.append(badge("error", "latest sorting failed", _reasons(entries[-1])))
        runs = summary.get("running_pipeline_computations")
        if runs is None and "running_pipeline_computations" in unknown:
            badges.append(
                badge("unknown", "pipeline runs unknown", unknown["running_pipeline_computations"])
            )
        elif runs:
            badges.append(badge("info", f"sorting running ({len(runs)})", None))
    return (
        f"<div style='display:flex;flex-wrap:wrap;gap:5px;margin-top:7px'>{''.join(badges)}</div>"
    )


def _raw_section(
    summary: Mapping[str, Any],
    unknown: Mapping[str, str],
    problems: Mapping[str, str],
    domain: str | None,
) -> str:
    rows = []
    asset = summary.get("raw_data_asset")
    folder = summary.get("raw_data_dir")
    if isinstance(asset, Mapping):
        linked = links(codeocean_url(domain, str(asset.get("id", ""))), s3_console_url(folder))
        value = (
            f"{mono(asset.get('name'))} {badge('chosen', 'chosen', 'the raw data asset this session uses')}"
            f"<br>{muted(join([mono(asset.get('id')), 'created ' + escape(when(asset.get('created')))]))}"
            f"{linked}"
        )
    else:
        value = _missing(summary, "raw_data_asset", unknown, problems)
    rows.append(("asset", value))
    if folder:
        rows.append(("folder", mono(folder)))
    else:
        rows.append(("folder", _missing(summary, "raw_data_dir", unknown, problems)))
    modalities = summary.get("modalities")
    if modalities:
        rows.append(("modalities", " ".join(chip(m) for m in modalities)))
    else:
        rows.append(("modalities", _missing(summary, "modalities", unknown, problems)))
    files = summary.get("metadata_files")
    if files:
        rows.append(("metadata", muted(", ".join(escape(f) for f in files))))
    elif "metadata_files" in summary:
        rows.append(("metadata", _missing(summary, "metadata_files", unknown, problems)))
    return section("Raw data", rows)


def _sorting_section(
    entries: Sequence[Mapping[str, Any]] | None,
    unknown: Mapping[str, str],
    problems: Mapping[str, str],
    chosen: str | None,
    why_none: str | None,
    domain: str | None,
) -> str:
    title = section("Sorted data assets")
    if entries is None:
        reason = unknown.get("sorted_data_assets") or problems.get("sorted_data_assets")
        return f"{title}<div>{badge('unknown', 'unknown', reason)}</div>"
    if not entries:
        return title + line("none", "none", problems.get("sorted_data_assets"))
    items = []
    for entry in reversed(entries):  # newest first
        state = {"ok": "ok", "error": "error"}.get(str(entry.get("status")), "unknown")
        status = {"ok": "ok", "error": "failed", "unknown": "unknown"}[state]
        marks = badge(state, status, _reasons(entry) or None)
        is_chosen = chosen is not None and str(entry.get("id")) == chosen
        if is_chosen:
            marks += " " + badge(
                "chosen", "chosen", "the latest sorted data asset without a sorting error"
            )
        probes = entry.get("probes")
        facts = [
            mono(entry.get("id")),
            "created " + escape(when(entry.get("created"))),
            _part(entry, "sorter", entry.get("sorter")),
            _part(entry, "probes", ", ".join(map(str, probes)) if probes else None),
        ]
        reasons = _reasons(entry)
        why = f"<div style='{SMALL}'>{escape(reasons)}</div>" if reasons else ""
        edge = f"rgba({TONES['chosen']},.9)" if is_chosen else "transparent"
        items.append(
            f"<div data-asset-id='{escape(entry.get('id'))}' data-status='{state}' "
            f"style='padding:4px 0 4px 8px;border-left:3px solid {edge};margin-top:3px'>"
            f"<div>{marks} {mono(entry.get('name'))}</div>"
            f"<div style='{SMALL}'>{join([f for f in facts if f])}</div>"
            f"{why}{links(codeocean_url(domain, str(entry.get('id', ''))), s3_console_url(entry.get('dir')))}"
            "</div>"
        )
    if chosen is None and why_none:
        items.append(line("unknown" if "checked" in why_none else "error", "none chosen", why_none))
    return title + "".join(items)


def _runs_section(runs: Sequence[Mapping[str, Any]] | None, unknown: Mapping[str, str]) -> str:
    if runs is None and "running_pipeline_computations" in unknown:
        reason = unknown["running_pipeline_computations"]
        rows = [("runs", f"<div>{badge('unknown', 'unknown', reason)}</div>")]
    elif not runs:
        return ""
    else:
        rows = [
            (
                escape(run.get("state")),
                f"{escape(run.get('name'))} {muted(join([mono(run.get('id')), 'started ' + escape(when(run.get('created')))]))}",
            )
            for run in runs
        ]
    return section("Sorting pipeline runs", rows)


# -- parts ---------------------------------------------------------------------------------
def _hint(code: str, text: str) -> str:
    return f"<div style='font-size:12px;margin-top:4px;{MUTED}'>{mono(code)} {escape(text)}</div>"


def _facts(platform: str | None, subject_id: str, start: Any) -> str:
    facts = [] if platform is None else [f"platform <b>{escape(platform)}</b>"]
    facts.append(f"subject <b>{escape(subject_id)}</b>")
    if start is not None:
        facts.append(f"started <b>{escape(when(start))}</b>")
    return join(facts)


def _state(
    summary: Mapping[str, Any], key: str, unknown: Mapping[str, str], problems: Mapping[str, str]
) -> tuple[str, str | None]:
    if summary.get(key) is None and key in unknown:
        return "unknown", unknown[key]
    if summary.get(key):
        return "ok", None
    return "none", problems.get(key)


def _missing(
    summary: Mapping[str, Any], key: str, unknown: Mapping[str, str], problems: Mapping[str, str]
) -> str:
    """A section without a value: none with why, or unknown (its reason is in the
    note at the top, once for every section it left unknown; here in a tooltip)."""
    state, reason = _state(summary, key, unknown, problems)
    if state == "unknown":
        return f"<div>{badge('unknown', 'unknown', reason)}</div>"
    return line(state, "none", reason)


def _unknown_note(unknown: Mapping[str, str]) -> str:
    """What could not be found out, one line per reason naming what it left unknown."""
    by_reason: dict[str, list[str]] = {}
    order = {key: rank for rank, key in enumerate(LABELS)}
    for key, reason in sorted(unknown.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])):
        by_reason.setdefault(reason, []).append(LABELS.get(key, key))
    lines = "".join(
        f"<div style='margin-top:3px'><b>{escape(', '.join(names))}</b> "
        f"<span style='{MUTED}'>&mdash; {escape(reason)}</span></div>"
        for reason, names in by_reason.items()
    )
    if not lines:
        return ""
    tone = TONES["unknown"]
    return (
        f"<div style='margin-top:8px;padding:5px 9px;border-radius:6px;font-size:12px;"
        f"background:rgba({tone},.12);border-left:3px solid rgba({tone},.8)'>"
        f"<div><b>{ICONS['unknown']}</b> could not be found out (not the same as none):</div>"
        f"{lines}</div>"
    )


def _part(entry: Mapping[str, Any], key: str, value: Any) -> str:
    unknown = entry.get("unknown") or {}
    if key in unknown:
        return f"{key} unknown"
    return f"{key} {escape(value)}" if value else ""


def _reasons(entry: Mapping[str, Any]) -> str:
    """Why an entry is not plainly ok: what is unknown, then what is missing, each once."""
    seen: dict[str, str] = {}
    for kind in ("unknown", "problems"):
        for key, reason in (entry.get(kind) or {}).items():
            seen.setdefault(reason, f"{key}: {reason}")
    return " ".join(seen.values())
