"""Models: the SDK's ``DataAsset`` and ``Computation`` built fast from JSON, and the
codecs that keep them on disk as the service's own JSON."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aind_session import persistent
from aind_session.codeocean import sdk

if TYPE_CHECKING:
    from codeocean.computation import Computation
    from codeocean.data_asset import DataAsset


def data_asset_class() -> type[DataAsset]:
    """The SDK's ``DataAsset`` (for subclasses such as the sorted assets of ``session.ecephys``).

    >>> data_asset_class().__name__
    'DataAsset'
    """
    return sdk.DataAsset


def computation_class() -> type[Computation]:
    """The SDK's ``Computation``.

    >>> computation_class().__name__
    'Computation'
    """
    return sdk.Computation


# answers kept on disk: the service's own JSON, rebuilt as models
ASSET = persistent.Codec(lambda v: v.to_dict(), lambda o: build_data_asset(o))

COMPUTATIONS = persistent.Codec(
    lambda v: [c.to_dict() for c in v],
    lambda o: tuple(map(build_computation, o)),
)


def build_data_asset(record: dict[str, Any]) -> DataAsset:
    """The SDK's ``DataAsset`` from a JSON record, as ``DataAsset.from_dict`` makes it.

    ``from_dict`` inspects the class's types on every call (~0.5 ms an asset);
    this builds the same object from converters worked out once per class.
    Lists and dicts are copied, so the record stays as it was.

    >>> asset = build_data_asset({
    ...     'id': '16d46411-540a-4122-b47f-8cb2a15d593a', 'created': 1702620828,
    ...     'name': 'ecephys_676909_2023-12-13_13-43-40', 'mount': 'ecephys_676909_2023-12-13_13-43-40',
    ...     'state': 'ready', 'type': 'dataset', 'last_used': 0, 'tags': ['ecephys', 'raw'],
    ...     'owner': '00000000-0000-4000-8000-000000000001',
    ... })
    >>> asset.state, asset.tags
    (<DataAssetState.Ready: 'ready'>, ['ecephys', 'raw'])
    >>> asset == data_asset_class().from_dict(asset.to_dict())
    True
    """
    return _builder(data_asset_class())(record)  # type: ignore[arg-type]


def build_computation(record: dict[str, Any]) -> Computation:
    """The SDK's ``Computation`` from a JSON record (see :func:`build_data_asset`).

    >>> run = build_computation({
    ...     'id': 'd2d434b4-b2bb-4ca9-92eb-334439282d6a', 'created': 1709295723,
    ...     'name': 'sorting pipeline', 'run_time': 12770, 'state': 'completed',
    ...     'owner': '00000000-0000-4000-8000-000000000001', 'has_results': True,
    ... })
    >>> run.state, run.has_results
    (<ComputationState.Completed: 'completed'>, True)
    """
    return _builder(computation_class())(record)  # type: ignore[arg-type]


@functools.cache
def _builder(cls: type) -> Callable[[dict[str, Any]], Any]:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]

    def build(record: dict[str, Any]) -> Any:
        values = {}
        for name, convert in fields:
            if name in record:
                value = record[name]
                if convert is not None and value is not None:
                    value = convert(value)
                elif isinstance(value, (list, dict)):  # a copy: the cached record stays as sent
                    value = _json_copy(value)
                values[name] = value
        return cls(**values)

    return build


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists and scalars), three times as fast as
    :func:`copy.deepcopy`, which models of thousands of assets add up.

    >>> tags = {'tags': ['raw', {'a': [1]}]}
    >>> copied = _json_copy(tags)
    >>> copied == tags, copied['tags'] is tags['tags'], copied['tags'][1] is tags['tags'][1]
    (True, False, False)
    """
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def _converter(kind: Any) -> Callable[[Any], Any] | None:
    """How to turn a JSON value into ``kind``; None when it is used as it is."""
    import enum
    import types

    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return _converter(options[0]) if len(options) == 1 else None
    if origin is list and args:
        item = _converter(args[0])
        return None if item is None else (lambda values: [item(v) for v in values])
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _builder(kind)
    return None
