"""Where a session's raw data folder is: the places it may be, the lookup
(cached, on disk too when the persistent cache is on) and what is said when it
is not found.

From the raw data asset's ``source_bucket``; otherwise the known data buckets
by the asset's id and name (probed at once); with no raw data asset, the known
buckets by session ID. A folder found is kept for the cache's time-to-live, so
asking again probes nothing, even where the empty candidates (never cached)
were many.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aind_session import cache, errors, persistent, s3

logger = logging.getLogger(__name__)


@cache.cached(persist=persistent.PLAIN)
def raw_data_dir(session_id: str) -> str:
    """URL of a session's raw data folder (its listing is cached on the way).

    One S3 request when the raw data asset names its folder; otherwise the
    candidate folders are probed all at once.

    Raises
    ------
    aind_session.errors.NoRawDataDirError
        Listing every place checked.
    aind_session.errors.AccessDeniedError
        When nothing was found and S3 denied access to a candidate.
    """
    return found(session_id, s3.locate(candidates(session_id)))


def candidates(session_id: str) -> s3.Groups:
    """Where a session's raw data folder may be, in groups for :func:`aind_session.s3.locate`."""
    from aind_session import codeocean
    from aind_session.config import get_settings

    asset = codeocean.get_session_raw_data_asset(session_id)
    if asset is not None:
        return s3.data_asset_dir_candidates(codeocean.source_url(asset), asset.id, asset.name)
    buckets = get_settings().data_buckets
    return [
        (
            f"the known data buckets ({', '.join(buckets)}) by session ID, as no raw data "
            "asset exists",
            [f"{b}/{session_id}" for b in buckets],
        )
    ]


def found(session_id: str, located: s3.Located) -> str:
    """The URL ``located`` found for a session's raw data folder, or the error
    saying what was checked (access denied included)."""
    if located.url is not None:
        logger.debug("raw data of %s is at %s", session_id, located.url)
        return located.url
    message = (
        f"No raw data folder was found for {session_id}. Checked: {'; '.join(located.checked)}."
    )
    if located.denied:  # the folder may be there: "not found" would be a wrong answer
        message += f" Access was denied to {', '.join(located.denied)}: check your AWS credentials."
        raise errors.AccessDeniedError(message)
    message += (
        " The data may not be uploaded yet, or may sit in a bucket missing from the "
        "AIND_SESSION_DATA_BUCKETS setting."
    )
    raise errors.NoRawDataDirError(message)


def locate_many(session_ids: Iterable[str]) -> dict[str, str | Exception]:
    """:func:`raw_data_dir` for many sessions: the probes of all of them in one
    round per candidate group (see :func:`settle_many` to send them with other
    probes). Each value is the URL or the error :func:`raw_data_dir` would raise."""
    known, groups = unsettled(session_ids)
    return {**known, **settle_many(s3.locate_many(groups))}


def unsettled(
    session_ids: Iterable[str],
) -> tuple[dict[str, str | Exception], dict[str, s3.Groups]]:
    """Sessions whose folder is known (or whose candidates could not be
    worked out: the error), and the candidates of the others, to be probed."""
    known: dict[str, str | Exception] = {}
    groups: dict[str, s3.Groups] = {}
    for session_id in dict.fromkeys(session_ids):
        url = cache.peek_call(raw_data_dir, session_id)
        if isinstance(url, str):
            known[session_id] = url
            continue
        try:
            groups[session_id] = candidates(session_id)
        except _EXPECTED as exc:  # its asset search failed
            known[session_id] = exc
    return known, groups


def settle_many(
    located: Mapping[str, s3.Located | Exception],
) -> dict[str, str | Exception]:
    """What probes of sessions' candidates found: the URL (cached for
    :func:`raw_data_dir`) or the error it would raise (not cached: inside
    :func:`aind_session.s3.batch` asking again lists nothing again)."""
    results: dict[str, str | Exception] = {}
    for session_id, outcome in located.items():
        try:
            if isinstance(outcome, Exception):
                raise outcome
            url = found(session_id, outcome)
        except _EXPECTED as exc:
            results[session_id] = exc
            continue
        cache.prime(raw_data_dir, session_id, value=url)
        results[session_id] = url
    return results


_EXPECTED = (errors.AindSessionError, PermissionError, ConnectionError)
