"""Load benchmark of the public personal lookup (个人查询, issue 8): gunicorn on this machine, wrk against it.

    .venv/bin/python bench/lookup_load.py                      # build yikatong_bench_lookup once, then measure
    .venv/bin/python bench/lookup_load.py --people 50000 --rebuild
    .venv/bin/python bench/lookup_load.py --connections 4,8,16 --repeat 2 --duration 30 --wait-quiet 600
    .venv/bin/python bench/lookup_load.py --workers 3 --threads 2 --no-attack   # another server layout
    .venv/bin/python bench/lookup_load.py --profile 2000       # where a request's time goes (in-process)

Target (issue 8): at least 400 requests/s with p99 under 50 ms, against distinct valid people, with the rate limit
still holding under that load.

The data: its own PostgreSQL database ``yikatong_bench_lookup`` (127.0.0.1:5432, user postgres), migrated and filled
through the project's own paths — the demo organisation, policy list, banks and agreements; then for each of
``--months`` months one payout of 城市低保 (MZ-04, 580 元) for the same ``--people`` synthetic people (bench.synth),
its CSV roster imported by the roster import job, checked, its findings cleared, submitted, approved twice, released
into bank batches, the batch files generated, and every payment answered "paid" by its bank through the JSON results
service. Built once and reused; ``--rebuild`` starts over. The people file (name and ID of every paid person,
decrypted from the database) and the request bodies go to a temporary directory (``--work-dir``), never to the repo.

Each measured run: the bench Redis database (``--redis-db``, the server's cache) is flushed, a fresh gunicorn
(``yikatong.wsgi``) is started with DATABASE_URL, CACHE_URL, TRUSTED_PROXY_COUNT=1 and DATABASE_CONN_MAX_AGE, one
GET of /lookup/ gives a CSRF cookie + field pair, and wrk (Debian's ``apt-get install -y wrk``) POSTs lookups for
``--duration`` seconds through bench/lookup_load.lua: every request another person and another X-Forwarded-For
address (198.18.0.0/15, the range RFC 2544 sets aside for benchmarks), counting status codes and the answers that
found the person. Both doors: the page (POST /lookup/, form + CSRF) and the API (POST /api/v1/public/lookup/, JSON).
While wrk runs, three "attacks" go to the same door from this process (http.client): one address making 100
lookups of distinct people from 8 threads; one address that answers every challenge; one ID looked up from 50
addresses. Their answers are counted against the configured limits (LOOKUP_RATE_PER_IP, LOOKUP_CHALLENGE_AFTER,
LOOKUP_RATE_PER_ID). All traffic goes to 127.0.0.1, bounded in count and time.

The server: 2 sync workers by default, one per core. A lookup is CPU-bound Python (about 80 % of its time in the
worker is its own CPU; the rest waits on PostgreSQL and Redis, which run on the same two cores and fill that wait),
so more workers or threads only add switching: 3 and 4 workers, or 2 × 2 gthread, measured 30-45 % more worker CPU
per request and less throughput (docs/benchmarks.md). Each run also reads from /proc the CPU that the workers, the
database's backends, redis-server and wrk used, per request, and the share of the machine they got: this machine is
shared, and ``--wait-quiet`` waits before each run until others leave it nearly idle.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script (python bench/lookup_load.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchdb import ROOT, BenchDatabase, machine

DB_NAME = "yikatong_bench_lookup"
META = "bench_lookup_meta"
DB = BenchDatabase(DB_NAME, META)
LUA = Path(__file__).resolve().with_suffix(".lua")
SEED = 8  # the synthetic people (bench.synth): person i depends only on (seed, county, i)
COUNTY_SEED = 2026  # the demo county (org/data/divisions-410103.csv), as disbursement.demo uses it
POLICY = "MZ-04"  # 城市居民最低生活保障金: no age bounds, 580 元 a month
AMOUNT = "580.00"
PERIODS = ("2026-09", "2026-10", "2026-11", "2026-08", "2026-07", "2026-06")
WORK_DIR = Path(tempfile.gettempdir()) / "yikatong-bench-lookup"  # people file, bodies, server log: never the repo
RESERVED = 200  # the last people of the file: kept out of the load for the attacks (so no ID is counted twice)

PAGE = "/lookup/"
API = "/api/v1/public/lookup/"
# What only an answer that found the person contains (tests/bench/test_bench_lookup.py checks both ways).
FOUND_MARKER = {"page": '<ol class="payments">', "api": '"found":true'}
CONTENT_TYPE = {"page": "application/x-www-form-urlencoded", "api": "application/json"}


# --- The database ------------------------------------------------------------------------------------------------


def build(people: int, months: int, *, log=print) -> dict:
    """The demo organisation, then ``months`` paid payouts of the same ``people`` people, through the services."""
    from django.db import connection

    from banks.demo import seed_agreements, seed_banks
    from org.demo import seed_organisation
    from policies.demo import seed_policy_lists

    began = time.perf_counter()
    seed_organisation()
    seed_policy_lists()
    seed_banks()
    seed_agreements()
    steps = [pay_one_month(period, people, log=log) for period in PERIODS[:months]]
    with connection.cursor() as cursor:
        for table in ("recipients_recipient", "disbursement_payment"):
            cursor.execute(f"VACUUM ANALYZE {table}" if not connection.in_atomic_block else f"ANALYZE {table}")
    return {"people": people, "months": months, "steps": steps, "build_seconds": round(time.perf_counter() - began, 1)}


def pay_one_month(period: str, people: int, *, log=print) -> dict:
    """One payout of ``people`` rows, taken the whole way from roster upload to every payment paid."""
    from django.db import connection, transaction

    from bench import synth
    from disbursement import demo
    from disbursement.models import Payment
    from disbursement.services import payout_create
    from org.models import Region, User
    from policies.models import Policy
    from recipients.models import Roster
    from recipients.services import roster_upload

    timings: dict[str, float] = {"period": period}
    clerk = User.objects.get(username="minzheng")
    mark = time.perf_counter()
    with transaction.atomic():
        payout = payout_create(
            acting_user=clerk, policy=Policy.objects.get(code=POLICY), period=period,
            region=Region.objects.get(code="410103"), budget_document="二七财预〔2026〕88号",
            budget_amount=Decimal(AMOUNT) * people, title=f"二七区{period}城市低保金（压测）",
        )  # fmt: skip
    rows = synth.iter_roster_rows(SEED, synth.make_county(COUNTY_SEED), people, amount=AMOUNT)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        synth.write_roster_csv(rows, path)
        data = path.read_bytes()
    roster = roster_upload(acting_user=clerk, payout=payout, filename=f"{period}城市低保名册.csv", data=data)
    demo._import_and_check(payout, roster)  # the import job, then the checks it queued (run here if not yet run)
    roster = Roster.objects.get(pk=roster.pk)
    assert roster.valid == people and not roster.rejected, (roster.status, roster.valid, roster.rejected)
    timings["import_and_check"] = time.perf_counter() - mark
    mark = time.perf_counter()
    demo._review_and_release(payout, clerk)  # findings cleared, submitted, approved twice, released, files made
    timings["review_and_release"] = time.perf_counter() - mark
    mark = time.perf_counter()
    demo._banks_answer(payout, failing={})  # each bank acknowledges and answers every payment "paid" (JSON)
    timings["banks_answer"] = time.perf_counter() - mark
    paid = Payment.objects.filter(payout=payout, status="paid").count()
    # Fresh statistics for the next month's checks: without them (autovacuum had not run yet) the account_changed
    # rule took 77 s and 155 s over the 2nd and 3rd month's 50,000 payments, against 0.1 s with them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE disbursement_payment")
    log(
        f"  {period}: {paid} paid of {people} rows; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "period")
    )
    return {**{k: (round(v, 1) if isinstance(v, float) else v) for k, v in timings.items()}, "paid": paid}


def paid_people() -> list[tuple[str, str]]:
    """(name, ID number) of every recipient with a paid payment, in id order: the ID decrypted from the database."""
    from disbursement.models import Payment
    from recipients.models import Recipient
    from yikatong import pii

    open_id = pii.decrypter(purpose="id_number")
    paid = Payment.objects.filter(status="paid").values("recipient_id")
    return [
        (name, open_id(bytes(cipher)))
        for name, cipher in Recipient.objects.filter(pk__in=paid).order_by("pk").values_list("name", "id_cipher")
    ]


def ensure_database(people: int, months: int, *, rebuild: bool) -> dict:
    stored = None if rebuild else DB.built_with()
    if stored is not None and (stored["people"], stored["months"]) == (people, months):
        DB.setup_django()
        print(f"reusing {DB.name}: {people} people × {months} months, built in {stored['build_seconds']} s", flush=True)
        return stored
    print(f"building {DB.name}: {people} people × {months} months …", flush=True)
    began = time.perf_counter()
    DB.recreate()
    migrate = round(time.perf_counter() - began, 1)
    os.environ.pop("CELERY_BROKER_URL", None)  # jobs run in this process (eager), none left for a worker
    DB.setup_django()
    from django.db import connection

    data = {**build(people, months), "migrate_seconds": migrate}
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (data jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META} (data) VALUES (%s)", [json.dumps(data)])  # noqa: S608 — our own table
    print(f"built in {data['build_seconds']} s (+ migrate {migrate} s)", flush=True)
    return data


# --- The files for the load tool (a temporary directory, mode 0700) --------------------------------------------


def write_people(people: list[tuple[str, str]], directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "people.tsv"
    path.write_text("".join(f"{name}\t{number}\n" for name, number in people), encoding="utf-8")
    path.chmod(0o600)
    return path


def read_people(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]  # type: ignore[misc]


def body(door: str, name: str, number: str, *, csrf: str = "", extra: dict | None = None) -> str:
    """One lookup's request body, as the door takes it (the page: a form with the CSRF field; the API: JSON)."""
    fields = {"name": name, "id_number": number, **(extra or {})}
    if door == "api":
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, **fields, "year": fields.get("year", "")})


