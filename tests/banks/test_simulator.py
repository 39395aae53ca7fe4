"""The bank simulator (``manage.py bank_simulator``): it plays a bank over real HTTP against a live server — fetches,
verifies, acknowledges, answers — and refuses a file that does not check out."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks import simulator
from banks.models import Bank, ResultSubmission
from banks.resultfile import Problems, RowReader, file_rows
from banks.simulator import (
    GONE_AFTER,
    BankAPI,
    FileLine,
    FileRefused,
    Outcome,
    ServerUnreachable,
    Simulator,
    api_root,
    decide,
    result_file,
    serve,
    verify_file,
)
from banks.tokens import bank_token_issue
from disbursement.bankfile import batch_file_bytes, detail_line, trailer_line
from disbursement.enums import BatchStatus, PaymentStatus
from disbursement.ledger import ledger, reconcile_ok
from disbursement.models import Batch, Payment

live = pytest.mark.django_db(transaction=True)


def token_for(bank) -> str:
    return bank_token_issue(acting_user=None, bank=bank)[1]


def listed(batch: Batch) -> dict:
    """The batch as GET batches/ lists it: what the simulator checks a file against."""
    return {
        "batch_no": batch.batch_no,
        "file_sha256": batch.file_sha256,
        "encoding": batch.encoding,
        "payment_count": batch.payment_count,
        "total_fen": batch.total_fen,
        "status": batch.status,
    }


def expected_failures(batch: Batch, *, fail_rate: float, seed: int) -> int:
    lines = verify_file(batch_file_bytes(batch), header_sha256=batch.file_sha256, batch=listed(batch)).lines
    return sum(decide(line.ref, line.holder, fail_rate=fail_rate, seed=seed).status == "failed" for line in lines)


# --- Against a live server ----------------------------------------------------------------------------------------


@live
def test_the_simulator_pays_its_own_batch_with_the_seeds_failures_and_leaves_the_other_banks_alone(
    live_server, batch, capsys
):
    others = list(Batch.objects.filter(payout=batch.payout).exclude(pk=batch.pk).values_list("pk", flat=True))
    wanted = expected_failures(batch, fail_rate=0.25, seed=7)
    assert 0 < wanted < batch.payment_count  # the seed picks some, not none or all

    call_command("bank_simulator", url=live_server.url, token=token_for(batch.bank), once=True, fail_rate=0.25, seed=7)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED
    assert batch.acknowledged_at is not None and batch.closed_at is not None
    statuses = Counter(Payment.objects.filter(batch=batch).values_list("status", flat=True))
    assert statuses == {PaymentStatus.PAID: batch.payment_count - wanted, PaymentStatus.FAILED: wanted}
    reasons = set(
        Payment.objects.filter(batch=batch, status=PaymentStatus.FAILED).values_list("result_code", flat=True)
    )
    assert reasons <= {"account_closed", "account_not_found", "account_frozen", "card_limit", "other", "name_mismatch"}
    assert not Payment.objects.filter(batch=batch, status=PaymentStatus.PAID, bank_txn_id="").exists()
    untouched = Batch.objects.filter(pk__in=others)
    assert set(untouched.values_list("status", flat=True)) == {BatchStatus.READY}
    assert not untouched.filter(acknowledged_at__isnull=False).exists()
    assert reconcile_ok(ledger())
    out = capsys.readouterr().out
    assert (
        f"{batch.batch_no}: {batch.payment_count} payments, {batch.payment_count - wanted} paid, {wanted} failed" in out
    )


@live
def test_a_second_run_finds_nothing_waiting_and_changes_nothing(live_server, batch, capsys):
    token = token_for(batch.bank)
    call_command("bank_simulator", url=live_server.url, token=token, once=True, fail_rate=0.25, seed=7)
    before = list(Payment.objects.filter(batch=batch).order_by("pk").values_list("status", "result", "result_at"))
    submissions = ResultSubmission.objects.count()
    capsys.readouterr()

    call_command("bank_simulator", url=live_server.url, token=token, once=True, fail_rate=0.25, seed=7)

    assert "Nothing waiting." in capsys.readouterr().out
    assert ResultSubmission.objects.count() == submissions
    assert (
        list(Payment.objects.filter(batch=batch).order_by("pk").values_list("status", "result", "result_at")) == before
    )


@live
def test_the_token_can_come_from_the_environment_and_requests_can_be_signed(live_server, batch, monkeypatch):
    Bank.objects.filter(pk=batch.bank_id).update(signature_required=True)
    monkeypatch.setenv("YIKATONG_BANK_TOKEN", token_for(batch.bank))

    call_command("bank_simulator", url=live_server.url, once=True, sign=True, fail_rate=0, seed=1)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED
    assert set(Payment.objects.filter(batch=batch).values_list("status", flat=True)) == {PaymentStatus.PAID}


@live
def test_a_tampered_download_is_refused_and_the_batch_is_not_acknowledged(live_server, batch, monkeypatch, capsys):
    real_call = BankAPI.call

    def tampering(self, method, path, **kwargs):
        reply = real_call(self, method, path, **kwargs)
        if path.endswith("/file/"):
            # One digit of one amount changed on the way; the header still quotes the platform's SHA-256.
            reply.body = reply.body.replace(b"|", b"|9", 1)
        return reply

    monkeypatch.setattr(BankAPI, "call", tampering)

    with pytest.raises(CommandError, match="not answered"):
        call_command("bank_simulator", url=live_server.url, token=token_for(batch.bank), once=True, seed=7)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.READY and batch.acknowledged_at is None
    assert set(Payment.objects.filter(batch=batch).values_list("status", flat=True)) == {PaymentStatus.BATCHED}
    assert not AuditEvent.objects.filter(action=AuditAction.BATCH_ACK).exists()
    assert "file refused, not acknowledged — sha256_mismatch" in capsys.readouterr().err


@live
def test_a_large_answer_goes_as_one_result_file(live_server, batch, monkeypatch):
    monkeypatch.setattr(simulator, "JSON_CHUNK", 5)  # stands for 20,000: this batch is "large"
    wanted = expected_failures(batch, fail_rate=0.25, seed=7)

    call_command("bank_simulator", url=live_server.url, token=token_for(batch.bank), once=True, fail_rate=0.25, seed=7)

    submission = ResultSubmission.objects.get(batch=batch)
    assert (submission.source, submission.status, submission.result_count) == ("file", "applied", batch.payment_count)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.FAILED).count() == wanted


@live
def test_a_batch_answered_halfway_gets_only_its_open_payments_answered(live_server, batch):
    token = token_for(batch.bank)
    api = BankAPI(live_server.url, token)
    api.post_json(f"batches/{batch.batch_no}/ack/", {})
    lines = verify_file(batch_file_bytes(batch), header_sha256=batch.file_sha256, batch=listed(batch)).lines
    first = lines[:3]
    # An earlier run answered three payments as paid, then stopped.
    api.post_json(
        f"batches/{batch.batch_no}/results/",
        {"results": [{"payment_ref": line.ref, "status": "paid"} for line in first]},
    )

    # fail_rate 1: had it answered everything again, the three paid ones would conflict and the answer be refused.
    call_command("bank_simulator", url=live_server.url, token=token, once=True, fail_rate=1, seed=3)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED
    statuses = Counter(Payment.objects.filter(batch=batch).values_list("status", flat=True))
    assert statuses == {PaymentStatus.PAID: 3, PaymentStatus.FAILED: batch.payment_count - 3}


@live
def test_a_refused_token_stops_the_simulator_with_the_apis_code(live_server, released):
    with pytest.raises(CommandError, match="token_invalid"):
        call_command("bank_simulator", url=live_server.url, token="ykt_00000000_" + "A" * 43, once=True)


def test_without_a_token_it_says_where_to_get_one(monkeypatch):
    monkeypatch.delenv("YIKATONG_BANK_TOKEN", raising=False)

    with pytest.raises(CommandError, match="bank_token"):
        call_command("bank_simulator", url="http://127.0.0.1:9", once=True)


def test_with_nothing_listening_once_fails_and_waiting_gives_up_in_time():
    with pytest.raises(CommandError, match="No answer"):
        call_command("bank_simulator", url="http://127.0.0.1:9", token="t", once=True)
    with pytest.raises(CommandError, match="within 1 s"):
        call_command("bank_simulator", url="http://127.0.0.1:9", token="t", once=True, wait_for_server=1)


# --- Verifying a file ------------------------------------------------------------------------------------------


def bank_file(details, *, encoding="gbk", batch_no="MZ-04-2026-11-CCB-ERQI-1", count=None, total=None):
    """A batch file made with the platform's own line functions, and the batch as the API lists it."""
    detail = "".join(
        detail_line(ref, account, holder, fen, "城市居民最低生活保障金2026年11月")
        for ref, account, holder, fen in details
    )
    fen = sum(d[3] for d in details)
    detail_bytes = detail.encode(encoding, errors="replace")
    count = len(details) if count is None else count
    header = f"H|{batch_no}|ccb-erqi|{count}|{fen if total is None else total}|20261123\r\n"
    data = (
        header.encode()
        + detail_bytes
        + trailer_line(len(details), fen, hashlib.sha256(detail_bytes).hexdigest()).encode()
    )
    batch = {
        "batch_no": batch_no,
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "encoding": encoding,
        "payment_count": len(details),
        "total_fen": fen,
    }
    return data, batch


