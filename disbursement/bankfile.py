"""The bank file of a batch (代发文件) and the job that writes it: streamed from the database, accounts decrypted in
bulk, sealed at rest as it is written, and recorded once with its SHA-256. The format is docs/bank-file-format.md."""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.enums import BatchStatus
from disbursement.models import Batch, Payment, payment_ref
from jobs.registry import JobError, job_handler
from jobs.services import job_is_current
from yikatong import pii

logger = logging.getLogger(__name__)

EOL = "\r\n"  # every line, the trailer's too, ends in CR LF (what banks' Windows-side import tools expect)
SEPARATOR = "|"
ENCODINGS = {"gbk": "gbk", "utf-8": "utf-8"}
UNENCODABLE = "?"  # stands for a character the bank's encoding lacks (a rare 生僻字 in a name)
CHUNK = 20_000  # payments fetched, decrypted and written at a time
POOL_FROM = 100_000  # from this many payments on, accounts are decrypted in worker processes
POOL_SIZE = 2
FILE_PURPOSE = "batch_file"
# In names and the summary: the separator becomes the full-width bar (GBK A3FC), line breaks and tabs a space.
_FIELD_CLEAN = str.maketrans({"|": "｜", "\r": " ", "\n": " ", "\t": " "})


# --- Decrypting accounts in bulk -----------------------------------------------------------------------------


_worker_open: Callable[[bytes], str] | None = None


def _worker_init() -> None:
    global _worker_open
    _worker_open = pii.decrypter(purpose="account")


def _worker_decrypt(blobs: list[bytes]) -> list[str] | tuple[str, int]:
    accounts = []
    for i, blob in enumerate(blobs):
        try:
            accounts.append(_worker_open(blob))
        except pii.PiiDecryptError:
            return ("bad", i)
    return accounts


class _Decrypter:
    """Decrypts lists of account ciphertexts, in order; in a pool of worker processes for large batches so that
    the database fetch and the writing here overlap with the decryption there."""

    def __init__(self, *, pooled: bool):
        self.open = pii.decrypter(purpose="account")
        self.pool = None
        if pooled:
            import multiprocessing

            # fork: the workers only decrypt (no database, no Django), and start in milliseconds.
            self.pool = multiprocessing.get_context("fork").Pool(POOL_SIZE, _worker_init)

    def submit(self, blobs: list[bytes]):
        if self.pool is None:
            return [self.open(blob) for blob in blobs]
        return self.pool.apply_async(_worker_decrypt, ([bytes(b) for b in blobs],))

    def result(self, pending) -> list[str]:
        if self.pool is None:
            return pending
        accounts = pending.get()
        if isinstance(accounts, tuple):
            raise pii.PiiDecryptError("ciphertext does not authenticate")
        return accounts

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# --- Writing the file ----------------------------------------------------------------------------------------


def period_label(period: str) -> str:
    year, _sep, rest = period.partition("-")
    if not rest:
        return f"{year}年度"
    if rest.startswith("Q"):
        return f"{year}年第{rest[1:]}季度"
    return f"{year}年{int(rest)}月"


def clean_field(value: str) -> str:
    return (value or "").translate(_FIELD_CLEAN)


def batch_summary(batch: Batch) -> str:
    """摘要: the policy's name and the period, e.g. 城市居民最低生活保障金2026年11月."""
    return clean_field(batch.payout.policy_entry.name + period_label(batch.payout.period))


def header_line(batch: Batch) -> str:
    created = timezone.localtime(batch.created_at).strftime("%Y%m%d")
    fields = ("H", batch.batch_no, batch.bank.code, str(batch.payment_count), str(batch.total_fen), created)
    return SEPARATOR.join(fields) + EOL


def detail_line(ref: str, account: str, holder: str, amount_fen: int, summary: str) -> str:
    return f"D|{ref}|{account}|{clean_field(holder)}|{amount_fen}|{summary}{EOL}"


def trailer_line(count: int, total_fen: int, detail_sha256: str) -> str:
    return f"T|{count}|{total_fen}|{detail_sha256}{EOL}"


@dataclass
class Written:
    count: int = 0
    total_fen: int = 0
    size: int = 0
    file_sha256: str = ""
    detail_sha256: str = ""
    replaced: list[str] = field(default_factory=list)  # refs of lines with a character the encoding lacks


