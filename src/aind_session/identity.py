"""`ComparedByID`: equality, order and hash by ID, shared by `Session` and `Subject`.

A leaf: it imports nothing of the package.

>>> from aind_session import Session, Subject
>>> Session('ecephys_676909_2023-12-13_13-43-40') < Session('ecephys_676909_2023-12-14_12-43-11')
True
>>> sorted([Subject(1000000), Subject(999999)])
[Subject('999999'), Subject('1000000')]
>>> Session('ecephys_676909_2023-12-13_13-43-40') == Subject(676909)
False
"""

from __future__ import annotations

from typing import Any, ClassVar


class ComparedByID:
    """Compared and hashed by :meth:`_key` (default: ``id``), only with instances
    of the class that took this mixin as a base (and its subclasses); anything
    else gives ``NotImplemented``."""

    id: str
    _compared_with: ClassVar[type[ComparedByID]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if ComparedByID in cls.__bases__:
            cls._compared_with = cls

    def _key(self) -> Any:
        """What equality and order compare."""
        return self.id

    def _hash_key(self) -> Any:
        """What the hash is taken of."""
        return self._key()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, self._compared_with):
            return bool(self._key() == other._key())
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, self._compared_with):
            return bool(self._key() < other._key())
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, self._compared_with):
            return bool(self._key() <= other._key())
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, self._compared_with):
            return bool(self._key() > other._key())
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, self._compared_with):
            return bool(self._key() >= other._key())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._hash_key())
