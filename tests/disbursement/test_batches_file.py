"""The bank file of a batch: its format, its hashes, and a generation that survives being killed midway."""

import datetime as dt
import hashlib
import io

import pytest
from django.db.models import F
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.demo import seed_banks
from banks.models import Bank
from disbursement import bankfile
from disbursement.batches import payout_release
from disbursement.enums import BatchStatus, PaymentStatus
from disbursement.models import Batch, Payment, payment_ref
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.services import job_enqueue, job_run
from tests.disbursement.test_batches import approve_directly, fen
from yikatong import pii

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def released(payout, roster_file, upload, clerk_a, finance_admin, django_capture_on_commit_callbacks):
    """Release an approved payout with every payment in one bank; the generation job is queued, not yet run."""

    def make(n=30, *, before_release=None):
        seed_banks()
        path, _rows = roster_file(n)
        upload(path)
        Payment.objects.filter(payout=payout).update(bank_name="中国建设银行二七区支行")
        if before_release is not None:
            before_release(payout)
        approve_directly(payout, submitted_by=clerk_a)
        with django_capture_on_commit_callbacks(execute=False):
            (batch,) = payout_release(acting_user=finance_admin, payout=payout)
        return Batch.objects.select_related("bank", "payout__policy_entry").get(pk=batch.pk)

    return make


def _parse(data: bytes, encoding: str):
    text = data.decode(encoding)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    return [line.split("|") for line in lines]


def _clean(batch) -> bytes:
    sink = io.BytesIO()
    bankfile.write_bank_file(batch, sink)
    return sink.getvalue()


def test_the_generated_file_parses_and_its_counts_totals_and_hashes_match(released):
    batch = released(30)
    job_run(job_id=batch.job_id)
    batch.refresh_from_db()

    data = bankfile.batch_file_bytes(batch)
    assert batch.status == BatchStatus.READY and batch.file_size == len(data)
    assert hashlib.sha256(data).hexdigest() == batch.file_sha256
    header, *details, trailer = _parse(data, "gbk")
    created = timezone.localtime(batch.created_at).strftime("%Y%m%d")
    assert header == ["H", batch.batch_no, "ccb-erqi", "30", str(batch.total_fen), created]
    payments = list(Payment.objects.filter(batch=batch).select_related("recipient").order_by("row"))
    assert [d[1] for d in details] == [payment_ref(batch.payout.code, p.row) for p in payments]
    assert [d[2] for d in details] == [pii.decrypt(p.account_cipher, purpose="account") for p in payments]
    assert [d[3] for d in details] == [p.holder_name or p.recipient.name for p in payments]
    assert all(d[3] for d in details)
    assert [int(d[4]) for d in details] == [fen(p.amount) for p in payments]
    assert {d[5] for d in details} == {batch.payout.policy_entry.name + "2026年11月"}
    assert trailer[:3] == ["T", "30", str(batch.total_fen)]
    detail_bytes = b"".join(line for line in data.splitlines(keepends=True) if line.startswith(b"D|"))
    assert trailer[3] == hashlib.sha256(detail_bytes).hexdigest() == batch.detail_sha256
    event = AuditEvent.objects.get(action=AuditAction.BATCH_GENERATE)
    assert event.after["file_sha256"] == batch.file_sha256
    # No account number in the trail.
    assert not any(d[2] in str(event.after) for d in details)


class _Killed(BaseException):
    """A worker killed midway: no handler of ours catches it, as none would run after a SIGKILL."""


