"""``session.metadata``: the metadata JSON files at the top of the raw data folder.

>>> from aind_session import Session
>>> session = Session('ecephys_676909_2023-12-13_13-43-40')
>>> session.metadata.subject['genotype']
'Pvalb-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt'
>>> getattr(session.metadata, 'metadata.nd')['name']
'ecephys_676909_2023-12-13_13-43-40'

Any file stem works as an attribute (``.subject`` reads ``subject.json``);
the folder is listed once (the same listing that found the raw data folder)
and each file is read once.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from aind_session import cache, errors, persistent
from aind_session.extension import ExtensionBaseClass

if TYPE_CHECKING:
    from upath import UPath

    from aind_session.session import Session  # noqa: F401  (used in a base class)


logger = logging.getLogger(__name__)

# The AttributeError (a NotAvailableError saying what was checked) that a property of
# Metadata just raised in this thread: Python then calls __getattr__, which re-raises
# it rather than a bare AttributeError naming only the property.
_raised = threading.local()


class Metadata(ExtensionBaseClass["Session"]):
    """The JSON files in a session's raw data folder, each as a dict by its stem."""

    def _folder(self) -> str:
        from aind_session import folders

        return folders.raw_data_dir(self._base.id)

    @property
    @cache.public_call()
    def json_files(self) -> tuple[UPath, ...]:
        """The ``.json`` files at the top of the raw data folder, sorted by name.

        Raises
        ------
        aind_session.errors.NoRawDataDirError
            When the session has no raw data folder.

        >>> from aind_session import Session
        >>> [p.name for p in Session('ecephys_676909_2023-12-13_13-43-40').metadata.json_files][:2]
        ['data_description.json', 'metadata.nd.json']
        """
        from aind_session import s3

        try:
            folder = self._folder()
            return tuple(s3.upath(f"{folder}/{name}") for name in self._names(folder))
        except AttributeError as exc:
            _raised.error = ("json_files", exc)
            raise

    @property
    @cache.public_call()
    def file_names(self) -> tuple[str, ...]:
        """Names of the ``.json`` files at the top of the raw data folder, sorted
        (from its listing: no request more than finding the folder).

        >>> from aind_session import Session
        >>> Session('ecephys_676909_2023-12-13_13-43-40').metadata.file_names[:2]
        ('data_description.json', 'metadata.nd.json')

        Raises
        ------
        aind_session.errors.NoRawDataDirError
            When the session has no raw data folder.
        """
        try:
            return self._names(self._folder())
        except AttributeError as exc:
            _raised.error = ("file_names", exc)
            raise

    @staticmethod
    def _names(folder: str) -> tuple[str, ...]:
        from aind_session import s3

        if not folder.startswith("s3://"):
            return _json_files_elsewhere(folder)
        return tuple(n for n in s3.list_folder(folder).file_names if n.endswith(".json"))

    def read(self, stem: str) -> dict[str, Any]:
        """The content of ``<stem>.json`` as a dict (``'metadata.nd'`` for ``metadata.nd.json``).

        >>> from aind_session import Session
        >>> Session('ecephys_676909_2023-12-13_13-43-40').metadata.read('subject')['subject_id']
        '676909'

        Raises
        ------
        aind_session.errors.MetadataFileNotFoundError
            (an ``AttributeError``) listing the files that exist.
        aind_session.errors.CorruptFileError
            (a ``ValueError``) when the file is not valid JSON.
        """
        from aind_session import s3

        folder = self._folder()
        names = self._names(folder)
        name = f"{stem}.json"
        if name not in names:
            return self._from_docdb(stem, folder, names)
        content = s3.read_json(f"{folder}/{name}")
        if not isinstance(content, dict):
            raise errors.CorruptFileError(
                f"{folder}/{name} holds a JSON {type(content).__name__}, not an object."
            )
        return content

    def _from_docdb(self, stem: str, folder: str, names: tuple[str, ...]) -> dict[str, Any]:
        """Section ``stem`` of the session's DocDB record, for a file the folder
        lacks; else the not-found error, saying which name to use on a 2.x session."""
        from aind_session import linked

        found, why = linked.record(self._base.id)
        section = (found or {}).get(stem) if stem in SECTIONS else None
        if isinstance(section, dict):
            logger.debug("%s of %s: from its DocDB record (no %s.json)", stem, self._base.id, stem)
            return section
        listed = ", ".join(names) or "none"
        message = (
            f"{self._base.id} has no metadata file '{stem}.json' in {folder}; the JSON files "
            f"there are: {listed}."
        )
        newer = NEWER_NAMES.get(stem)
        if newer is not None and f"{newer}.json" in names:
            message += (
                f" {stem}.json became {newer}.json in aind-data-schema 2.0: use metadata.{newer}."
            )
        message += (
            f" DocDB could not be asked ({why})."
            if why
            else " Its DocDB record has no such section."
        )
        raise errors.MetadataFileNotFoundError(message)

    def _first(self, stems: tuple[str, ...]) -> dict[str, Any]:
        """The first of ``stems`` that the raw data folder holds, else DocDB's section."""
        folder = self._folder()
        names = self._names(folder)
        for stem in stems:
            if f"{stem}.json" in names:
                return self.read(stem)
        from aind_session import linked

        found, why = linked.record(self._base.id)
        for stem in stems:
            section = (found or {}).get(stem)
            if isinstance(section, dict):
                logger.debug("%s of %s: from its DocDB record", stem, self._base.id)
                return section
        said = f"DocDB could not be asked ({why})" if why else "its DocDB record has none of them"
        raise errors.MetadataFileNotFoundError(
            f"{self._base.id} has none of {', '.join(s + '.json' for s in stems)} in {folder} "
            f"(the JSON files there are: {', '.join(names) or 'none'}), and {said}."
        )

    def _section(self, name: str, stems: tuple[str, ...]) -> dict[str, Any]:
        try:
            return self._first(stems)
        except AttributeError as exc:  # re-raised by __getattr__ (see _raised)
            _raised.error = (name, exc)
            raise

    @property
    @cache.public_call()
    def acquisition(self) -> dict[str, Any]:
        """``acquisition.json`` (aind-data-schema 2.x), else ``session.json`` (1.x, the
        same facts), else the record's section in DocDB.

        >>> from aind_session import Session
        >>> Session('ecephys_676909_2023-12-13_13-43-40').metadata.acquisition['session_type']
        'OptoTagging'

        Raises
        ------
        aind_session.errors.MetadataFileNotFoundError
            When neither file nor section exists.
        """
        return self._section("acquisition", ("acquisition", "session"))

    @property
    @cache.public_call()
    def instrument(self) -> dict[str, Any]:
        """``instrument.json`` (aind-data-schema 2.x), else ``rig.json`` (1.x), else
        the record's section in DocDB.

        >>> from aind_session import Session
        >>> Session('ecephys_676909_2023-12-13_13-43-40').metadata.instrument['rig_id']
        '323_EPHYS1_20231101'

        Raises
        ------
        aind_session.errors.MetadataFileNotFoundError
            When neither file nor section exists.
        """
        return self._section("instrument", ("instrument", "rig"))

    @cache.public_call()
    def __getattr__(self, stem: str) -> dict[str, Any]:
        if hasattr(type(self), stem):  # a property of this class raised AttributeError
            name, error = getattr(_raised, "error", (None, None))
            _raised.error = (None, None)
            if name == stem and error is not None:
                raise error
        if stem.startswith("_") or hasattr(type(self), stem):
            raise AttributeError(
                f"{type(self).__name__} has no attribute {stem!r}, and it is not read as a "
                "metadata file: private names and the namespace's own names are not file stems."
            )
        return self.read(stem)

    if TYPE_CHECKING:  # the common files, for IDEs; any stem works through __getattr__
        subject: dict[str, Any]
        session: dict[str, Any]
        data_description: dict[str, Any]
        procedures: dict[str, Any]
        processing: dict[str, Any]
        rig: dict[str, Any]


# aind-data-schema 2.0 merged session.json into acquisition.json, rig.json into instrument.json
NEWER_NAMES = {"session": "acquisition", "rig": "instrument"}
# the metadata files (aind-data-schema's core models, both generations) that a DocDB
# record holds as sections; its other fields (_id, location, links) are no files
SECTIONS = frozenset(
    {
        "data_description",
        "subject",
        "procedures",
        "acquisition",
        "session",
        "instrument",
        "rig",
        "processing",
        "quality_control",
        "model",
    }
)


@cache.cached(persist=persistent.STRINGS, remote=True)
def _json_files_elsewhere(folder: str) -> tuple[str, ...]:
    """Names of the ``.json`` files of a folder not on S3 (``gs://``, ``file://``),
    sorted: a leaf, so that a batch asks it once, not once per round."""
    from aind_session import s3

    persistent.refuse_if_offline(f"a listing of {folder}")
    return tuple(sorted(p.name for p in s3.upath(folder).glob("*.json")))
