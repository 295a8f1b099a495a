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


@cache.cached(persist=persistent.TEXT)
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


def unsettled(session_ids: Iterable[str]) -> dict[str, s3.Groups]:
    """The candidates of each session whose folder is not cached yet, to be
    probed (a session whose candidates could not be worked out, its asset
    search having failed, is left to :func:`raw_data_dir` to say so)."""
    groups: dict[str, s3.Groups] = {}
    for session_id in dict.fromkeys(session_ids):
        if isinstance(cache.peek_call(raw_data_dir, session_id), str):
            continue
        try:
            groups[session_id] = candidates(session_id)
        except _EXPECTED:
            continue
    return groups


def settle_many(located: Mapping[str, s3.Located | Exception]) -> None:
    """Keep for :func:`raw_data_dir` the folders that probes of sessions'
    candidates (from :func:`unsettled`, sent with other probes through
    :func:`aind_session.s3.locate_many`) found. What was not found is not kept:
    :func:`raw_data_dir` says it (inside :func:`aind_session.s3.batch`, without
    listing anything again)."""
    for session_id, outcome in located.items():
        if isinstance(outcome, s3.Located) and outcome.url is not None:
            cache.prime(raw_data_dir, session_id, value=found(session_id, outcome))


_EXPECTED = (errors.AindSessionError, PermissionError, ConnectionError)
