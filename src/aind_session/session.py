"""`Session`: one experiment session, identified by its ID, resolved lazily.

>>> from aind_session import Session
>>> session = Session('ecephys_676909_2023-12-13_13-43-40')
>>> session.platform, session.subject_id, session.dt
('ecephys', '676909', datetime.datetime(2023, 12, 13, 13, 43, 40))

An aind-data-schema 2.x ID (``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``) names no
platform; its modalities say what was recorded:

>>> Session('780345_2025-02-20_00-00-00').platform is None
True

Creating a session parses the ID and nothing else: no I/O, no heavy import.
Every remote answer is a property that asks its question on first use and is
cached for the cache's time-to-live (shared by all sessions with the same ID).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aind_session import cache, errors
from aind_session.conventions import (  # noqa: F401 (names of this module too)
    EXPECTED_FORM,
    MAX_PLATFORM_LENGTH,
    PLATFORM_PATTERN,
    SCHEMA2_FORM,
    session_id_fields,
)
from aind_session.extension import declare_builtin, set_default_owner
from aind_session.identity import ComparedByID

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset
    from upath import UPath

    from aind_session.extensions.ecephys import Ecephys
    from aind_session.extensions.metadata import Metadata
    from aind_session.subject import Subject


MODALITY_ALIASES = {"ecephys_clipped": "ecephys", "ecephys_compressed": "ecephys"}


def parse_session_id(value: Any) -> str:
    """The session ID held in ``value`` (an ID, a path or any string containing one).

    The first ID of either form wins (see :mod:`aind_session.conventions`): a
    legacy ``<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>`` that npc-session's
    AIND pattern accepts, where the platform is a whole word of letters, digits
    and hyphens (text before it, such as ``'?name='``, is not part of it), or an
    aind-data-schema 2.x ``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``; the date and
    time are real, and no digit follows the time. Takes time linear in the
    length of ``value``.

    Raises
    ------
    aind_session.errors.SessionIDError
        A ``ValueError`` naming the value and the expected form.

    Examples
    --------
    >>> parse_session_id('s3://bucket/ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
    'ecephys_676909_2023-12-13_13-43-40'
    >>> parse_session_id('data-assets?name=ecephys_676909_2023-12-13_13-43-40')
    'ecephys_676909_2023-12-13_13-43-40'
    >>> parse_session_id('s3://bucket/780345_2025-02-20_00-00-00_sorted_2025-03-01_10-00-00')
    '780345_2025-02-20_00-00-00'
    """
    return _parse_value(value)[0]


def _parse_value(value: Any) -> tuple[str, str | None, str, datetime.datetime]:
    if isinstance(value, Session):
        return value.id, value.platform, value.subject_id, value.dt
    return session_id_fields(value)


class Session(ComparedByID):
    """One AIND experiment session.

    Parameters
    ----------
    value
        A session ID, a path, or any string containing one (such as a sorted
        data asset's name): the legacy ``<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>``
        or aind-data-schema 2.x ``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``, whose
        ``platform`` is None (``modalities`` says what was recorded).

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) when ``value`` holds no session ID.

    Examples
    --------
    >>> s = Session('/data/ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
    >>> s
    Session('ecephys_676909_2023-12-13_13-43-40')
    >>> s.date, s.time
    (datetime.date(2023, 12, 13), datetime.time(13, 43, 40))
    >>> s == Session('ecephys_676909_2023-12-13_13-43-40')
    True
    >>> s2 = Session('s3://bucket/780345_2025-02-20_00-00-00_nwb_2025-03-02_08-00-00')
    >>> s2, s2.platform, s2.subject_id, s2.date
    (Session('780345_2025-02-20_00-00-00'), None, '780345', datetime.date(2025, 2, 20))
    """

    id: str
    platform: str | None
    """The platform the ID starts with; None for a 2.x ID, which names none."""
    subject_id: str
    dt: datetime.datetime

    if TYPE_CHECKING:  # built-in namespaces, for IDEs; attached below
        metadata: Metadata
        ecephys: Ecephys

    def __init__(self, value: str | os.PathLike[str] | Session) -> None:
        session_id, platform, subject_id, dt = _parse_value(value)
        d = self.__dict__
        d["id"], d["platform"], d["subject_id"], d["dt"] = session_id, platform, subject_id, dt

    # -- identity ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Session is immutable: cannot set {name!r} on {self!r}.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Session is immutable: cannot delete {name!r} from {self!r}.")

    def __repr__(self) -> str:
        return f"Session({self.id!r})"

    def __str__(self) -> str:
        return self.id

    # ==, <, <=, >, >= and hash by id: ComparedByID

    def __reduce__(self) -> tuple[Any, ...]:
        return (Session, (self.id,))

    def _repr_html_(self) -> str:
        from aind_session import cards

        return cards.session_card(self.id, self.platform, self.subject_id, self.dt)

    def describe(self) -> dict[str, Any]:
        """Everything ``aind-session info`` shows, as a dict (renders as HTML in Jupyter).

        See :func:`aind_session.report.describe` for the keys. What could not be
        found out is ``None`` there, with the reason under ``unknown``.

        >>> summary = Session('ecephys_676909_2023-12-13_13-43-40').describe()
        >>> summary['raw_data_asset']['id'], summary['unknown']
        ('16d46411-540a-4122-b47f-8cb2a15d593a', {})
        """
        return _provided("describe")(self)

    @property
    def date(self) -> datetime.date:
        """Date the session started.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').date
        datetime.date(2023, 12, 13)
        """
        return self.dt.date()

    @property
    def time(self) -> datetime.time:
        """Time of day the session started.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').time
        datetime.time(13, 43, 40)
        """
        return self.dt.time()

    @property
    def datetime(self) -> datetime.datetime:
        """Date and time the session started (same as ``dt``).

        >>> Session('ecephys_676909_2023-12-13_13-43-40').datetime
        datetime.datetime(2023, 12, 13, 13, 43, 40)
        """
        return self.dt

    @property
    def subject(self) -> Subject:
        """The `Subject` of this session.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').subject
        Subject('676909')
        """
        return _provided("subject")(self.subject_id)

    # -- CodeOcean -------------------------------------------------------------------
    @property
    @cache.public_call()
    def data_assets(self) -> tuple[DataAsset, ...]:
        """Every data asset whose name starts with the session ID, and every one
        its DocDB record links, oldest first; ``()`` if none.

        >>> [a.name for a in Session('ecephys_676909_2023-12-13_13-43-40').data_assets][0]
        'ecephys_676909_2023-12-13_13-43-40'
        >>> [a.name for a in Session('ecephys_733691_2025-06-03_10-15-00').data_assets]  # linked
        ['Neuropixels recording, rig NP3, 3 June 2025']
        """
        from aind_session import linked

        return linked.session_data_assets(self.id)

    @property
    @cache.public_call()
    def raw_data_asset(self) -> DataAsset:
        """The session's raw data asset (the latest when several qualify).

        Chosen by custom metadata ``"data level": "raw data"``, then a tag
        containing ``raw``, then a name equal to the session ID, then a link
        from the session's DocDB record.

        Raises
        ------
        aind_session.errors.NoRawDataAssetError
            (an ``AttributeError``) saying whether the raw data is on S3
            without an asset, or not uploaded at all.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').raw_data_asset.id
        '16d46411-540a-4122-b47f-8cb2a15d593a'
        """
        from aind_session import linked

        asset = linked.session_raw_data_asset(self.id)
        if asset is not None:
            return asset
        from aind_session import folders

        raise errors.NoRawDataAssetError(
            folders.no_raw_data_asset_message(self.id, self.data_assets)
        )

    # -- DocDB -------------------------------------------------------------------------
    @property
    @cache.public_call()
    def docdb(self) -> dict[str, Any]:
        """The session's record in DocDB, the index of data assets (2.x collection first).

        >>> Session('780345_2025-02-20_00-00-00').docdb['location']
        's3://aind-private-data-prod-o5171v/780345_2025-02-20_00-00-00'

        Raises
        ------
        aind_session.errors.NoDocDBRecordError
            (an ``AttributeError``) when no collection has a record of it.
        aind_session.errors.ServiceError
            When DocDB could not be asked."""
        from aind_session import docdb
        from aind_session.config import get_settings

        if (found := docdb.record(self.id)) is None:
            raise errors.NoDocDBRecordError(
                f"DocDB has no record named {self.id!r} in {', '.join(get_settings().docdb_collections)}"
                " (AIND_SESSION_DOCDB_COLLECTIONS); records appear once metadata is indexed."
            )
        return found

    # -- S3 ----------------------------------------------------------------------------
    @property
    @cache.public_call()
    def raw_data_dir(self) -> UPath:
        """The session's raw data folder, as a ``UPath``.

        From the raw data asset's ``source_bucket``; otherwise the known data
        buckets, looked up by the asset's id and name (all at once); with no
        asset, the known buckets looked up by session ID.

        Raises
        ------
        aind_session.errors.NoRawDataDirError
            (an ``AttributeError``) listing every place checked.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').raw_data_dir.as_posix()
        's3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'
        """
        from aind_session import s3

        return s3.upath(_raw_data_dir(self.id))

    @property
    @cache.public_call()
    def is_uploaded(self) -> bool:
        """True when the raw data folder exists; False when it was looked for
        everywhere known and not found.

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When a place could not be checked (not False: the answer is unknown).

        Examples
        --------
        >>> Session('ecephys_676909_2023-12-13_13-43-40').is_uploaded
        True
        >>> Session('ecephys_686740_2024-01-20_12-00-00').is_uploaded  # on S3, no asset
        True
        >>> Session('behavior_700000_2024-02-02_10-00-00').is_uploaded  # an asset, no folder
        False
        """
        try:
            _raw_data_dir(self.id)
        except errors.NoRawDataDirError:
            return False
        return True

    @property
    @cache.public_call()
    def modalities(self) -> tuple[str, ...]:
        """Names of the modality folders in the raw data folder, sorted; ``()`` if not uploaded.

        ``ecephys_clipped``/``ecephys_compressed`` count as ``ecephys``;
        names containing ``metadata`` are left out.

        >>> Session('ecephys_676909_2023-12-13_13-43-40').modalities
        ('behavior', 'ecephys')
        """
        from aind_session import s3

        try:
            folder = _raw_data_dir(self.id)
        except errors.NoRawDataDirError:
            return ()
        if not folder.startswith("s3://"):
            return ()
        listing = s3.list_folder(folder)
        names = {MODALITY_ALIASES.get(n, n) for n in listing.folders if "metadata" not in n}
        return tuple(sorted(names))


def _raw_data_dir(session_id: str) -> str:
    from aind_session import folders  # (see there)

    return folders.raw_data_dir(session_id)


# Session.subject and Session.describe() are answered by the layers above this
# one (subject.py, report.py): the package's __init__, the top of the house,
# plugs them in with `provide`, so that this module imports nothing above it.
_providers: dict[str, Callable[..., Any]] = {}


def provide(**functions: Callable[..., Any]) -> None:
    """Plug in what the layers above answer: ``subject`` (a subject ID to its
    ``Subject``) and ``describe`` (a ``Session`` to its summary). Called by the
    ``aind_session`` package on import.

    >>> sorted(_providers)
    ['describe', 'subject']
    """
    _providers.update(functions)


def _provided(name: str) -> Callable[..., Any]:
    if name not in _providers:  # only when this module is loaded without the package
        raise errors.InternalError(f"Session.{name} is plugged in by the aind_session package")
    return _providers[name]


declare_builtin(Session, "metadata", "aind_session.extensions.metadata:Metadata")
declare_builtin(Session, "ecephys", "aind_session.extensions.ecephys:Ecephys")
set_default_owner(Session)  # register_namespace(name) extends Session
