"""A bank played over HTTP against the bank API (``manage.py bank_simulator``): it lists its batches, downloads and
verifies each file, acknowledges it and sends results back, with failures at a chosen rate. Its HTTP is the standard
library's (urllib) and it never reads the database: what it does is what a bank's own client would have to do.

The verification follows docs/bank-file-format.md, "How a bank verifies a file"; the result file follows
banks/resultfile.py. Outcomes are a function of (seed, payment reference), so the same seed fails the same payments
in any run, and a run after one that stopped halfway answers only what is still open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.parse import urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo

from banks.auth import sign
from banks.defaults import FAILURE_REASONS

API_ROOT = "/api/v1/bank/"
BEIJING = ZoneInfo("Asia/Shanghai")
JSON_CHUNK = 20_000  # results per JSON request; a larger answer goes as one result file
PAGE = 1000  # items per page asked for when listing
UNENCODABLE = "?"  # what the platform writes for a character the bank's encoding lacks (disbursement/bankfile.py)
# Failure reasons of a name the bank can match (a name it cannot is name_mismatch), with their weights: closed and
# unknown accounts are what county banks report most.
REASON_WEIGHTS = (
    ("account_closed", 35),
    ("account_not_found", 25),
    ("account_frozen", 20),
    ("card_limit", 10),
    ("other", 10),
)
REASON_NAMES = {code: name for code, name, _correctable in FAILURE_REASONS}
RECHECK_EVERY = 20  # looks between two looks for acknowledged batches still missing results
GONE_AFTER = 3  # connection refused this many times in a row, after the server had answered: it has gone away
POLL_SECONDS = 0.5
POLL_LIMIT_SECONDS = 900  # a result file of 10^6 lines is applied in well under this


class SimulatorError(Exception):
    """Something about one batch, or the server, that the simulator reports and does not retry by itself."""


class FileRefused(SimulatorError):
    """The downloaded file fails a check: the bank refuses it whole and does not acknowledge it."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class APIError(SimulatorError):
    """An answer the simulator did not expect (4xx/5xx), with the API's error code."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(f"HTTP {status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class ServerUnreachable(SimulatorError):
    """No HTTP answer at all; ``refused`` when the connection was refused (nothing listens there)."""

    def __init__(self, message: str, *, refused: bool):
        super().__init__(message)
        self.refused = refused


# --- HTTP -------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def api_root(url: str) -> str:
    """The bank API's root from the platform's address (``http://127.0.0.1:8000``) or the root itself."""
    url = url.strip()
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) address: {url!r}")
    if API_ROOT.rstrip("/") in url:
        return url if url.endswith("/") else url + "/"
    return url.rstrip("/") + API_ROOT


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would resend the token (and a signed body) to another address: a bank's client does not follow it.
    def redirect_request(self, *args, **kwargs):
        return None


