"""Where things are: a session's raw data folder and a data asset's folder.

Above both services: CodeOcean says which asset holds a session's raw data
and where its ``source_bucket`` points; S3 says which candidate folder holds
anything. The lookup probes groups of candidates (:func:`locate`), group
after group; many lookups inside :func:`aind_session.batch.gather` probe in
the same rounds.

A session's raw data folder (:func:`raw_data_dir`) is looked for in the raw
data asset's ``source_bucket``; otherwise in the ``location`` of the
session's DocDB record, then the known data buckets by the asset's id and
name (probed at once); with no raw data asset, the location, then the known
buckets by session ID. A data asset's folder (:func:`data_asset_dir`) is
looked for in its ``source_bucket``, then the known data buckets by id and
name. A folder found is kept for the cache's time-to-live (on disk too when
the persistent cache is on), so asking again probes nothing, even where the
empty candidates (never cached) were many.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, TypeVar

from aind_session import cache, errors, linked, persistent, s3

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)


# -- probing candidate folders -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Located:
    """Where a folder was found (``url``, None if nowhere), and what was checked on the way."""

    url: str | None
    checked: tuple[str, ...]
    denied: tuple[str, ...] = ()


Groups = Sequence[tuple[str, Sequence[str]]]
K = TypeVar("K", bound=Hashable)


def locate(groups: Groups) -> Located:
    """Probe groups of candidate folders, group after group; the first that holds anything.

    ``groups`` pairs a description ("source_bucket of asset X") with its
    candidates; each group's candidates are probed at once, and a group is
    probed only when the ones before it found nothing. A service failure on a
    candidate before the first found is raised, not skipped: a later match
    could be the wrong answer. Access denied is skipped, and reported. Inside
    :func:`aind_session.batch.gather`, many lookups probe their groups in the
    same rounds.

    >>> locate([('a guess', ['s3://aind-ephys-data/none-such']),
    ...         ('the folder', ['s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'])])
    Located(url='s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40', checked=('a guess',), denied=())

    Raises
    ------
    aind_session.errors.ServiceError
        When a candidate could not be listed before one was found.
    """
    checked: list[str] = []
    denied: list[str] = []
    for description, candidates in groups:
        if (
            len(candidates) == 1
            and "://" in candidates[0]
            and not candidates[0].startswith("s3://")
        ):
            return Located(candidates[0], tuple(checked))  # gs://, file://: unchecked
        listed = s3.list_folders(candidates)
        for candidate in candidates:
            path = s3.clean(candidate)
            value = listed[path]
            if isinstance(value, PermissionError):
                denied.append(f"s3://{path}")
            elif isinstance(value, Exception):  # a failure: a later match could be wrong
                raise value
            elif value.exists:
                return Located(f"s3://{path}", tuple(checked), tuple(denied))
        checked.append(description)
    return Located(None, tuple(checked), tuple(dict.fromkeys(denied)))


# -- a data asset's folder ---------------------------------------------------------------


def data_asset_dir_candidates(
    source: str | None, asset_id: str, name: str
) -> list[tuple[str, Sequence[str]]]:
    """Where a data asset's files may be: its ``source_bucket``, then the known
    data buckets by asset id and by name (for :func:`locate`).

    >>> groups = data_asset_dir_candidates(
    ...     None, 'e7f467f7-8ce3-4173-b593-3e53948adb30',
    ...     'ecephys_676909_2023-12-13_13-43-40_sorted_2023-12-20_10-11-12')
    >>> len(groups), groups[0][1][:2]
    (1, ['codeocean-s3datasetsbucket-1u41qdg42ur9/e7f467f7-8ce3-4173-b593-3e53948adb30',
         'aind-private-data-prod-o5171v/e7f467f7-8ce3-4173-b593-3e53948adb30'])
    """
    from aind_session.config import get_settings

    buckets = get_settings().data_buckets
    groups: list[tuple[str, Sequence[str]]] = []
    if source is not None:
        groups.append((f"{source} (source_bucket of data asset {asset_id})", [source]))
    groups.append(
        (
            f"the known data buckets ({', '.join(buckets)}) by asset id {asset_id} and name {name}",
            [f"{b}/{n}" for n in (asset_id, name) for b in buckets],
        )
    )
    return groups


def data_asset_dir(asset: DataAsset) -> str | None:
    """URL of a data asset's folder (cached once found), or None when no candidate holds files.

    >>> from aind_session.codeocean import get_data_asset
    >>> data_asset_dir(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
    's3://codeocean-s3datasetsbucket-1u41qdg42ur9/a782c5e4-a16b-495d-baea-7ca9ba29015c'

    Raises
    ------
    aind_session.errors.AccessDeniedError
        When nothing was found and S3 denied access to a candidate: the folder
        may be there, so "not found" would be a wrong answer.
    """
    from aind_session.codeocean import source_url

    try:
        return find_data_asset_dir(source_url(asset), asset.id, asset.name)
    except _NotFound:
        return None


class _NotFound(Exception):
    """Nothing there, now: raised (so never cached) rather than returned."""


@cache.cached(persist=persistent.TEXT)
def find_data_asset_dir(source: str | None, asset_id: str, name: str) -> str:
    """URL of the folder of the data asset with this ``source_url``, id and name
    (cached once found; the key :func:`data_asset_dir` and batch lookups share).

    Raises an internal not-found signal (never cached) when no candidate holds files.

    >>> find_data_asset_dir(None, 'e7f467f7-8ce3-4173-b593-3e53948adb30',
    ...                     'ecephys_676909_2023-12-13_13-43-40_sorted_2023-12-20_10-11-12')
    's3://codeocean-s3datasetsbucket-1u41qdg42ur9/e7f467f7-8ce3-4173-b593-3e53948adb30'
    """
    located = locate(data_asset_dir_candidates(source, asset_id, name))
    if located.url is not None:
        return located.url
    if located.denied:
        raise errors.AccessDeniedError(
            f"The files of data asset {asset_id} ({name}) were not found, and access was denied "
            f"to {', '.join(located.denied)}: check your AWS credentials."
        )
    raise _NotFound(asset_id)


# -- a session's raw data folder ---------------------------------------------------------


@linked.complete  # an answer made without DocDB is given, not kept
@cache.cached(persist=persistent.TEXT)
def raw_data_dir(session_id: str) -> str:
    """URL of a session's raw data folder (its listing is cached on the way).

    One S3 request when the raw data asset names its folder; otherwise the
    candidate folders are probed all at once. Not kept when DocDB could not
    be asked (its record's location might have said another folder).

    >>> raw_data_dir('ecephys_676909_2023-12-13_13-43-40')
    's3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'

    Raises
    ------
    aind_session.errors.NoRawDataDirError
        Listing every place checked.
    aind_session.errors.AccessDeniedError
        When nothing was found and S3 denied access to a candidate.
    """
    found, why = _asked(session_id)
    url = raw_data_dir_found(session_id, locate(_candidates(session_id, found, why)))
    return linked.unless_complete(url, why)


def raw_data_dir_candidates(session_id: str) -> Groups:
    """Where a session's raw data folder may be, in groups for :func:`locate`.

    By the raw data asset's ``source_bucket``, id and name; with no raw data
    asset, by session ID in the known data buckets.

    >>> groups = raw_data_dir_candidates('ecephys_676909_2023-12-13_13-43-40')
    >>> groups[0]
    ('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40 (source_bucket of data asset
      16d46411-540a-4122-b47f-8cb2a15d593a)', ['s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'])
    >>> raw_data_dir_candidates('ecephys_686740_2024-01-20_12-00-00')[0][1][-1]
    'aind-ophys-data/ecephys_686740_2024-01-20_12-00-00'
    """
    return _candidates(session_id, *_asked(session_id))


def _asked(session_id: str) -> tuple[linked.Joined, str | None]:
    s3.hint_connect()  # S3 comes next: set it up while the search is answered
    return linked.joined(session_id)


def _candidates(session_id: str, found: linked.Joined, why: str | None) -> Groups:
    from aind_session import codeocean
    from aind_session.config import get_settings

    asset = found.raw
    source = codeocean.source_url(asset) if asset is not None else None
    if source is not None and asset is not None:
        return data_asset_dir_candidates(source, asset.id, asset.name)
    groups: list[tuple[str, Sequence[str]]] = []
    if found.location is not None:
        groups.append((f"{found.location} (location in its DocDB record)", [found.location]))
    if asset is not None:
        return groups + data_asset_dir_candidates(None, asset.id, asset.name)
    buckets = get_settings().data_buckets
    unknown = f" (DocDB could not be asked for its record's location: {why})" if why else ""
    return [
        *groups,
        (
            f"the known data buckets ({', '.join(buckets)}) by session ID, as no raw data "
            f"asset exists{unknown}",
            [f"{b}/{session_id}" for b in buckets],
        ),
    ]


def raw_data_dir_found(session_id: str, located: Located) -> str:
    """The URL ``located`` found for a session's raw data folder, or the error
    saying what was checked (access denied included).

    >>> raw_data_dir_found('ecephys_676909_2023-12-13_13-43-40',
    ...                    Located('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40', ()))
    's3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'
    >>> raw_data_dir_found('ecephys_676909_2023-12-13_13-43-40', Located(None, ('a guess',)))
    Traceback (most recent call last):
    ...
    aind_session.errors.NoRawDataDirError: No raw data folder was found for
    ecephys_676909_2023-12-13_13-43-40. Checked: a guess. ...

    Raises
    ------
    aind_session.errors.NoRawDataDirError
        When nothing was found.
    aind_session.errors.AccessDeniedError
        When nothing was found and S3 denied access to a candidate.
    """
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


def no_raw_data_asset_message(session_id: str, assets: Sequence[DataAsset]) -> str:
    """What a session with no raw data asset among ``assets`` says: whether
    its raw data is on S3 (the probes of :func:`raw_data_dir`, found folders
    kept), or not uploaded, or unknown (S3 or DocDB could not be asked).

    >>> no_raw_data_asset_message('ecephys_686740_2024-01-20_12-00-00', ())
    'Raw data for ecephys_686740_2024-01-20_12-00-00 was found at
    s3://aind-ephys-data/ecephys_686740_2024-01-20_12-00-00, but no raw data asset exists in
    CodeOcean (no data asset is named ecephys_686740_2024-01-20_12-00-00* or linked by its
    DocDB record, none raw). Create one from that folder, or use session.raw_data_dir.'
    """
    from aind_session.config import get_settings

    what = f"{len(assets)} data asset(s)" if assets else "no data asset is"
    checked = f"{what} named {session_id}* or linked by its DocDB record"
    found, why = linked.joined(session_id)
    if why is not None:
        checked += f" (DocDB could not be asked: {why})"
    lacks = f"{session_id} has no raw data asset in CodeOcean ({checked}, none raw)"
    try:  # the same probes as raw_data_dir's (a folder found is cached for it)
        folder: str | None = raw_data_dir(session_id)
    except errors.NoRawDataDirError:
        folder = None
    except PermissionError:
        return (
            f"{lacks}; S3 could not be checked for its raw data (access denied): check your "
            "AWS credentials."
        )
    except errors.ServiceError as exc:  # CodeOcean's answer stands; only the hint is unknown
        return f"{lacks}; whether its raw data is on S3 is unknown, as S3 could not be asked: {exc}"
    if folder is not None:
        advice = (
            "Ask again once DocDB answers: an asset it links may exist; or use "
            "session.raw_data_dir."
            if why is not None
            else "Create one from that folder, or use session.raw_data_dir."
        )
        return (
            f"Raw data for {session_id} was found at {folder}, but no raw data asset exists in "
            f"CodeOcean ({checked}, none raw). {advice}"
        )
    at = f" nor at its DocDB location {found.location}" if found.location else ""
    return (
        f"{session_id} has not been uploaded: {checked}, none raw, and no folder "
        f"{session_id}/ exists in the known data buckets "
        f"({', '.join(get_settings().data_buckets)}){at}."
    )
