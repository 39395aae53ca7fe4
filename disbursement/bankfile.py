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
from django.db import connection, transaction
from django.db.models import BigIntegerField, F, Value
from django.db.models.functions import Cast, Coalesce, NullIf, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.enums import BatchStatus
from disbursement.models import Batch, Payment, payment_ref
from jobs.registry import JobError, job_handler
from jobs.services import job_is_current
from recipients.models import Recipient
from yikatong import pii

logger = logging.getLogger(__name__)

EOL = "\r\n"  # every line, the trailer's too, ends in CR LF (what banks' Windows-side import tools expect)
SEPARATOR = "|"
ENCODINGS = {"gbk": "gbk", "utf-8": "utf-8"}
UNENCODABLE = "?"  # stands for a character the bank's encoding lacks (a rare 生僻字 in a name)
CHUNK = 20_000  # payments fetched, decrypted and written at a time (SQLite)
COPY_BLOCK_ROWS = 20_000  # lines of COPY text handed to a worker at a time
POOL_FROM = 100_000  # from this many payments on, accounts are decrypted in worker processes
POOL_SIZE = 2
FILE_PURPOSE = "batch_file"
# In names and the summary: the separator becomes the full-width bar (GBK A3FC), line breaks and tabs a space.
_FIELD_CLEAN = str.maketrans({"|": "｜", "\r": " ", "\n": " ", "\t": " "})


# --- Decrypting accounts and writing detail lines in bulk --------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    """What one chunk of payments became: its detail lines, encoded, and what the trailer and the report need."""

    data: bytes
    count: int
    total_fen: int
    replaced: list[str]  # refs of lines with a character the encoding lacks


class _Undecryptable(Exception):
    pass


def _chunk_lines(open_one, rows: list[tuple], code: str, summary: str, encoding: str) -> _Chunk:
    """Detail lines for (row, account ciphertext, holder, amount in fen, attempt) rows, encoded as one block."""
    lines = []
    total = 0
    for row, cipher, holder, fen, attempt in rows:
        try:
            account = open_one(cipher)
        except pii.PiiDecryptError:
            raise _Undecryptable from None
        total += fen
        lines.append(detail_line(payment_ref(code, row, attempt), account, holder, fen, summary))
    return _encode(lines, total, encoding)


def _encode(lines: list[str], total: int, encoding: str) -> _Chunk:
    text = "".join(lines)
    try:
        return _Chunk(text.encode(encoding), len(lines), total, [])
    except UnicodeEncodeError:
        parts, replaced = [], []
        for line in lines:
            try:
                parts.append(line.encode(encoding))
            except UnicodeEncodeError:
                replaced.append(line.split(SEPARATOR, 2)[1])
                parts.append(line.encode(encoding, errors="replace"))
        return _Chunk(b"".join(parts), len(lines), total, replaced)


_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _copy_unescape(field: str) -> str:
    """A text field as COPY's text format wrote it (backslash escapes), back to its value."""
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            if nxt in _COPY_ESCAPES:
                out.append(_COPY_ESCAPES[nxt])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _copy_lines(open_one, block: bytes, encoding: str) -> _Chunk:
    """Detail lines from a block of ``_copy_sql`` text: each line's fixed parts come made, the account goes between."""
    lines = []
    total = 0
    for line in block.decode("utf-8").split("\n"):
        if not line:
            continue
        head, cipher, tail, fen = line.split("\t")
        if "\\" in head or "\\" in tail:  # a backslash in a name, escaped by COPY's text format
            head, tail = _copy_unescape(head), _copy_unescape(tail)
        try:
            # bytea in text COPY: its hex form, the leading backslash escaped (\\x0a1b…).
            account = open_one(bytes.fromhex(cipher[3:]))
        except pii.PiiDecryptError:
            raise _Undecryptable from None
        total += int(fen)
        lines.append(head + account + tail + EOL)  # CR LF added here: COPY would write it escaped
    return _encode(lines, total, encoding)


_worker_open: Callable[[bytes], str] | None = None


def _worker_init() -> None:
    global _worker_open
    _worker_open = pii.decrypter(purpose="account")


def _worker_lines(rows: list[tuple] | bytes, code: str, summary: str, encoding: str) -> _Chunk | None:
    try:
        if isinstance(rows, bytes):
            return _copy_lines(_worker_open, rows, encoding)
        return _chunk_lines(_worker_open, rows, code, summary, encoding)
    except _Undecryptable:
        return None


class _LineMaker:
    """Turns chunks of payments into encoded detail lines, in order: in a pool of worker processes for large
    batches, so that the database fetch, hashing and sealing here overlap with the decrypting and formatting
    there (the CPU-heavy part: SM4-GCM per account, then the line)."""

    def __init__(self, *, pooled: bool, code: str, summary: str, encoding: str):
        self.args = (code, summary, encoding)
        self.open = pii.decrypter(purpose="account")
        self.pool = None
        if pooled:
            import multiprocessing

            # fork: the workers only decrypt and format (no database, no Django), and start in milliseconds.
            self.pool = multiprocessing.get_context("fork").Pool(POOL_SIZE, _worker_init)

    def submit(self, rows: list[tuple] | bytes):
        """``rows``: tuples, or a block of COPY text lines (parsed where the work is done)."""
        if self.pool is None:
            code, summary, encoding = self.args
            try:
                if isinstance(rows, bytes):
                    return _copy_lines(self.open, rows, encoding)
                return _chunk_lines(self.open, rows, code, summary, encoding)
            except _Undecryptable:
                return None
        return self.pool.apply_async(_worker_lines, (rows, *self.args))

    def result(self, pending) -> _Chunk:
        chunk = pending if self.pool is None else pending.get()
        if chunk is None:
            raise pii.PiiDecryptError("ciphertext does not authenticate")
        return chunk

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