class BankAPI:
    """The bank API as a bank calls it: the bearer token on every request and, with ``signed``, the HMAC
    signature of docs/bank-api.md (Signing)."""

    def __init__(self, url: str, token: str, *, signed: bool = False, timeout: float = 120):
        self.root = api_root(url)
        self.token = token
        self.signed = signed
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def url(self, path: str) -> str:
        """``path`` relative to the API root, or an absolute link the server gave (a next page) moved onto the
        address we were given: a proxy in front may name itself otherwise."""
        if "://" in path:
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        return urljoin(self.root, path)

    def call(self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        url = self.url(path)
        sent = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **(headers or {})}
        if self.signed:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            timestamp = str(int(time.time()))
            sent["X-Yikatong-Timestamp"] = timestamp
            sent["X-Yikatong-Signature"] = sign(self.token, timestamp, method, target, hashlib.sha256(body).hexdigest())
        data = body if method != "GET" else None
        request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310 — api_root(): http(s)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Reply(response.status, _lower(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, _lower(error.headers.items()), error.read())
        except urllib.error.URLError as error:
            refused = isinstance(error.reason, ConnectionRefusedError)
            raise ServerUnreachable(f"{self.root}: {error.reason}", refused=refused) from None
        except (ConnectionError, HTTPException, TimeoutError) as error:
            raise ServerUnreachable(
                f"{self.root}: {error!r}", refused=isinstance(error, ConnectionRefusedError)
            ) from None

    def expect(self, reply: Reply, *statuses: int) -> Reply:
        if reply.status in statuses:
            return reply
        try:
            data = reply.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        data = data if isinstance(data, dict) else {}
        detail = data.get("detail") or reply.body[:200].decode("utf-8", "replace")
        raise APIError(reply.status, str(data.get("code") or "unexpected_status"), str(detail))

    def get_json(self, path: str):
        return self.expect(self.call("GET", path), 200).json()

    def post_json(self, path: str, payload, *, statuses=(200,), headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        reply = self.call("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        return self.expect(reply, *statuses)

    def all_pages(self, path: str) -> Iterator[dict]:
        """Every item of a paginated list, following ``next``."""
        link: str | None = path
        while link:
            page = self.get_json(link)
            yield from page["results"]
            link = page.get("next")


def _lower(items) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def _query(path: str, **params) -> str:
    return f"{path}?{urlencode(params)}"


# --- Verifying a file -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileLine:
    ref: str
    account: str
    holder: str
    amount_fen: int


@dataclass
class BankFile:
    batch_no: str
    bank_code: str
    lines: list[FileLine]
    total_fen: int
    detail_sha256: str


def verify_file(data: bytes, *, header_sha256: str, batch: dict, bank_code: str | None = None) -> BankFile:
    """Check a downloaded batch file as docs/bank-file-format.md says a bank does, against the download's
    ``X-Content-SHA256`` header, the batch as listed (``batch_no``, ``file_sha256``, ``encoding``,
    ``payment_count``, ``total_fen``) and, when known, the bank's own code. Returns its payments; FileRefused
    names the first check that fails."""
    digest = hashlib.sha256(data).hexdigest()
    if header_sha256.strip().lower() != digest:
        raise FileRefused("sha256_mismatch", f"the file's SHA-256 {digest} is not the header's {header_sha256!r}")
    if batch["file_sha256"] != digest:
        raise FileRefused("sha256_mismatch", f"the file's SHA-256 {digest} is not the batch's {batch['file_sha256']}")
    if not data.endswith(b"\r\n"):
        raise FileRefused("bad_layout", "the file does not end in CR LF")
    try:
        text = data.decode(batch["encoding"])
    except (UnicodeDecodeError, LookupError):
        raise FileRefused("not_decodable", f"the file is not {batch['encoding']}") from None
    records = text[:-2].split("\r\n")
    if len(records) < 2 or not records[0].startswith("H|") or not records[-1].startswith("T|"):
        raise FileRefused("bad_layout", "the first line must be the header (H|…) and the last the trailer (T|…)")
    header, trailer = records[0].split("|"), records[-1].split("|")
    if len(header) != 6 or len(trailer) != 4:
        raise FileRefused("bad_layout", "the header has 6 fields and the trailer 4")
    _kind, batch_no, header_bank, header_count, header_total, _date = header
    if batch_no != batch["batch_no"]:
        raise FileRefused("batch_mismatch", f"the header names batch {batch_no}, not {batch['batch_no']}")
    if bank_code is not None and header_bank != bank_code:
        raise FileRefused("bank_mismatch", f"the header names bank {header_bank}, not {bank_code}")
    lines: list[FileLine] = []
    refs: set[str] = set()
    total = 0
    for number, record in enumerate(records[1:-1], start=2):
        fields = record.split("|")
        if len(fields) != 6 or fields[0] != "D":
            raise FileRefused("bad_layout", f"line {number} is not a detail line of 6 fields")
        _d, ref, account, holder, amount, _summary = fields
        if not (amount.isascii() and amount.isdigit() and int(amount) > 0):
            raise FileRefused("bad_amount", f"line {number}: the amount {amount!r} is not a positive number of fen")
        if ref in refs:
            raise FileRefused("duplicate_payment", f"line {number}: payment {ref} appears twice")
        refs.add(ref)
        total += int(amount)
        lines.append(FileLine(ref, account, holder, int(amount)))
    counts = {header_count, trailer[1], str(len(lines)), str(batch["payment_count"])}
    if len(counts) != 1:
        raise FileRefused(
            "count_mismatch",
            f"{len(lines)} detail lines; header {header_count}, trailer {trailer[1]}, batch {batch['payment_count']}",
        )
    totals = {header_total, trailer[2], str(total), str(batch["total_fen"])}
    if len(totals) != 1:
        raise FileRefused(
            "total_mismatch",
            f"details sum to {total} fen; header {header_total}, trailer {trailer[2]}, batch {batch['total_fen']}",
        )
    # The detail lines' bytes: from the end of the header line to the start of the trailer line (neither GBK nor
    # UTF-8 has a CR or LF byte inside a character, so the byte offsets are the text's line ends).
    start = data.index(b"\r\n") + 2
    end = data.rindex(b"\r\n", 0, len(data) - 2) + 2
    detail_sha256 = hashlib.sha256(data[start:end]).hexdigest()
    if detail_sha256 != trailer[3].lower():
        raise FileRefused("detail_sha256_mismatch", f"the detail lines hash to {detail_sha256}, not {trailer[3]}")
    return BankFile(batch_no, header_bank, lines, total, detail_sha256)


# --- Deciding outcomes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str  # paid | failed
    reason_code: str = ""
    reason: str = ""


def decide(ref: str, holder: str, *, fail_rate: float, seed: int) -> Outcome:
    """What the bank answers for one payment: failed with probability ``fail_rate``, the same for the same
    (seed, reference) whatever else is in the batch or the run. A name the platform had to write with ``?`` (a
    character the file's encoding lacks) fails as name_mismatch: the bank cannot match it to the account holder."""
    rng = random.Random(f"{seed}:{ref}")  # noqa: S311 — a simulation, repeatable on purpose
    if rng.random() >= fail_rate:
        return Outcome("paid")
    if UNENCODABLE in holder:
        code = "name_mismatch"
    else:
        codes, weights = zip(*REASON_WEIGHTS, strict=True)
        code = rng.choices(codes, weights=weights)[0]
    return Outcome("failed", code, REASON_NAMES[code])


def txn_id(ref: str, when: dt.datetime) -> str:
    return f"SIM{when:%Y%m%d}{hashlib.sha256(ref.encode()).hexdigest()[:12].upper()}"


def result_items(lines: list[FileLine], outcomes: list[Outcome], *, when: dt.datetime) -> list[dict]:
    """The JSON results (``results`` items) for these payments."""
    items = []
    for line, outcome in zip(lines, outcomes, strict=True):
        item = {"payment_ref": line.ref, "status": outcome.status, "amount_fen": line.amount_fen}
        if outcome.status == "paid":
            item.update(bank_txn_id=txn_id(line.ref, when), paid_at=when.isoformat(timespec="seconds"))
        else:
            item.update(reason_code=outcome.reason_code, reason=outcome.reason)
        items.append(item)
    return items


def result_file(
    lines: list[FileLine], outcomes: list[Outcome], *, batch_no: str, bank_code: str, encoding: str, when: dt.datetime
) -> bytes:
    """The same results as a result file (banks/resultfile.py): ``H|batch|bank|count|date``, one
    ``D|ref|status|amount|reason_code|reason|txn|paid_at`` per payment, ``T|count|total``; CR LF line ends."""
    paid_at = when.strftime("%Y%m%d%H%M%S")
    out = [f"H|{batch_no}|{bank_code}|{len(lines)}|{when:%Y%m%d}"]
    for line, outcome in zip(lines, outcomes, strict=True):
        if outcome.status == "paid":
            out.append(f"D|{line.ref}|paid|{line.amount_fen}|||{txn_id(line.ref, when)}|{paid_at}")
        else:
            out.append(f"D|{line.ref}|failed|{line.amount_fen}|{outcome.reason_code}|{outcome.reason}||")
    out.append(f"T|{len(lines)}|{sum(line.amount_fen for line in lines)}")
    return ("\r\n".join(out) + "\r\n").encode(encoding)


def idempotency_key(batch_no: str, file_sha256: str, body: bytes) -> str:
    """The batch, the file it answers and what this request says: the same request sent again (a retry after a
    lost answer) is answered again, never applied twice; another answer is another key, never a 422."""
    return f"sim-{batch_no}-{file_sha256[:16]}-{hashlib.sha256(body).hexdigest()[:16]}"


# --- Playing the bank -----------------------------------------------------------------------------------------


@dataclass
class BatchReport:
    batch_no: str
    payments: int
    paid: int = 0
    failed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        payments = f"{self.payments} payment{'' if self.payments == 1 else 's'}"
        return f"{self.batch_no}: {payments}, {self.paid} paid, {self.failed} failed, {self.seconds:.1f} s"


@dataclass
class Simulator:
    """One bank: ``run_once`` answers every batch that waits for it; each batch's problem is reported and that
    batch left alone (not retried in this process) — the others go on."""

    api: BankAPI
    fail_rate: float = 0.05
    seed: int | None = None
    say: Callable[[str], None] = print
    warn: Callable[[str], None] = print
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(BEIJING))
    given_up: set[str] = field(default_factory=set)
    looks: int = 0
    recheck: bool = True
    bank_code: str | None = None

    def __post_init__(self):
        if self.seed is None:
            self.seed = secrets.randbits(32)

    def waiting(self) -> list[dict]:
        """Batches to answer: ready ones, and acknowledged ones some of whose payments have no result yet. Only a
        run that stopped halfway leaves the latter, so they are looked for at the start, after a problem and every
        ``RECHECK_EVERY`` looks: an idle bank makes one request per look."""
        statuses = ["ready"]
        if self.recheck or self.looks % RECHECK_EVERY == 0:
            statuses.append("acknowledged")
        self.looks += 1
        found = {}
        for status in statuses:
            for batch in self.api.all_pages(_query("batches/", status=status, limit=PAGE)):
                found[batch["batch_no"]] = batch
        self.recheck = False
        return sorted(found.values(), key=lambda b: (b["created_at"], b["batch_no"]))

    def run_once(self) -> tuple[list[BatchReport], int]:
        """Answer what waits; returns the batches answered and how many batches had a problem."""
        reports, problems = [], 0
        for batch in self.waiting():
            mark = f"{batch['batch_no']}:{batch['file_sha256']}"
            if mark in self.given_up:
                continue
            try:
                report = self.pay(batch)
            except (FileRefused, APIError) as error:
                if isinstance(error, APIError) and error.status == 401:
                    raise
                problems += 1
                self.recheck = True
                if isinstance(error, FileRefused) or error.status < 500:
                    self.given_up.add(mark)  # the same request would get the same answer: say it once
                what = "file refused, not acknowledged" if isinstance(error, FileRefused) else "not answered"
                self.warn(f"{batch['batch_no']}: {what} — {error}")
                continue
            if report is not None:
                reports.append(report)
                self.say(report.line())
        return reports, problems

    def pay(self, batch: dict) -> BatchReport | None:
        started = time.monotonic()
        batch_no = batch["batch_no"]
        download = self.api.expect(self.api.call("GET", f"batches/{batch_no}/file/"), 200)
        bank_file = verify_file(
            download.body, header_sha256=download.header("X-Content-SHA256"), batch=batch, bank_code=self.bank_code
        )
        # The API does not say which bank a token is; the first file that checks out does, and the rest must agree.
        self.bank_code = bank_file.bank_code
        lines = bank_file.lines
        if batch["status"] == "ready":
            self.api.post_json(f"batches/{batch_no}/ack/", {"file_sha256": batch["file_sha256"]})
        else:
            # Acknowledged before (by an earlier run that stopped halfway): answer only what is still open.
            open_refs = {
                p["payment_ref"]
                for p in self.api.all_pages(_query(f"batches/{batch_no}/payments/", status="batched", limit=PAGE))
            }
            lines = [line for line in lines if line.ref in open_refs]
        if not lines:
            return None
        outcomes = [decide(line.ref, line.holder, fail_rate=self.fail_rate, seed=self.seed) for line in lines]
        when = self.clock()
        if len(lines) > JSON_CHUNK:
            data = result_file(
                lines, outcomes, batch_no=batch_no, bank_code=bank_file.bank_code, encoding=batch["encoding"], when=when
            )
            self._send_file(batch_no, batch["file_sha256"], data)
        else:
            self._send_json(batch_no, batch["file_sha256"], lines, outcomes, when)
        failed = sum(1 for outcome in outcomes if outcome.status == "failed")
        return BatchReport(batch_no, len(bank_file.lines), len(lines) - failed, failed, time.monotonic() - started)

    def _send_json(self, batch_no: str, file_sha256: str, lines, outcomes, when) -> None:
        for start in range(0, len(lines), JSON_CHUNK):
            part, decided = lines[start : start + JSON_CHUNK], outcomes[start : start + JSON_CHUNK]
            payload = {
                "results": result_items(part, decided, when=when),
                "count": len(part),
                "total_fen": sum(line.amount_fen for line in part),
            }
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            reply = self.api.call(
                "POST",
                f"batches/{batch_no}/results/",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": idempotency_key(batch_no, file_sha256, body),
                },
            )
            self._settled(reply)

    def _send_file(self, batch_no: str, file_sha256: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        reply = self.api.call(
            "POST",
            f"batches/{batch_no}/results/",
            body=data,
            headers={
                "Content-Type": "text/plain",
                "X-Content-SHA256": digest,
                "Idempotency-Key": idempotency_key(batch_no, file_sha256, data),
            },
        )
        self._settled(reply)

    def _settled(self, reply: Reply) -> dict:
        """The submission's final answer: applied, or APIError (rejected, or anything unexpected). A result file
        is applied by a job: poll its submission until it is no longer being processed."""
        answer = self.api.expect(reply, 200, 202).json()
        deadline = time.monotonic() + POLL_LIMIT_SECONDS
        while reply.status == 202:
            if time.monotonic() > deadline:
                raise APIError(202, "still_processing", f"submission {answer['submission']} is still being processed")
            time.sleep(POLL_SECONDS)
            reply = self.api.expect(self.api.call("GET", f"results/{answer['submission']}/"), 200, 202, 422)
            answer = reply.json()
            if reply.status == 422:
                break
        if answer.get("status") != "applied":
            errors = "; ".join(f"{e.get('payment_ref', '')} {e['code']}" for e in answer.get("errors", [])[:5])
            raise APIError(reply.status, answer.get("code", "rejected"), f"{answer.get('detail', '')} {errors}".strip())
        return answer


# --- Running --------------------------------------------------------------------------------------------------


def wait_for_server(api: BankAPI, seconds: float, *, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Whether the server answered (anything, a 401 too) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            api.call("GET", _query("batches/", limit=1))
            return True
        except ServerUnreachable:
            if time.monotonic() >= deadline:
                return False
            sleep(POLL_SECONDS)


def serve(sim: Simulator, *, interval: float, sleep: Callable[[float], None] = time.sleep) -> str:
    """Answer waiting batches every ``interval`` seconds until the server goes away (connection refused
    ``GONE_AFTER`` times in a row after it had answered); returns why it stopped. A refused token (401) ends it
    with APIError; any other problem is reported and tried again next time."""
    answered, refused = False, 0
    while True:
        try:
            sim.run_once()
            answered, refused = True, 0
        except ServerUnreachable as error:
            sim.recheck = True  # it may have stopped in the middle of a batch
            refused = refused + 1 if error.refused else 0
            if answered and refused >= GONE_AFTER:
                return f"the server at {sim.api.root} has gone away"
            if refused <= 1:  # once per outage, not once per interval
                sim.warn(f"no answer: {error}")
        except APIError as error:
            if error.status == 401:
                raise
            sim.recheck = True
            sim.warn(str(error))
        sleep(interval)