def write_bodies(door: str, people: list[tuple[str, str]], directory: Path, *, csrf: str = "") -> Path:
    path = directory / f"bodies-{door}.txt"
    path.write_text("".join(body(door, n, i, csrf=csrf) + "\n" for n, i in people), encoding="utf-8")
    path.chmod(0o600)
    return path


# --- The server --------------------------------------------------------------------------------------------------


@dataclass
class ServerConfig:
    port: int
    workers: int
    threads: int
    redis_db: int
    conn_max_age: int = 600
    wsgi: str = "yikatong.wsgi"  # another module only to try a variant of the application (--wsgi)

    @property
    def cache_url(self) -> str:
        return f"redis://127.0.0.1:6379/{self.redis_db}"

    def describe(self) -> str:
        kind = f"gthread, {self.threads} threads each" if self.threads > 1 else "sync"
        app = "" if self.wsgi == "yikatong.wsgi" else f", application {self.wsgi}"
        return f"gunicorn {self.workers} workers ({kind}){app}"


def server_env(config: ServerConfig) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_DEBUG", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=DB.url,
        CACHE_URL=config.cache_url,
        TRUSTED_PROXY_COUNT="1",
        DATABASE_CONN_MAX_AGE=str(config.conn_max_age),
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",  # 403 and 429 answers are logged by django.request at WARNING: kept, in the server log
    )
    return env