DETAILS = [
    ("MZ-04-2026-11-000002", "6217001234567890125", "张伟", 58000),
    ("MZ-04-2026-11-000003", "6217009876543210984", "李秀英", 58000),
    ("MZ-04-2026-11-000005", "4100123456789012", "王建|国", 29000),
]


def refused(data, batch, header_sha256=None) -> str:
    with pytest.raises(FileRefused) as caught:
        verify_file(data, header_sha256=header_sha256 or hashlib.sha256(data).hexdigest(), batch=batch)
    return caught.value.code


def test_a_good_file_gives_its_payments_with_their_names_decoded():
    data, batch = bank_file(DETAILS)

    checked = verify_file(data, header_sha256=batch["file_sha256"], batch=batch)

    assert [(line.ref, line.holder, line.amount_fen) for line in checked.lines] == [
        ("MZ-04-2026-11-000002", "张伟", 58000),
        ("MZ-04-2026-11-000003", "李秀英", 58000),
        ("MZ-04-2026-11-000005", "王建｜国", 29000),
    ]
    assert (checked.bank_code, checked.total_fen) == ("ccb-erqi", 145000)


def test_a_file_whose_header_checksum_lies_is_refused():
    data, batch = bank_file(DETAILS)

    assert refused(data, batch, header_sha256="0" * 64) == "sha256_mismatch"