def test_a_run_killed_midway_and_taken_again_writes_the_same_file_once(released, monkeypatch):
    batch = released(40)
    clean = _clean(batch)
    real_copy, real_tuples, blocks = bankfile._copy_lines, bankfile._chunk_lines, []

    def crash_after_half(real):
        def lines(*args):
            if len(blocks) == 2:  # two blocks of 10 written, then the worker dies
                raise _Killed
            blocks.append(1)
            return real(*args)

        return lines

    monkeypatch.setattr(bankfile, "CHUNK", 10)
    monkeypatch.setattr(bankfile, "COPY_BLOCK_ROWS", 10)
    monkeypatch.setattr(bankfile, "_copy_lines", crash_after_half(real_copy))
    monkeypatch.setattr(bankfile, "_chunk_lines", crash_after_half(real_tuples))
    monkeypatch.setattr(pii.SealedWriter, "abort", lambda self: self.file.close())  # a kill cleans nothing
    with pytest.raises(_Killed):
        job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.GENERATING and batch.generated_at is None
    folder = bankfile._root()
    assert list(folder.glob(f".batch-{batch.pk}.bin.*.tmp"))  # the half-written file the killed run left

    monkeypatch.setattr(bankfile, "_copy_lines", real_copy)
    monkeypatch.setattr(bankfile, "_chunk_lines", real_tuples)
    # The worker is gone: its heartbeat goes stale, and the job is taken again.
    Job.objects.filter(pk=batch.job_id).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    job = job_run(job_id=batch.job_id)

    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    batch.refresh_from_db()
    assert batch.status == BatchStatus.READY
    assert batch.file_sha256 == hashlib.sha256(clean).hexdigest()
    assert bankfile.batch_file_bytes(batch) == clean
    assert [p.name for p in folder.iterdir()] == [batch.stored_file]
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_GENERATE, object_id=str(batch.pk)).count() == 1


def test_a_generated_batch_is_left_alone(released, finance_admin, django_capture_on_commit_callbacks):
    batch = released(10)
    job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    stored = (bankfile._root() / batch.stored_file).read_bytes()
    with django_capture_on_commit_callbacks(execute=False):
        again = job_enqueue(acting_user=finance_admin, kind="batch.generate", params={"batch_id": batch.pk})
    job = job_run(job_id=again.pk)
    assert job.counts == {"payments": 10, "already_generated": 1}
    assert (bankfile._root() / batch.stored_file).read_bytes() == stored
    assert Batch.objects.get(pk=batch.pk).generated_at == batch.generated_at


def test_decrypting_in_worker_processes_gives_the_same_bytes(released, monkeypatch):
    batch = released(25)
    inline = _clean(batch)
    monkeypatch.setattr(bankfile, "POOL_FROM", 1)
    monkeypatch.setattr(bankfile, "CHUNK", 4)
    assert _clean(batch) == inline


def test_separators_and_characters_the_encoding_lacks_are_replaced(released):
    def rename(payout):
        first, second = Payment.objects.filter(payout=payout).order_by("row")[:2]
        Payment.objects.filter(pk=first.pk).update(holder_name="张|三\r\n")
        Payment.objects.filter(pk=second.pk).update(holder_name="李𠮷")

    batch = released(5, before_release=rename)
    job = job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    _header, first, second, *_rest = _parse(bankfile.batch_file_bytes(batch), "gbk")
    assert first[3] == "张｜三  " and second[3] == "李?"
    assert job.counts["replaced"] == 1
    event = AuditEvent.objects.get(action=AuditAction.BATCH_GENERATE)
    assert event.after["replaced_characters_in"] == [second[1]]


def test_a_utf8_bank_gets_utf8_and_keeps_every_character(released):
    def rename(payout):
        Bank.objects.filter(code="ccb-erqi").update(file_encoding="utf-8")
        Payment.objects.filter(pk=Payment.objects.filter(payout=payout).order_by("row")[0].pk).update(
            holder_name="李𠮷"
        )

    batch = released(3, before_release=rename)
    assert batch.encoding == "utf-8"
    job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    assert _parse(bankfile.batch_file_bytes(batch), "utf-8")[1][3] == "李𠮷"


