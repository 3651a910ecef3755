"""A string wrapper that keeps credentials out of reprs, logs and exception text."""

from __future__ import annotations

__all__ = ["Secret", "mask"]


class Secret:
    """Holds a credential; ``str()``, ``repr()`` and formatting show only a mask.

    Call :meth:`reveal` at the single place the raw value goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the raw credential."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)!r})"

    def __str__(self) -> str:
        return mask(self._value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def mask(value: str) -> str:
    """Show that a credential is set without showing any of it."""
    return "***" if value else ""