def test_a_file_that_is_not_the_one_listed_is_refused_even_when_its_header_matches():
    _data, batch = bank_file(DETAILS)
    other, _ = bank_file(DETAILS[:2])

    assert refused(other, batch) == "sha256_mismatch"


def test_a_file_whose_counts_or_totals_disagree_is_refused():
    data, batch = bank_file(DETAILS, count=4)
    assert refused(data, {**batch}) == "count_mismatch"
    data, batch = bank_file(DETAILS, total=1)
    assert refused(data, batch) == "total_mismatch"
    data, batch = bank_file(DETAILS)
    assert refused(data, {**batch, "payment_count": 2}) == "count_mismatch"


def test_a_file_whose_detail_lines_were_changed_under_a_recomputed_file_checksum_is_refused():
    data, _batch = bank_file(DETAILS)
    changed = data.replace("张伟".encode("gbk"), "张炜".encode("gbk"))
    batch = {**_batch, "file_sha256": hashlib.sha256(changed).hexdigest()}

    assert refused(changed, batch) == "detail_sha256_mismatch"


def test_a_file_in_another_encoding_or_without_its_last_line_end_is_refused():
    data, batch = bank_file(DETAILS, encoding="gbk")
    assert refused(data, {**batch, "encoding": "utf-8"}) == "not_decodable"
    cut = data[:-2]
    assert refused(cut, {**batch, "file_sha256": hashlib.sha256(cut).hexdigest()}) == "bad_layout"


def test_a_file_for_another_batch_or_bank_or_with_a_payment_twice_is_refused():
    data, batch = bank_file(DETAILS)
    assert refused(data, {**batch, "batch_no": "MZ-04-2026-11-CCB-ERQI-2"}) == "batch_mismatch"
    with pytest.raises(FileRefused, match="bank_mismatch"):
        verify_file(data, header_sha256=batch["file_sha256"], batch=batch, bank_code="icbc-erqi")
    assert verify_file(data, header_sha256=batch["file_sha256"], batch=batch, bank_code="ccb-erqi").lines
    data, batch = bank_file([*DETAILS, DETAILS[0]])
    assert refused(data, batch) == "duplicate_payment"