def _payment_rows(batch: Batch) -> Iterator[list[tuple]]:
    """The batch's payments, by roster row, in chunks: a server-side cursor on PostgreSQL, never model objects."""
    # 户名: the holder the roster names, or the recipient when it names none (their own account).
    account_name = Coalesce(NullIf("holder_name", Value("")), "recipient__name")
    rows = (
        Payment.objects.filter(batch_id=batch.pk)
        .order_by("row", "pk")
        .values_list("row", "account_cipher", account_name, "amount", "attempt")
        .iterator(chunk_size=CHUNK)
    )
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_bank_file(batch: Batch, sink, *, progress: Callable[[int], None] | None = None) -> Written:
    """Write the batch's file to ``sink`` (anything with ``write(bytes)``); returns counts, size and hashes.

    Deterministic: the same batch always gives the same bytes (ordered by row; dated by the batch's creation)."""
    encoding = ENCODINGS[batch.encoding]
    summary = batch_summary(batch)
    code = batch.payout.code
    whole, details = hashlib.sha256(), hashlib.sha256()
    out = Written()

    def emit(data: bytes, *, detail: bool = False) -> None:
        sink.write(data)
        whole.update(data)
        if detail:
            details.update(data)
        out.size += len(data)

    def encode_lines(lines: list[str], refs: list[str]) -> bytes:
        text = "".join(lines)
        try:
            return text.encode(encoding)
        except UnicodeEncodeError:
            parts = []
            for line, ref in zip(lines, refs, strict=True):
                try:
                    parts.append(line.encode(encoding))
                except UnicodeEncodeError:
                    out.replaced.append(ref)
                    parts.append(line.encode(encoding, errors="replace"))
            return b"".join(parts)

    emit(header_line(batch).encode(encoding))
    decrypter = _Decrypter(pooled=batch.payment_count >= POOL_FROM)
    try:
        pending: deque = deque()

        def drain_one() -> None:
            chunk, job = pending.popleft()
            accounts = decrypter.result(job)
            lines, refs = [], []
            total = 0
            for (row, _cipher, holder, amount, attempt), account in zip(chunk, accounts, strict=True):
                fen = int(amount * 100)
                total += fen
                ref = payment_ref(code, row, attempt)
                refs.append(ref)
                lines.append(detail_line(ref, account, holder, fen, summary))
            emit(encode_lines(lines, refs), detail=True)
            out.count += len(lines)
            out.total_fen += total
            if progress is not None:
                progress(out.count)

        for chunk in _payment_rows(batch):
            pending.append((chunk, decrypter.submit([c[1] for c in chunk])))
            if len(pending) > POOL_SIZE:
                drain_one()
        while pending:
            drain_one()
    except pii.PiiDecryptError:
        message = _("有银行账号无法解密（密钥缺失或密文被改动），未生成代发文件。")
        raise JobError("account_undecryptable", message) from None
    finally:
        decrypter.close()
    out.detail_sha256 = details.hexdigest()
    emit(trailer_line(out.count, out.total_fen, out.detail_sha256).encode(encoding))
    out.file_sha256 = whole.hexdigest()
    return out


# --- Sealed at rest ------------------------------------------------------------------------------------------


def _root() -> Path:
    root = Path(settings.MEDIA_ROOT) / "batches"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def stored_name(batch: Batch) -> str:
    # One name per batch: a rerun after a crash replaces its file instead of leaving a second one behind.
    return f"batch-{batch.pk}.bin"


def _check_name(name: str) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError("bad stored file name")
    return _root() / name


def batch_file_bytes(batch: Batch) -> bytes:
    """The plain bank file of a generated batch (decrypted whole; for a download or a check)."""
    return pii.decrypt_bytes(_check_name(batch.stored_file).read_bytes(), purpose=FILE_PURPOSE)


def batch_download_record(*, acting_user, batch: Batch) -> None:
    """Someone took the file out (finance to send it, a bank over its API): who, which file, when."""
    audit_record(
        acting_user=acting_user,
        action=AuditAction.BATCH_DOWNLOAD,
        obj=batch,
        after={"file_sha256": batch.file_sha256, "bytes": batch.file_size},
        department_id=batch.payout.department_id,
    )


# --- The job -------------------------------------------------------------------------------------------------


@job_handler("batch.generate")
def batch_generate(*, job, progress) -> dict:
    """Write a batch's bank file and record it. Safe to rerun: a generated batch is left alone, and a rerun after
    a crash writes the same bytes again under the same stored name."""
    batch = Batch.objects.select_related("bank", "payout__policy_entry", "created_by").get(pk=job.params["batch_id"])
    if batch.generated_at is not None:
        return {"payments": batch.payment_count, "already_generated": 1}
    progress(0, batch.payment_count)
    path = _root() / stored_name(batch)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)  # what a killed run was writing: this run owns the job and starts over
    sink = pii.SealedWriter(path, purpose=FILE_PURPOSE)
    try:
        written = write_bank_file(batch, sink, progress=lambda done: progress(done, batch.payment_count))
    except BaseException:
        sink.abort()
        raise
    if (written.count, written.total_fen) != (batch.payment_count, batch.total_fen):
        sink.abort()
        raise JobError(
            "batch_mismatch",
            _("批次记录的笔数或金额与其发放明细不符（%(a)s 笔 %(b)s 分，明细 %(c)s 笔 %(d)s 分）。")
            % {"a": batch.payment_count, "b": batch.total_fen, "c": written.count, "d": written.total_fen},
        )
    sink.close()
    with transaction.atomic():
        if not job_is_current(job=job):
            # Taken over as stale: the run that owns the job now records the file (the same bytes, the same name).
            raise JobError("superseded", _("该批次文件已由新的任务接手生成。"))
        now = timezone.now()
        updated = Batch.objects.filter(pk=batch.pk, generated_at__isnull=True).update(
            file_sha256=written.file_sha256,
            detail_sha256=written.detail_sha256,
            file_size=written.size,
            stored_file=path.name,
            generated_at=now,
            status=BatchStatus.READY,
        )
        if updated == 1:
            audit_record(
                acting_user=batch.created_by,
                action=AuditAction.BATCH_GENERATE,
                obj=batch,
                before={"status": BatchStatus.GENERATING},
                after={
                    "status": BatchStatus.READY,
                    "payments": written.count,
                    "total_fen": written.total_fen,
                    "encoding": batch.encoding,
                    "file_sha256": written.file_sha256,
                    "detail_sha256": written.detail_sha256,
                    "file_size": written.size,
                    "replaced_characters_in": written.replaced[:50],
                },
                department_id=batch.payout.department_id,
            )
    return {"payments": written.count, "total_fen": written.total_fen, "replaced": len(written.replaced)}
