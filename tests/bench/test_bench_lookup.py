"""The lookup load benchmark (bench/lookup_load.py) at a tiny size and without wrk, so that it cannot rot: its data
is built through the project's paths, its people file and request bodies find every person through both doors, its
attacks are counted within the limits, and wrk's output is read back."""

from __future__ import annotations

import json
import stat

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from bench import lookup_load
from yikatong.domain.citizen_id import parse_citizen_id

pytestmark = pytest.mark.postgres

PEOPLE, MONTHS = 8, 2


@pytest.fixture
def proxied(settings):
    """As the benchmark's server runs: behind one proxy (X-Forwarded-For), with counters that start at zero."""
    settings.TRUSTED_PROXY_COUNT = 1
    cache.clear()
    yield
    cache.clear()


def _build(people: int, months: int) -> list[tuple[str, str]]:
    data = lookup_load.build(people, months, log=lambda _line: None)
    assert [(step["period"], step["paid"]) for step in data["steps"]] == [
        (period, people) for period in lookup_load.PERIODS[:months]
    ]
    return lookup_load.paid_people()


@pytest.mark.django_db
def test_the_people_file_and_bodies_find_every_person_through_both_doors(proxied, tmp_path):
    everyone = _build(PEOPLE, MONTHS)

    assert len(everyone) == PEOPLE == len({number for _name, number in everyone})
    assert all(name and parse_citizen_id(number).number == number for name, number in everyone)
    path = lookup_load.write_people(everyone, tmp_path / "work")
    assert lookup_load.read_people(path) == everyone
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lookup_load.ROOT not in lookup_load.WORK_DIR.parents  # the default work directory: never the repo

    client = Client(enforce_csrf_checks=True)
    page = client.get(lookup_load.PAGE)
    token = lookup_load.re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert client.cookies["csrftoken"].value
    for door in ("page", "api"):
        bodies = lookup_load.write_bodies(door, everyone, tmp_path / "work", csrf=token if door == "page" else "")
        lines = bodies.read_text(encoding="utf-8").splitlines()
        assert lines == [lookup_load.body(door, n, i, csrf=token) for n, i in everyone]
        path_ = lookup_load.PAGE if door == "page" else lookup_load.API
        for k, line in enumerate(lines):
            response = client.post(
                path_, line.encode(), content_type=lookup_load.CONTENT_TYPE[door],
                HTTP_X_FORWARDED_FOR=f"198.18.{door == 'api':d}.{k + 1}",
            )  # fmt: skip
            text = response.content.decode()
            assert response.status_code == 200, (door, k, response.status_code)
            assert lookup_load.FOUND_MARKER[door] in text
            assert lookup_load.classify(door, response.status_code, text)[0] == "found"
            if door == "api":
                assert len(json.loads(text)["payments"]) == MONTHS
            else:
                assert text.count('class="payment payment-paid"') == MONTHS
        # The marker tells the answers apart: a name that does not match finds nothing and lacks it.
        name, number = everyone[0]
        wrong = lookup_load.body(door, name + "某", number, csrf=token)
        response = client.post(
            path_, wrong.encode(), content_type=lookup_load.CONTENT_TYPE[door], HTTP_X_FORWARDED_FOR="198.18.9.9"
        )
        text = response.content.decode()
        assert response.status_code == 200 and lookup_load.FOUND_MARKER[door] not in text
        assert lookup_load.classify(door, 200, text)[0] == "not_found"


@pytest.mark.django_db(transaction=True)
def test_the_attacks_are_answered_within_the_configured_limits(proxied, live_server):
    everyone = _build(75, 1)  # distinct people for every request that reaches the per-ID count
    port = int(live_server.url.rsplit(":", 1)[1])
    rates = django_settings.PUBLIC_RATES
    per_ip, soft, per_id = (lookup_load._limit(rates[k]) for k in ("lookup_ip", "lookup_challenge", "lookup_id"))

    for door in ("page", "api"):
        cache.clear()
        csrf = lookup_load.csrf_pair(port) if door == "page" else None
        result = lookup_load.attacks(port, door, everyone, csrf, rates, burst=per_ip + 5, solver=per_ip + 5, one_id=15)

        burst = result["one_address"]
        assert burst["tally"] == {"found": soft, "challenge": per_ip - soft, "limited": 5}, (door, burst)
        solver = result["solver"]
        assert solver["answered"] <= per_ip and solver["tally"]["limited"] > 0, (door, solver)
        if door == "page":  # the page offers the next challenge with each answer: a solver reaches the hard limit
            assert solver["answered"] == per_ip, solver
        one_id = result["one_id"]
        assert one_id["tally"] == {"found": per_id, "limited": 15 - per_id}, (door, one_id)


class _Finished:
    """What wrk_result reads of a finished wrk process."""

    returncode = 0

    def __init__(self, out: str) -> None:
        self.out = out

    def communicate(self, timeout=None):
        return self.out, ""


def test_wrk_is_started_with_the_scripts_arguments_and_its_output_read_back(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(lookup_load, "wrk_path", lambda: "/usr/bin/wrk")
    monkeypatch.setattr(lookup_load.subprocess, "Popen", lambda command, **_kw: started.append(command))
    csrf = lookup_load.Csrf("csrftoken=abc", "xyz")
    lookup_load.wrk(8000, "page", tmp_path / "bodies.txt", csrf, connections=8, seconds=30)
    (command,) = started
    assert command[:7] == ["/usr/bin/wrk", "-t1", "-c8", "-d30s", "--timeout", "5s", "--latency"]
    assert command[command.index("-s") + 1] == str(lookup_load.LUA) and lookup_load.LUA.exists()
    assert command[-7:] == [
        "http://127.0.0.1:8000/lookup/", "--", str(tmp_path / "bodies.txt"), '<ol class="payments">',
        "application/x-www-form-urlencoded", "csrftoken=abc", "1",
    ]  # fmt: skip
    lua = lookup_load.LUA.read_text()
    assert all(f"args[{k}]" in lua for k in range(1, 6)) and "LOOKUP_LOAD_JSON" in lua

    out = (
        "Running 30s test @ http://127.0.0.1:8000/lookup/\n  Socket errors: connect 0, read 2, write 0, timeout 0\n"
        'LOOKUP_LOAD_JSON {"requests":12000,"duration_us":30000000,"bytes":1,"p50_us":9000,"p90_us":20000,'
        '"p99_us":41000,"max_us":90000,"mean_us":10000.0,"stdev_us":5.0,"statuses":{"200":11998,"502":2},'
        '"answered":11998,"found":11998,"errors":{"connect":0,"read":2,"write":0,"status":2,"timeout":0}}\n'
    )
    load = lookup_load.wrk_result(_Finished(out), 30)
    assert (load["rps"], load["statuses"], load["socket_errors"]) == (
        400.0, {200: 11998, 502: 2}, "connect 0, read 2, write 0, timeout 0"
    )  # fmt: skip