# --- Outcomes and the result file -----------------------------------------------------------------------------


def test_outcomes_are_repeatable_for_a_seed_and_follow_the_fail_rate():
    refs = [f"MZ-04-2026-09-{row:06d}" for row in range(1, 2001)]

    first = [decide(ref, "张伟", fail_rate=0.1, seed=7) for ref in refs]

    assert first == [decide(ref, "张伟", fail_rate=0.1, seed=7) for ref in refs]
    assert first != [decide(ref, "张伟", fail_rate=0.1, seed=8) for ref in refs]
    failed = [o for o in first if o.status == "failed"]
    assert 150 < len(failed) < 250
    assert {o.reason_code for o in failed} == {
        "account_closed",
        "account_not_found",
        "account_frozen",
        "card_limit",
        "other",
    }
    assert all(o.reason for o in failed)
    assert all(decide(ref, "张伟", fail_rate=0, seed=7).status == "paid" for ref in refs[:100])
    assert all(decide(ref, "张伟", fail_rate=1, seed=7).status == "failed" for ref in refs[:100])


def test_a_name_the_file_could_not_carry_fails_as_a_name_mismatch():
    outcome = decide("MZ-04-2026-09-000001", "王?", fail_rate=1, seed=7)

    assert outcome == Outcome("failed", "name_mismatch", "户名不符")


def test_the_result_file_is_read_back_by_the_platforms_own_reader():
    lines = [FileLine(ref, account, holder, fen) for ref, account, holder, fen in DETAILS]
    outcomes = [Outcome("paid"), Outcome("failed", "account_frozen", "账户冻结"), Outcome("paid")]
    when = dt.datetime(2026, 11, 24, 9, 30, tzinfo=simulator.BEIJING)

    data = result_file(
        lines, outcomes, batch_no="MZ-04-2026-11-CCB-ERQI-1", bank_code="ccb-erqi", encoding="gbk", when=when
    )

    problems = Problems()
    reader = RowReader(payout_code="MZ-04-2026-11", reason_codes=["account_frozen"], problems=problems)
    rows = list(
        file_rows(
            iter(data.splitlines(keepends=True)),
            reader,
            encoding="gbk",
            batch_no="MZ-04-2026-11-CCB-ERQI-1",
            bank_code="ccb-erqi",
        )
    )
    assert not problems, problems.items
    assert [(r.ref, r.status, r.amount_fen, r.reason_code) for r in rows] == [
        ("MZ-04-2026-11-000002", "paid", 58000, ""),
        ("MZ-04-2026-11-000003", "failed", 58000, "account_frozen"),
        ("MZ-04-2026-11-000005", "paid", 29000, ""),
    ]
    assert rows[0].paid_at == when and rows[0].bank_txn_id.startswith("SIM20261124")


# --- Running ---------------------------------------------------------------------------------------------------


def test_the_api_root_is_found_from_the_platforms_address():
    assert api_root("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api/v1/bank/"
    assert api_root("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/api/v1/bank/"
    assert api_root("https://ykt.example/api/v1/bank") == "https://ykt.example/api/v1/bank/"


class _Flaky(Simulator):
    """Answers ``answers`` times, then finds nothing listening."""

    def __init__(self, answers: int):
        super().__init__(BankAPI("http://127.0.0.1:9", "t"), seed=1, warn=lambda text: None)
        self.answers = answers
        self.runs = 0

    def run_once(self):
        self.runs += 1
        if self.runs <= self.answers:
            return [], 0
        raise ServerUnreachable("refused", refused=True)


def test_the_loop_stops_by_itself_once_the_server_has_gone_away():
    sim = _Flaky(answers=2)

    reason = serve(sim, interval=5, sleep=lambda seconds: None)

    assert "gone away" in reason
    assert sim.runs == 2 + GONE_AFTER


def test_the_loop_keeps_waiting_for_a_server_that_never_answered():
    sim = _Flaky(answers=0)
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) > 2 * GONE_AFTER:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        serve(sim, interval=5, sleep=sleep)
    assert sim.runs > GONE_AFTER
