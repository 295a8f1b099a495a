"""Namespaces: extra capabilities hung on `Session` (or `Subject`) as attributes.

>>> import aind_session
>>> @aind_session.register_namespace('tally')
... class Tally(aind_session.ExtensionBaseClass):
...     @property
...     def n_assets(self) -> int:
...         return len(self._base.data_assets)
>>> aind_session.Session('ecephys_676909_2023-12-13_13-43-40').tally.n_assets > 0
True
>>> aind_session.extension.unregister_namespace('tally')

A namespace class is built on first access with the object it hangs on and
then cached on that object; this is safe because sessions and subjects are
immutable. Built-in namespaces (``metadata``, ``ecephys``) are declared the
same way but imported only when first used, so ``import aind_session`` stays
cheap.

This module imports no `Session`: ``session.py`` names itself the default owner
(:func:`set_default_owner`), the class extended when ``cls`` is not given.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aind_session import forks
from aind_session.errors import NamespaceError

__all__ = ["ExtensionBaseClass", "register_namespace", "unregister_namespace"]

B = TypeVar("B")
N = TypeVar("N", bound=type)

_registered: dict[type, dict[str, type]] = {}
_build_lock = forks.free_after_fork(threading.RLock())
_default_owner: list[type] = []  # set by session.py (Session), imported with the package


def set_default_owner(cls: type) -> None:
    """Make ``cls`` the class that :func:`register_namespace` extends by default
    (``session.py`` names `Session`)."""
    _default_owner[:] = [cls]


def _owner(cls: type | None) -> type:
    """``cls``, or the default owner when None."""
    if cls is not None:
        return cls
    if not _default_owner:  # import aind_session sets it: only a broken install gets here
        raise NamespaceError(
            "No default class to extend is set (aind_session.session was not imported): "
            "pass cls=Session or cls=Subject."
        )
    return _default_owner[0]


class ExtensionBaseClass(Generic[B]):
    """Base for namespace classes: keeps the session or subject as ``self._base``."""

    def __init__(self, base: B) -> None:
        self._base = base

    def __repr__(self) -> str:
        return f"<{type(self).__name__} namespace of {self._base!r}>"


class _Namespace:
    """Descriptor that builds a namespace on first access and caches it on the instance."""

    def __init__(self, name: str, target: type | str) -> None:
        self.name = name
        self._target = target

    @property
    def target(self) -> type:
        if isinstance(self._target, str):  # "module:Class", imported on first use
            module, _, attr = self._target.partition(":")
            self._target = getattr(importlib.import_module(module), attr)
        assert isinstance(self._target, type)
        return self._target

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self.target
        with _build_lock:
            cached = instance.__dict__.get(self.name)
            if cached is not None:
                return cached
            try:
                namespace = self.target(instance)
            except AttributeError as exc:
                # re-raised: an AttributeError would read as "no such attribute"
                raise NamespaceError(
                    f"Building the {self.name!r} namespace of {instance!r} failed: {exc}"
                ) from exc
            instance.__dict__[self.name] = namespace  # immutable owners allow only this
        return namespace


def _reserved(cls: type) -> set[str]:
    """Names a namespace may not take: every attribute and declared field of ``cls``."""
    names = set(dir(cls))
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    return names


def declare_builtin(cls: type, name: str, target: str) -> None:
    """Attach a built-in namespace, imported from ``"module:Class"`` on first use."""
    setattr(cls, name, _Namespace(name, target))


def register_namespace(name: str, cls: type | None = None) -> Callable[[N], N]:
    """Decorator registering a class as namespace ``name`` on ``cls`` (default `Session`).

    Parameters
    ----------
    name
        Attribute name, a valid identifier.
    cls
        The class to extend: `Session` (default) or `Subject`.

    Raises
    ------
    aind_session.errors.NamespaceError
        When ``name`` is not an identifier or is already an attribute of ``cls``
        that was not registered as a custom namespace (a built-in).

    Warns
    -----
    UserWarning
        When a custom namespace of that name is replaced.

    Examples
    --------
    >>> from aind_session import ExtensionBaseClass, Session
    >>> @register_namespace('shout')
    ... class Shout(ExtensionBaseClass):
    ...     @property
    ...     def id(self) -> str:
    ...         return self._base.id.upper()
    >>> Session('ecephys_676909_2023-12-13_13-43-40').shout.id
    'ECEPHYS_676909_2023-12-13_13-43-40'
    >>> unregister_namespace('shout')
    >>> register_namespace('ecephys')(Shout)
    Traceback (most recent call last):
    ...
    aind_session.errors.NamespaceError: Cannot register namespace 'ecephys': Session.ecephys already exists ...
    """
    cls = _owner(cls)
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise NamespaceError(
            f"Namespace name {name!r} must be a public Python identifier, like 'ecephys'."
        )
    target_cls = cls

    def decorator(namespace_cls: N) -> N:
        if not isinstance(namespace_cls, type):
            raise NamespaceError(
                f"register_namespace({name!r}) decorates a class, not {namespace_cls!r}."
            )
        custom = _registered.setdefault(target_cls, {})
        if name in custom:
            warnings.warn(
                f"Namespace {name!r} on {target_cls.__name__} is replaced: "
                f"{custom[name].__qualname__} -> {namespace_cls.__qualname__}.",
                UserWarning,
                stacklevel=2,
            )
        elif name in _reserved(target_cls):
            raise NamespaceError(
                f"Cannot register namespace {name!r}: {target_cls.__name__}.{name} already "
                "exists (a built-in attribute or namespace). Choose another name."
            )
        custom[name] = namespace_cls
        setattr(target_cls, name, _Namespace(name, namespace_cls))
        return namespace_cls

    return decorator


def unregister_namespace(name: str, cls: type | None = None) -> None:
    """Remove a custom namespace (for tests and notebooks); built-ins cannot be removed."""
    cls = _owner(cls)
    custom = _registered.get(cls, {})
    if name not in custom:
        raise NamespaceError(f"{cls.__name__} has no custom namespace {name!r} to remove.")
    del custom[name]
    delattr(cls, name)


def registered_namespaces(cls: type | None = None) -> dict[str, type]:
    """The custom namespaces registered on ``cls`` (default `Session`), by name;
    ``{}`` when there are none (the built-ins are not listed).

    >>> from aind_session import ExtensionBaseClass, Subject
    >>> registered_namespaces()
    {}
    >>> @register_namespace('counts', cls=Subject)
    ... class Counts(ExtensionBaseClass):
    ...     pass
    >>> registered_namespaces(Subject)
    {'counts': <class 'aind_session.extension.Counts'>}
    >>> unregister_namespace('counts', cls=Subject)
    """
    cls = _owner(cls)
    return dict(_registered.get(cls, {}))