def flush_cache(config: ServerConfig) -> None:
    import redis

    redis.Redis.from_url(config.cache_url).flushdb()


class Server:
    """gunicorn ``yikatong.wsgi`` in its own process group, started and stopped by this driver."""

    def __init__(self, config: ServerConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        if not gunicorn.exists():
            raise SystemExit(f"{gunicorn} is missing: pip install -r requirements.txt")
        c = self.config
        command = [
            str(gunicorn), c.wsgi, "--bind", f"127.0.0.1:{c.port}", "--workers", str(c.workers),
            "--worker-class", "gthread" if c.threads > 1 else "sync", "--threads", str(c.threads),
            "--backlog", "2048", "--timeout", "60", "--graceful-timeout", "10", "--keep-alive", "5",
            "--no-control-socket",  # gunicorn's default socket in $HOME would be shared with any other instance
        ]  # fmt: skip
        with os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=server_env(c), stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _headers, _text = http_request(c.port, "GET", PAGE)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # the master stops its workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own process group (start_new_session)
            self.process.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        return [pid for pid, (_comm, ppid) in _processes().items() if ppid == self.process.pid]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- CPU accounting from /proc: what the server, the database, Redis and wrk used during a run ---------------------


def _processes() -> dict[int, tuple[str, int]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            found[int(entry.name)] = (comm, int(stat[stat.rindex(")") + 2 :].split()[1]))
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def machine_busy(seconds: float = 3.0) -> float:
    """The share of the machine's CPU in use over the next ``seconds`` (all processes, ours included)."""
    busy0, total0 = _machine_ticks()
    time.sleep(seconds)
    busy1, total1 = _machine_ticks()
    return round((busy1 - busy0) / max(total1 - total0, 1), 3)


def wait_for_quiet(max_seconds: int, threshold: float = 0.2) -> float:
    """On a shared machine: wait (at most ``max_seconds``) until others leave it nearly idle; returns how busy it
    was when the run starts."""
    deadline = time.monotonic() + max_seconds
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(5.0)
    return round(busy, 3)


class CpuMeter:
    """CPU seconds used between start() and stop(): the gunicorn workers, the PostgreSQL backends of the benchmark's
    database (its process title names it), redis-server (shared with whatever else uses it), wrk (a child of this
    process, from its rusage) and this driver (the attacks' threads)."""

    def __init__(self, server: Server, database: str) -> None:
        self.server = server
        self.database = database

    def _snapshot(self) -> dict[int, tuple[str, int]]:
        workers = set(self.server.worker_pids())
        snapshot = {}
        for pid, (comm, _ppid) in _processes().items():
            group = None
            if pid in workers:
                group = "gunicorn"
            elif comm == "redis-server":
                group = "redis"
            elif comm == "postgres" and f" {self.database} " in _cmdline(pid):
                group = "postgres"
            if group:
                snapshot[pid] = (group, _cpu_ticks(pid))
        return snapshot

    @staticmethod
    def _rusage() -> tuple[float, float]:
        import resource

        children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
        return children.ru_utime + children.ru_stime, own.ru_utime + own.ru_stime

    def start(self) -> None:
        self.before, self.machine_before, self.began = self._snapshot(), _machine_ticks(), time.monotonic()
        self.rusage_before = self._rusage()

    def stop(self) -> dict:
        """Call after wrk has been waited for (its CPU is in this process's children's rusage from then on)."""
        after, machine_after = self._snapshot(), _machine_ticks()
        rusage = self._rusage()
        seconds = time.monotonic() - self.began
        tick = os.sysconf("SC_CLK_TCK")
        used: Counter = Counter()
        for pid, (group, ticks) in after.items():
            used[group] += (ticks - self.before.get(pid, (group, 0))[1]) / tick
        used["wrk"] = rusage[0] - self.rusage_before[0]
        used["driver"] = rusage[1] - self.rusage_before[1]
        busy = machine_after[0] - self.machine_before[0]
        total = machine_after[1] - self.machine_before[1]
        return {
            "seconds": round(seconds, 2),
            "cpu_seconds": {group: round(value, 2) for group, value in sorted(used.items())},
            # The share of the machine's CPU that went to the benchmark's processes (the rest: other work here).
            "bench_share": round(sum(used.values()) / (seconds * (os.cpu_count() or 1)), 3),
            "machine_busy": round(busy / total, 3) if total else None,
            "load_1m": round(os.getloadavg()[0], 2),
        }


# --- One lookup over http.client (the attacks, the CSRF pair) -------------------------------------------------------


def http_request(port: int, method: str, path: str, body: str = "", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body.encode("utf-8") if body else None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@dataclass(frozen=True)
class Csrf:
    cookie: str  # "csrftoken=…", the Cookie header
    token: str  # the form's csrfmiddlewaretoken


def csrf_pair(port: int) -> Csrf:
    """One valid (cookie, field) pair from a GET of the page; Django accepts the same pair on every POST."""
    status, headers, text = http_request(port, "GET", PAGE)
    cookie = next(
        (v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie" and v.startswith("csrftoken=")), ""
    )
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    if status != 200 or not cookie or not match:
        raise SystemExit(f"GET {PAGE} gave no CSRF cookie and field (status {status})")
    return Csrf(cookie, match.group(1))


_QUESTION = re.compile(r"(\d+) 加 (\d+) 等于几")
_TOKEN = re.compile(r'name="challenge_token" value="([^"]+)"')


def classify(door: str, status: int, text: str) -> tuple[str, dict | None]:
    """(what the answer was, the challenge it carries as {"challenge_token", "challenge_answer"} or None).

    kinds: found | not_found (answered), challenge, limited (429), invalid (400), other."""
    challenge = None
    if door == "api":
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if status == 200:
            return ("found" if data.get("found") else "not_found"), None
        if status == 403 and data.get("code") == "challenge_required":
            question, token = data["challenge"]["question"], data["challenge"]["token"]
            challenge = _solve(question, token)
            return "challenge", challenge
        return {429: "limited", 400: "invalid"}.get(status, "other"), None
    token = _TOKEN.search(text)
    if token:
        challenge = _solve(text, token.group(1))
    if status == 429:
        return "limited", None
    if status != 200:
        return "other", None
    if 'id="result"' in text:
        return ("found" if FOUND_MARKER["page"] in text else "not_found"), challenge
    if challenge is not None:
        return "challenge", challenge
    return "invalid", None


def _solve(text: str, token: str) -> dict | None:
    question = _QUESTION.search(text)
    if not question:
        return None
    return {"challenge_token": token, "challenge_answer": str(int(question.group(1)) + int(question.group(2)))}


def lookup_once(port: int, door: str, person, address: str, csrf: Csrf | None, extra: dict | None = None):
    headers = {"Content-Type": CONTENT_TYPE[door], "X-Forwarded-For": address}
    if door == "page":
        headers["Cookie"] = csrf.cookie
    payload = body(door, *person, csrf=csrf.token if csrf else "", extra=extra)
    status, _headers, text = http_request(port, "POST", PAGE if door == "page" else API, payload, headers)
    return classify(door, status, text)


# --- The attacks: the limits while the load runs -----------------------------------------------------------------


def _limit(rate: str) -> int:
    return int(rate.split("/", 1)[0])


def _parallel(jobs: list, threads: int) -> Counter:
    """Run the callables on ``threads`` threads at once; count what they return."""
    tally: Counter = Counter()
    lock = threading.Lock()
    queue = list(reversed(jobs))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            try:
                kind = job()
            except OSError as exc:
                kind = f"error:{type(exc).__name__}"
            with lock:
                tally[kind] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return tally


def attacks(
    port: int, door: str, reserved: list, csrf: Csrf | None, rates: dict, *, burst=100, solver=60, one_id=50
) -> dict:
    """Three abusers of one door, while the load runs; each result says whether the configured limit held.

    ``reserved``: people the load does not use (cycled when fewer than needed); the attacks' addresses are outside
    the load's range (198.51.100.0/24 and 203.0.113.0/24, the documentation ranges)."""
    per_ip, soft, per_id = _limit(rates["lookup_ip"]), _limit(rates["lookup_challenge"]), _limit(rates["lookup_id"])
    person = lambda k: reserved[k % len(reserved)]  # noqa: E731
    results = {}

    began = time.monotonic()
    jobs = [lambda k=k: lookup_once(port, door, person(k), "198.51.100.7", csrf)[0] for k in range(burst)]
    tally = _parallel(jobs, threads=8)
    answered = tally["found"] + tally["not_found"]
    results["one_address"] = {
        "what": f"1 address, {burst} lookups of distinct people from 8 threads, challenges not answered",
        "tally": dict(tally), "answered": answered, "limit": soft, "holds": answered <= soft,
        "seconds": round(time.monotonic() - began, 2),
    }  # fmt: skip

    began = time.monotonic()
    tally, pending = Counter(), None
    for k in range(burst, burst + solver):
        kind, challenge = lookup_once(port, door, person(k), "198.51.100.8", csrf, extra=pending)
        if kind == "challenge" and challenge:  # answer it at once, same person
            tally["challenge"] += 1
            kind, challenge = lookup_once(port, door, person(k), "198.51.100.8", csrf, extra=challenge)
        tally[kind] += 1
        pending = challenge  # the page offers the next challenge with an answer; the API only on a 403
    answered = tally["found"] + tally["not_found"]
    results["solver"] = {
        "what": f"1 address answering every challenge, {solver} people (one request at a time)",
        "tally": dict(tally), "answered": answered, "limit": per_ip, "holds": answered <= per_ip,
        "seconds": round(time.monotonic() - began, 2),
    }  # fmt: skip

    began = time.monotonic()
    target = person(burst + solver)
    jobs = [lambda k=k: lookup_once(port, door, target, f"203.0.113.{k % 250 + 1}", csrf)[0] for k in range(one_id)]
    tally = _parallel(jobs, threads=8)
    answered = tally["found"] + tally["not_found"]
    results["one_id"] = {
        "what": f"1 ID looked up from {one_id} addresses, 8 threads",
        "tally": dict(tally), "answered": answered, "limit": per_id, "holds": answered <= per_id,
        "seconds": round(time.monotonic() - began, 2),
    }  # fmt: skip
    return results


# --- wrk ---------------------------------------------------------------------------------------------------------


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian's package)")
    return path


def wrk(port: int, door: str, bodies: Path, csrf: Csrf | None, *, connections: int, seconds: int, threads: int = 1):
    """Start wrk; returns the process (read it with wrk_result)."""
    url = f"http://127.0.0.1:{port}{PAGE if door == 'page' else API}"
    command = [
        wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(LUA), url, "--", str(bodies), FOUND_MARKER[door], CONTENT_TYPE[door],
        csrf.cookie if csrf else "", str(threads),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_result(process: subprocess.Popen, seconds: int) -> dict:
    out, err = process.communicate(timeout=seconds + 120)
    line = next((x for x in out.splitlines() if x.startswith("LOOKUP_LOAD_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({process.returncode}): {err.strip() or out[-2000:]}")
    data = json.loads(line.split(" ", 1)[1])
    data["statuses"] = {int(k): v for k, v in data["statuses"].items()}
    data["rps"] = round(data["requests"] / (data["duration_us"] / 1e6), 1)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    data["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return data


# --- One measured run ---------------------------------------------------------------------------------------------


@dataclass
class RunSpec:
    door: str
    connections: int
    seconds: int
    attack: bool = True
    label: str = ""


@dataclass
class Plan:
    config: ServerConfig
    work_dir: Path
    people: list  # (name, ID) of the load; the reserved ones follow in ``reserved``
    reserved: list
    rates: dict
    warmup_seconds: int = 5
    wait_quiet: int = 0  # seconds to wait at most, before each run, for the machine to be nearly idle
    results: list = field(default_factory=list)


def measure(plan: Plan, spec: RunSpec) -> dict:
    """A fresh server and an empty cache, a short warm-up, then wrk for ``spec.seconds`` (and the attacks)."""
    config = plan.config
    busy_before = wait_for_quiet(plan.wait_quiet) if plan.wait_quiet else machine_busy()
    flush_cache(config)
    with Server(config, plan.work_dir / "gunicorn.log") as server:
        csrf = csrf_pair(config.port) if spec.door == "page" else None
        bodies = write_bodies(spec.door, plan.people, plan.work_dir, csrf=csrf.token if csrf else "")
        warm = wrk(
            config.port, spec.door, bodies, csrf, connections=min(spec.connections, 4), seconds=plan.warmup_seconds
        )
        wrk_result(warm, plan.warmup_seconds)
        flush_cache(config)  # the warm-up's counts are not the run's
        meter = CpuMeter(server, DB.name)
        meter.start()
        process = wrk(config.port, spec.door, bodies, csrf, connections=spec.connections, seconds=spec.seconds)
        attacked = None
        if spec.attack:
            time.sleep(min(5, spec.seconds / 4))  # into the run: the server is under the load
            attacked = attacks(config.port, spec.door, plan.reserved, csrf, plan.rates)
        load = wrk_result(process, spec.seconds)
        cpu = meter.stop()
    requests = load["requests"]
    result = {
        "door": spec.door,
        "label": spec.label,
        "connections": spec.connections,
        "server": config.describe(),
        **{k: load[k] for k in ("rps", "requests", "p50_us", "p90_us", "p99_us", "max_us", "mean_us", "statuses")},
        "answered": load["answered"],
        "found": load["found"],
        "non_2xx": sum(v for k, v in load["statuses"].items() if not 200 <= k < 300),
        "errors": load["errors"],
        "socket_errors": load["socket_errors"],
        "all_found": load["found"] == requests and requests > 0,
        "cpu": {**cpu, "busy_before": busy_before},
        "cpu_ms_per_request": {
            group: round(1000 * value / requests, 2) for group, value in cpu["cpu_seconds"].items()
        } if requests else {},
        "attacks": attacked,
    }  # fmt: skip
    plan.results.append(result)
    return result


def describe(result: dict) -> str:
    attacks_text = ""
    if result["attacks"]:
        attacks_text = "; limits " + ", ".join(
            f"{name} {a['answered']}/{a['limit']} {'ok' if a['holds'] else 'BROKEN'}"
            for name, a in result["attacks"].items()
        )
    ms = {key: result[f"{key}_us"] / 1000 for key in ("p50", "p90", "p99", "max")}
    return (
        f"{result['door']:4} c={result['connections']:<3} {result['rps']:7.1f} req/s  p50 {ms['p50']:6.1f}"
        f"  p90 {ms['p90']:6.1f}  p99 {ms['p99']:6.1f}  max {ms['max']:7.1f} ms"
        f"  found {result['found']}/{result['requests']}  non-2xx {result['non_2xx']}"
        f"  cpu ms/req {result['cpu_ms_per_request']}  busy {result['cpu']['machine_busy']}"
        f" bench share {result['cpu']['bench_share']} load {result['cpu']['load_1m']}"
        f" busy before {result['cpu']['busy_before']}{attacks_text}"
    )


def table(results: list[dict]) -> str:
    """The results as the Markdown table of docs/benchmarks.md."""
    lines = [
        "| door | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms | requests | found | errors | non-2xx"
        " | CPU ms/request: gunicorn · postgres · redis · wrk | machine busy | bench's share | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        errors = sum(v for k, v in r["errors"].items() if k != "status")
        cpu = r["cpu_ms_per_request"]
        lines.append(
            f"| {r['door']}{' ' + r['label'] if r['label'] else ''} | {r['connections']} | {r['rps']:,.0f}"
            f" | {r['p50_us'] / 1000:.1f} | {r['p90_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f}"
            f" | {r['max_us'] / 1000:.1f} | {r['requests']:,} | {r['found']:,} | {errors} | {r['non_2xx']}"
            f" | {cpu.get('gunicorn', 0):.2f} · {cpu.get('postgres', 0):.2f} · {cpu.get('redis', 0):.2f}"
            f" · {cpu.get('wrk', 0):.2f} | {100 * (r['cpu']['machine_busy'] or 0):.0f} %"
            f" | {100 * r['cpu']['bench_share']:.0f} % | {r['cpu']['load_1m']:.1f} |"
        )
    return "\n".join(lines)


def attack_table(results: list[dict]) -> str:
    lines = [
        "| door | connections | attack | answered | limit | challenged | refused (429) | other | holds |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for a in (r["attacks"] or {}).values():
            t = a["tally"]
            other = sum(v for k, v in t.items() if k not in ("found", "not_found", "challenge", "limited"))
            lines.append(
                f"| {r['door']} | {r['connections']} | {a['what']} | {a['answered']} | {a['limit']}"
                f" | {t.get('challenge', 0)} | {t.get('limited', 0)} | {other} | {'yes' if a['holds'] else '**no**'} |"
            )
    return "\n".join(lines)


# --- Where a request's time goes (in this process, no concurrency) -----------------------------------------------

_PHASES: Counter = Counter()
_CALLS: Counter = Counter()


class ViewTimer:
    """Innermost middleware, added in --profile only: the time of the view (and its rendering), so that the rest of
    a request is the middleware and the framework around it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        began = time.perf_counter()
        try:
            return self.get_response(request)
        finally:
            _PHASES["view"] += time.perf_counter() - began
            _CALLS["view"] += 1


def _timed(owner, name: str, phase: str) -> None:
    import functools

    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _PHASES[phase] += time.perf_counter() - began
            _CALLS[phase] += 1

    setattr(owner, name, wrapper)


_PATCHED: list = []


def _instrument() -> None:
    """Time the parts of a lookup (in --profile only, once per process)."""
    from django.core.cache import cache
    from django.db import connections
    from django.template.backends import django as django_templates
    from rest_framework import renderers

    import disclosure.api
    import disclosure.lookup
    import disclosure.views_lookup
    from yikatong import pii

    cache_client = type(cache._cache)
    for method in ("add", "get", "set", "incr", "get_many", "delete", "touch"):
        _timed(cache_client, method, "cache")
    _timed(pii, "keyed_hash", "keyed_hash")
    _timed(disclosure.lookup, "person_payments", "person_payments")
    _timed(disclosure.lookup.LookupForm, "is_valid", "form_valid")
    _timed(disclosure.lookup, "LookupForm", "form_init")  # the form lookup_attempt makes (the page makes another)
    _timed(disclosure.views_lookup, "lookup_attempt", "lookup_attempt")
    _timed(disclosure.api, "lookup_attempt", "lookup_attempt")
    _timed(disclosure.views_lookup, "render", "render")
    _timed(django_templates.Template, "render", "template")
    _timed(renderers.JSONRenderer, "render", "json_render")
    _timed(type(connections["default"]), "is_usable", "db_health_check")


def _environ(method: str, path: str, payload: bytes = b"", headers: dict | None = None) -> dict:
    import io

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1", "CONTENT_LENGTH": str(len(payload)), "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip
    for key, value in (headers or {}).items():
        name = key.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE",) else f"HTTP_{name}"] = value
    return environ


def profile(plan: Plan, door: str, n: int) -> dict:
    """``n`` lookups through the WSGI application in this process, each phase timed; with pyinstrument (when
    installed) a call tree of another ``n`` written to the work directory."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    flush_cache(plan.config)
    # Run as a script this module is __main__: let Django's import of the timer find this very module (one _PHASES).
    sys.modules.setdefault("bench.lookup_load", sys.modules[__name__])
    if "bench.lookup_load.ViewTimer" not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "bench.lookup_load.ViewTimer"]
    app = WSGIHandler()

    def call(environ) -> tuple[str, list, bytes]:
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers

        chunks = app(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return answer["status"], answer["headers"], content

    csrf = None
    if door == "page":
        _status, headers, content = call(_environ("GET", PAGE))
        cookies = [v.strip().split(";", 1)[0] for k, v in headers if k == "Set-Cookie"]  # WSGI: " name=value; …"
        cookie = next(c for c in cookies if c.startswith("csrftoken="))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', content.decode()).group(1)
        csrf = Csrf(cookie, token)
    path = PAGE if door == "page" else API

    def request(k: int) -> dict:
        name, number = plan.people[k % len(plan.people)]
        headers = {"Content-Type": CONTENT_TYPE[door], "X-Forwarded-For": f"198.19.{k // 256 % 256}.{k % 256}"}
        if csrf:
            headers["Cookie"] = csrf.cookie
        return _environ("POST", path, body(door, name, number, csrf=csrf.token if csrf else "").encode(), headers)

    for k in range(50):  # warm-up: connections, templates, URL resolver
        call(request(k))
    flush_cache(plan.config)

    if not _PATCHED:
        _instrument()
        _PATCHED.append(True)

    def sql(execute, sql_text, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            _PHASES["sql"] += time.perf_counter() - began
            _CALLS["sql"] += 1

    _PHASES.clear()
    _CALLS.clear()
    statuses: Counter = Counter()
    found = 0
    latencies = []
    cpu_began = time.process_time()
    with connection.execute_wrapper(sql):
        for k in range(50, 50 + n):
            environ = request(k)
            began = time.perf_counter()
            status, _headers, content = call(environ)
            latencies.append(time.perf_counter() - began)
            statuses[status] += 1
            found += FOUND_MARKER[door].encode() in content
    cpu = time.process_time() - cpu_began  # this process's CPU: what a gunicorn worker spends (wrapping aside)
    total = sum(latencies)
    us = {phase: round(1e6 * seconds / n, 1) for phase, seconds in _PHASES.items()}
    result = {
        "door": door,
        "requests": n,
        "statuses": dict(statuses),
        "found": found,
        "total_us": round(1e6 * total / n, 1),
        "cpu_us": round(1e6 * cpu / n, 1),
        "p50_us": round(1e6 * statistics.median(latencies), 1),
        "p99_us": round(1e6 * sorted(latencies)[int(0.99 * (n - 1))], 1),
        "phases_us": us,
        "calls_per_request": {phase: round(count / n, 2) for phase, count in _CALLS.items()},
        "outside_view_us": round(1e6 * total / n - us.get("view", 0), 1),
    }
    try:
        from pyinstrument import Profiler
    except ImportError:
        result["pyinstrument"] = "not installed (pip install pyinstrument)"
        return result
    flush_cache(plan.config)
    profiler = Profiler(interval=0.001)
    profiler.start()
    for k in range(100_000, 100_000 + n):
        call(request(k))
    profiler.stop()
    out = plan.work_dir / f"profile-{door}.txt"
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
    result["pyinstrument"] = str(out)
    return result


def describe_profile(result: dict) -> str:
    us, calls = result["phases_us"], result["calls_per_request"]
    lookup = us.get("lookup_attempt", 0)
    rows = [
        ("whole request (WSGI call, one process, no concurrency)", result["total_us"], ""),
        ("  of which this process's CPU", result["cpu_us"], ""),
        ("  middleware + URL resolving + framework (outside the view)", result["outside_view_us"], ""),
        ("  the view, rendering included", us.get("view", 0), ""),
        ("    lookup_attempt (rules + query)", lookup, ""),
        ("    render / JSON renderer", us.get("template", 0) + us.get("json_render", 0), ""),
        ("  across the request: cache (Redis) calls", us.get("cache", 0), f"{calls.get('cache', 0)} calls"),
        ("  across the request: SQL through the ORM", us.get("sql", 0), f"{calls.get('sql', 0)} queries"),
        ("  across the request: DB health check (SELECT 1)", us.get("db_health_check", 0),
         f"{calls.get('db_health_check', 0)} calls"),
        ("  person_payments (query + rows)", us.get("person_payments", 0), ""),
        ("  keyed hashes (HMAC-SM3)", us.get("keyed_hash", 0), f"{calls.get('keyed_hash', 0)} calls"),
        ("  LookupForm() + is_valid()", us.get("form_init", 0) + us.get("form_valid", 0),
         f"{calls.get('form_init', 0)} forms"),
    ]  # fmt: skip
    lines = [f"{result['door']}: {result['requests']} lookups, statuses {result['statuses']}, found {result['found']};"
             f" p50 {result['p50_us'] / 1000:.2f} ms, p99 {result['p99_us'] / 1000:.2f} ms"]  # fmt: skip
    lines += [f"  {label:<62} {value / 1000:7.3f} ms  {extra}" for label, value, extra in rows]
    lines.append(f"  pyinstrument: {result['pyinstrument']}")
    return "\n".join(lines)


# --- The command -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=50_000, help="distinct people in the database (default 50,000)")
    parser.add_argument(
        "--months", type=int, default=3, choices=range(1, len(PERIODS) + 1), help="paid months each (default 3)"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it matches")
    parser.add_argument("--db-name", default=DB_NAME, help=f"the benchmark's own database (default {DB_NAME})")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the database and stop")
    parser.add_argument("--doors", default="page,api", help="page, api or both (default page,api)")
    parser.add_argument("--connections", default="4,8,16", help="wrk connections, one run each (default 4,8,16)")
    parser.add_argument("--duration", type=int, default=30, help="seconds per run (default 30)")
    parser.add_argument("--repeat", type=int, default=2, help="times through all runs (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; >1 uses gthread (default 1)")
    parser.add_argument(
        "--wsgi", default="yikatong.wsgi",
        help="the WSGI module gunicorn serves (default yikatong.wsgi; another one only to try a variant)",
    )  # fmt: skip
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database of the server's cache (flushed!)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-attack", action="store_true", help="load only, no rate-limit attacks")
    parser.add_argument(
        "--wait-quiet", type=int, default=0, metavar="SECONDS",
        help="before each run, wait up to this long for the (shared) machine to be under 20%% busy",
    )  # fmt: skip
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="instead of load: time N lookups per door")
    parser.add_argument("--json", type=Path, help="also write every result to this JSON file")
    parser.add_argument(
        "--work-dir", type=Path, default=WORK_DIR,
        help="people file, request bodies, server log (default: $TMPDIR/yikatong-bench-lookup)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    global DB
    DB = BenchDatabase(args.db_name, META)
    doors = [d.strip() for d in args.doors.split(",") if d.strip()]
    if not set(doors) <= {"page", "api"}:
        parser.error("--doors takes page and/or api")
    if not args.build_only and not args.profile:
        wrk_path()  # say so before building anything

    config = ServerConfig(port=args.port or free_port(), workers=args.workers, threads=args.threads,
                          redis_db=args.redis_db, wsgi=args.wsgi)  # fmt: skip
    os.environ.update({k: v for k, v in server_env(config).items() if k != "DATABASE_URL"})  # as the server has it
    ensure_database(args.people, args.months, rebuild=args.rebuild)
    if args.build_only:
        return 0
    from django.conf import settings
    from django.db import connection

    everyone = paid_people()
    if len(everyone) <= RESERVED:
        raise SystemExit(f"only {len(everyone)} paid people: need more than {RESERVED}")
    write_people(everyone, args.work_dir)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    connection.close()
    plan = Plan(config, args.work_dir, everyone[:-RESERVED], everyone[-RESERVED:], dict(settings.PUBLIC_RATES))
    plan.wait_quiet = args.wait_quiet
    print(
        f"machine: {machine()}; PostgreSQL {server_version}; {len(everyone)} paid people "
        f"({len(plan.people)} for the load, {RESERVED} for the attacks) in {args.work_dir / 'people.tsv'};"
        f" rates {plan.rates['lookup_ip']} per address, challenge after {plan.rates['lookup_challenge']},"
        f" {plan.rates['lookup_id']} per ID",
        flush=True,
    )
    if args.profile:
        profiles = [profile(plan, door, args.profile) for door in doors]
        for result in profiles:
            print(describe_profile(result), flush=True)
        if args.json:
            args.json.write_text(json.dumps(profiles, ensure_ascii=False, indent=1), encoding="utf-8")
        return 0

    print(f"server: {config.describe()}, DATABASE_CONN_MAX_AGE={config.conn_max_age}, cache {config.cache_url}")
    connections = [int(c) for c in args.connections.split(",")]
    for repeat in range(args.repeat):
        for door in doors:
            for c in connections:
                spec = RunSpec(door, c, args.duration, attack=not args.no_attack, label=f"run {repeat + 1}")
                print(describe(measure(plan, spec)), flush=True)
    print()
    print(table(plan.results))
    if not args.no_attack:
        print()
        print(attack_table(plan.results))
    if args.json:
        args.json.write_text(json.dumps(plan.results, ensure_ascii=False, indent=1), encoding="utf-8")
    broken = [
        r for r in plan.results if not r["all_found"] or any(not a["holds"] for a in (r["attacks"] or {}).values())
    ]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