def test_an_altered_account_fails_the_job_and_writes_nothing(released):
    def tamper(payout):
        payment = Payment.objects.filter(payout=payout).order_by("row")[0]
        blob = bytearray(payment.account_cipher)
        blob[-20] ^= 1
        Payment.objects.filter(pk=payment.pk).update(account_cipher=bytes(blob))

    batch = released(5, before_release=tamper)
    job = job_run(job_id=batch.job_id)
    assert job.status == JobStatus.FAILED and job.error_code == "account_undecryptable"
    batch.refresh_from_db()
    assert batch.generated_at is None and batch.stored_file == ""
    assert list(bankfile._root().iterdir()) == []


def test_the_database_refuses_to_change_a_generated_batch_or_its_payments(released):
    """Once the file exists, the batch's file columns and what its payments say are final — in the database itself
    (pgtrigger on PostgreSQL, triggers from migration 0007 on SQLite), whatever code tries; status still moves."""
    from django.db import DatabaseError, transaction

    batch = released(6)
    job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    assert batch.file_sha256
    payment = Payment.objects.filter(batch=batch).order_by("row").first()
    for attempt in (
        lambda: Batch.objects.filter(pk=batch.pk).update(total_fen=F("total_fen") + 1),
        lambda: Batch.objects.filter(pk=batch.pk).update(file_sha256="0" * 64),
        lambda: Batch.objects.filter(pk=batch.pk).delete(),
        lambda: Payment.objects.filter(pk=payment.pk).update(amount=F("amount") + 1),
        lambda: Payment.objects.filter(pk=payment.pk).update(batch=None),
        lambda: Payment.objects.filter(pk=payment.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    stored = Batch.objects.get(pk=batch.pk)
    assert (stored.total_fen, stored.file_sha256) == (batch.total_fen, batch.file_sha256)
    assert Payment.objects.get(pk=payment.pk).amount == payment.amount
    # What is not about the file still changes: the bank acknowledges, the payment is paid.
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.ACKNOWLEDGED)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.PAID)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ACKNOWLEDGED


def test_odd_cents_are_written_exactly_in_fen(released):
    """Amounts in fen come from the database: on SQLite, too, where 0.29 × 100 is 28.999… in floating point."""
    amounts = ["0.29", "123.29", "0.01", "99999.99"]

    def odd_amounts(payout):
        for payment, amount in zip(Payment.objects.filter(payout=payout).order_by("row"), amounts, strict=False):
            Payment.objects.filter(pk=payment.pk).update(amount=amount)

    batch = released(4, before_release=odd_amounts)
    job_run(job_id=batch.job_id)
    batch.refresh_from_db()
    _header, *details, trailer = _parse(bankfile.batch_file_bytes(batch), "gbk")
    assert [line[4] for line in details] == ["29", "12329", "1", "9999999"]
    assert trailer[2] == str(29 + 12329 + 1 + 9999999) == str(batch.total_fen)


@pytest.mark.postgres
def test_the_copy_path_and_the_plain_query_path_write_the_same_bytes(released, monkeypatch):
    """PostgreSQL streams the payments with COPY and parses them in the workers; SQLite reads them as tuples. Both
    must give the same file: here the COPY path, pooled and inline, against the tuple path forced on PostgreSQL."""

    def odd_holder(payout):  # backslash, bar and tab: escapes COPY's text format writes and the parser undoes
        Payment.objects.filter(payout=payout).update(holder_name="王\\小|二\t")

    batch = released(25, before_release=odd_holder)
    monkeypatch.setattr(bankfile, "COPY_BLOCK_ROWS", 7)
    copied = _clean(batch)
    monkeypatch.setattr(bankfile, "POOL_FROM", 1)
    monkeypatch.setattr(bankfile, "POOL_SIZE", 2)
    pooled = _clean(batch)
    monkeypatch.setattr(bankfile.connection, "vendor", "sqlite")
    tuples = _clean(batch)
    assert copied == pooled == tuples
    assert "王\\小｜二 |".encode("gbk") in copied
