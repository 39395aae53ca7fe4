"""Job kinds and the functions that do them. A handler must be safe to run again from the start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int | None = None) -> None: ...


Handler = Callable[..., dict[str, Any]]
_HANDLERS: dict[str, Handler] = {}


class JobError(Exception):
    """A failure the job reports to its user: a stable code and a message in Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        if kind in _HANDLERS and _HANDLERS[kind] is not func:
            raise ValueError(f"Job kind {kind!r} is already registered.")
        _HANDLERS[kind] = func
        return func

    return register


def handler_for(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise JobError("job_kind_unknown", f"未知的任务类型：{kind}") from None


def known_kinds() -> list[str]:
    return sorted(_HANDLERS)