def _payments_query(batch: Batch):
    """The batch's payments, by roster row, as (row, account ciphertext, holder, amount in fen, attempt)."""
    # 户名: the holder the roster names, or the recipient when it names none (their own account).
    account_name = Coalesce(NullIf("holder_name", Value("")), "recipient__name")
    # Fen from the database, and no Decimal per row here. Rounded before the cast: exact on PostgreSQL's numeric
    # anyway, but SQLite multiplies in floating point (0.29 × 100 = 28.999…).
    fen = Cast(Round(F("amount") * 100), BigIntegerField())
    return (
        Payment.objects.filter(batch_id=batch.pk)
        .order_by("row", "pk")
        .values_list("row", "account_cipher", account_name, fen, "attempt")
    )


def _copy_sql(batch: Batch, *, code: str, summary: str) -> tuple[str, list]:
    """``_payments_query`` for COPY, each detail line's fixed parts made by PostgreSQL: ``D|ref|`` before the account,
    ``|holder|fen|summary`` after it (the line end is added in Python), and the fen again for the trailer's total.
    ``detail_line`` and ``payment_ref`` in SQL: a test holds the two paths to the same bytes."""
    fen = "(round(p.amount * 100))::bigint"
    return (
        f"SELECT 'D|' || %s || '-' || lpad(p.row::text, greatest(6, length(p.row::text)), '0')"
        f" || CASE WHEN p.attempt = 1 THEN '' ELSE '-R' || p.attempt::text END || '|',"
        f" p.account_cipher,"
        f" '|' || translate(COALESCE(NULLIF(p.holder_name, ''), r.name), E'|\\r\\n\\t', '｜   ')"
        f" || '|' || {fen}::text || '|' || %s,"
        f" {fen}"
        f" FROM {Payment._meta.db_table} p JOIN {Recipient._meta.db_table} r ON r.id = p.recipient_id"
        f" WHERE p.batch_id = %s ORDER BY p.row, p.id",
        [code, summary, batch.pk],
    )


class _BlockCutter:
    """A file for psycopg2's ``copy_expert``: cuts the COPY stream into blocks of whole lines for ``send``."""

    def __init__(self, send: Callable[[bytes], None]):
        self.send, self.parts = send, []

    def write(self, data: bytes) -> None:
        # Called once per row (psycopg2 hands COPY out a row at a time): as little work here as possible.
        parts = self.parts
        parts.append(data)
        if len(parts) >= COPY_BLOCK_ROWS:
            self.send(b"".join(parts))
            parts.clear()

    def close(self) -> None:
        if self.parts:
            self.send(b"".join(self.parts))
            self.parts.clear()


def _each_block(batch: Batch, send: Callable[[list[tuple] | bytes], None]) -> None:
    """Hand the batch's payments to ``send`` in order, a block at a time.

    On PostgreSQL as ``COPY (…) TO STDOUT`` text, cut into blocks of lines that the workers parse: the fastest way
    out of the database (a server-side cursor turning 10^6 rows into Python tuples here cost 3.7–4.7 s of this
    process, COPY 1.8 s, docs/benchmarks.md). Elsewhere (SQLite) as tuples from a plain iterator.
    """
    if connection.vendor != "postgresql":
        for rows in _payment_rows(_payments_query(batch)):
            send(rows)
        return
    sql, params = _copy_sql(batch, code=batch.payout.code, summary=batch_summary(batch))
    cutter = _BlockCutter(send)
    with transaction.atomic(), connection.cursor() as cursor:
        if batch.payment_count >= POOL_FROM:
            # The release has just moved these payments in one UPDATE, before autovacuum looked: planned on those
            # statistics the query nested-loops and sorts on disk (1.5 s at 10^6, against 0.8 s after ANALYZE).
            cursor.execute(f"ANALYZE {Payment._meta.db_table}")
        # The sort by row stays in memory (the same allowance the cross-checks have).
        cursor.execute("SELECT set_config('work_mem', %s, true)", [f"{settings.CHECKS_WORK_MEM_MB}MB"])
        cursor.cursor.copy_expert(f"COPY ({cursor.mogrify(sql, params).decode()}) TO STDOUT", cutter)
    cutter.close()


def _payment_rows(query) -> Iterator[list[tuple]]:
    """``_payments_query`` in chunks of tuples, never model objects."""
    rows = query.iterator(chunk_size=CHUNK)
    chunk: list[tuple] = []
    for row, cipher, holder, amount_fen, attempt in rows:
        chunk.append((row, bytes(cipher), holder, amount_fen, attempt))
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

    emit(header_line(batch).encode(encoding))
    maker = _LineMaker(pooled=batch.payment_count >= POOL_FROM, code=code, summary=summary, encoding=encoding)
    try:
        pending: deque = deque()
        copying = True  # while COPY holds the connection, progress (a database write) waits

        def send(rows) -> None:
            pending.append(maker.submit(rows))
            if len(pending) > POOL_SIZE:
                drain_one()

        def drain_one() -> None:
            chunk = maker.result(pending.popleft())
            emit(chunk.data, detail=True)
            out.count += chunk.count
            out.total_fen += chunk.total_fen
            out.replaced.extend(chunk.replaced)
            if progress is not None and not copying:
                progress(out.count)

        _each_block(batch, send)
        copying = False
        while pending:
            drain_one()
    except pii.PiiDecryptError:
        message = _("有银行账号无法解密（密钥缺失或密文被改动），未生成代发文件。")
        raise JobError("account_undecryptable", message) from None
    finally:
        maker.close()
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
