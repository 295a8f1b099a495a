"""botocore's data loader, set up faster: the S3 client's first use in a process costs
botocore about 0.1 s of CPU before any request, most of it in two places this loader
skips, with the same models loaded:

- botocore reads its JSON models (3.6 MB for S3's client: the endpoints of every
  partition, S3's service model, its endpoint rules) with
  ``object_pairs_hook=OrderedDict``, a Python call per object; here they are read as
  plain dicts (ordered as well), by ``json`` alone;
- to check that ``s3`` is a service, botocore lists every service's folder of its
  data path (about 400, with a check of each version's files), once per kind of
  model; here that one service's folder is looked at (the full list is still made
  when something iterates it, as an error message does).

Both are botocore's own extension points (:meth:`botocore.session.Session.register_component`
of a ``data_loader``; ``Loader(file_loader=...)``), and the search paths are the ones
botocore would use (``AWS_DATA_PATH`` or the ``data_path`` of the config file, then its
own). A model file of another kind than ``.json`` / ``.json.gz`` (none today) is left
to botocore's own loader. Measured: the S3 client's set-up takes 63 ms of CPU instead of 107.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from botocore import loaders
from botocore.exceptions import DataNotFoundError


class _PlainJSONFileLoader(loaders.JSONFileLoader):
    """botocore's JSON file loader, giving plain dicts."""

    def load_file(self, file_path: str) -> Any:
        for extension, opener in ((".json", open), (".json.gz", _gzip_open)):
            try:
                with opener(file_path + extension, "rb") as f:
                    payload = f.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ImportError):
                continue  # (ImportError: a Python without zlib, as botocore allows)
            return json.loads(payload.decode("utf-8"))
        # botocore's own, for a kind of model file a later release may add (today: None)
        return super().load_file(file_path)


def _gzip_open(path: str, mode: str) -> Any:
    import gzip

    return gzip.open(path, mode)


class _KnownServices(Sequence[str]):
    """The services with a model of one kind, as :meth:`Loader.list_available_services`
    gives them (sorted), but listed only when iterated: ``in`` looks at one folder.
    A sequence, not a list (botocore and aiobotocore only iterate it, join it and
    use ``in``); only the sessions made by :func:`quick_session` have it."""

    def __init__(self, loader: loaders.Loader, type_name: str) -> None:
        self._loader, self._type_name = loader, type_name
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or name in ("", ".", "..") or os.path.basename(name) != name:
            return False  # never a folder outside the data path
        if name != name.lower():
            return False  # botocore's services are lowercase ('S3' on a case-blind disk: no)
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def _listed(self) -> list[str]:
        if self._all is None:
            self._all = list(loaders.Loader.list_available_services(self._loader, self._type_name))
        return self._all

    def __getitem__(self, index: Any) -> Any:
        return self._listed()[index]

    def __len__(self) -> int:
        return len(self._listed())

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed())

    def __eq__(self, other: object) -> bool:
        return list(self) == other if isinstance(other, list) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._listed())


class QuickLoader(loaders.Loader):
    """botocore's ``Loader``, without its two slow steps (see the module)."""

    FILE_LOADER_CLASS = _PlainJSONFileLoader

    def list_available_services(self, type_name: str) -> Sequence[str]:
        """The services with a model of ``type_name``, sorted, listed when iterated.

        >>> services = QuickLoader().list_available_services('service-2')
        >>> 's3' in services, 'no-such-service' in services, 'sts' in list(services)
        (True, False, True)
        """
        return _KnownServices(self, type_name)


def quick_session(**kwargs: Any) -> Any:
    """An ``aiobotocore`` session (``AioSession(**kwargs)``, as s3fs would make it from its
    own session arguments, such as a ``profile``) whose clients load their models with
    :class:`QuickLoader`, from the search paths botocore's own loader would use.

    >>> session = quick_session()
    >>> type(session.get_component('data_loader')).__name__
    'QuickLoader'
    >>> 's3' in session.get_component('data_loader').list_available_services('service-2')
    True
    """
    import aiobotocore.session

    session = aiobotocore.session.AioSession(**kwargs)
    # the paths of the loader botocore would make (its own function reads AWS_DATA_PATH)
    paths = loaders.create_loader(session.get_config_variable("data_path")).search_paths
    loader = QuickLoader(extra_search_paths=list(paths), include_default_search_paths=False)
    session.register_component("data_loader", loader)
    return session
