"""Rate limits for the public pages, on the shared cache (Redis in production) through django-ratelimit.

Counters are keyed by the client's true address (yikatong.net.client_ip, which trusts X-Forwarded-For only from
the configured number of proxies) or by a keyed hash; django-ratelimit hashes every key again, so neither an
address nor an ID number is ever written to the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django_ratelimit.core import get_usage

from yikatong.net import client_ip

# A request whose address cannot be read (a broken proxy setup) still counts, all such requests together.
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class Usage:
    count: int
    limit: int
    retry_after: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def client_key(request) -> str:
    return client_ip(request) or UNKNOWN_CLIENT


def hit(request, *, group: str, rate: str, key: str | None = None) -> Usage:
    """Count one request against ``rate`` ("20/h", "3/10m") for ``key`` (by default the client's address).

    When the cache cannot count (it is down), django-ratelimit reports the limit as reached: the public lookup
    closes rather than run unlimited.
    """
    return _usage(request, group=group, rate=rate, key=key, increment=True)


def peek(request, *, group: str, rate: str, key: str | None = None) -> Usage:
    """The count so far, without counting this request."""
    return _usage(request, group=group, rate=rate, key=key, increment=False)


def _usage(request, *, group: str, rate: str, key: str | None, increment: bool) -> Usage:
    value = key if key is not None else client_key(request)
    usage = get_usage(request, group=group, key=lambda _group, _request: value, rate=rate, increment=increment)
    if usage is None:  # RATELIMIT_ENABLE = False: counting is switched off
        return Usage(count=0, limit=1, retry_after=0)
    if usage["limit"] == 0:  # the cache failed
        return Usage(count=1, limit=0, retry_after=60)
    return Usage(count=usage["count"], limit=usage["limit"], retry_after=max(int(usage["time_left"]), 1))


def rate(name: str) -> str:
    """A configured rate by name (settings.PUBLIC_RATES, each overridable from the environment)."""
    return settings.PUBLIC_RATES[name]
