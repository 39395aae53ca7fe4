"""The errors and warnings every domain check speaks: a stable `code` for machines, a Chinese `message` for people."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise

# Messages are lazy so they render in the language of the request that shows them, not of import time.
Message = str | Promise


class DomainError(ValueError):
    """Input that breaks a domain rule; nothing was accepted."""

    def __init__(self, code: str, message: Message) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {str(self.message)!r})"


@dataclass(frozen=True)
class DomainWarning:
    """A finding worth showing to a person that does not make the input unusable."""

    code: str
    message: Message = field(repr=False)

    def __str__(self) -> str:
        return str(self.message)


class Refused(PermissionDenied):
    """An act this user may not take, with a machine-readable ``code`` (the API answers 403 with it) and the Chinese
    ``message`` the screens show. Each subject names its own subclass (ReviewRefused, CorrectionRefused, …)."""

    def __init__(self, message: Message, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def messages(self) -> list[str]:
        return [self.message]
