"""Print shell assignments for the local PostgreSQL and Redis when they answer (used by `make test`).

Variables already set are kept. Nothing is printed for a service that does not answer, so the suite
falls back to SQLite and eager tasks and says which tests did not run.
"""

from __future__ import annotations

import os
import socket


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    if not os.environ.get("DATABASE_URL") and _reachable("127.0.0.1", 5432):
        print("DATABASE_URL=postgres://postgres@127.0.0.1:5432/yikatong")
    if _reachable("127.0.0.1", 6379):
        if not os.environ.get("CELERY_BROKER_URL"):
            print("CELERY_BROKER_URL=redis://127.0.0.1:6379/14")
        if not os.environ.get("CACHE_URL"):
            print("CACHE_URL=redis://127.0.0.1:6379/15")


if __name__ == "__main__":
    main()
