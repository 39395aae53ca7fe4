"""Applying a bank's results (回盘) to a batch: all of a submission or none of it, once.

A submission (JSON in the request, or a result file in a job) is read into a temporary staging table, checked
there in a few set-based queries against the batch's payments, and applied with one UPDATE … FROM — or rejected
whole with every problem listed. A result already applied is counted as unchanged and changes nothing; a result
that contradicts one already applied (paid, then failed) rejects the submission. The batch row is locked for the
whole of it, so two submissions for one batch never interleave; an ``Idempotency-Key`` replays the first answer.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.exchange import mark_acknowledged
from banks.models import Bank, FailureReason, ResultSource, ResultSubmission, SubmissionStatus
from banks.resultfile import Declared, Problems, ResultRow, RowReader, file_rows, json_rows
from disbursement.enums import BatchStatus
from disbursement.models import Batch, Payment
from jobs.registry import job_handler
from jobs.services import job_enqueue

APPLY_JOB = "results.apply"
JSON_MAX_ITEMS = 50_000  # a larger batch answers with a result file, applied by a job
STAGE = "bank_result_stage"
STAGE_COLUMNS = ("line", "row", "attempt", "ref", "status", "amount", "reason_code", "reason", "txn", "paid_at")
CHUNK = 50_000
PAYMENT = Payment._meta.db_table
# A payment's amount in fen, as an exact integer on both engines (SQLite keeps decimals as REAL).
_FEN = "CAST(ROUND(p.amount * 100) AS BIGINT)"
_JOIN = f'{PAYMENT} p ON p.batch_id = %s AND p."row" = s."row" AND p.attempt = s.attempt'
# A result moves a payment only from no result to paid or failed, or from paid to returned (and the database
# refuses anything else: trigger payment_result_moves_once).
_APPLIES = (
    "((p.result = '' AND s.status IN ('paid', 'failed') AND p.status IN ('batched', 'sent'))"
    " OR (p.result = 'paid' AND s.status = 'returned' AND p.status = 'paid'))"
)


class IdempotencyKeyReused(Exception):
    """The key was used before for another request (another body or batch)."""


# --- Submitting -------------------------------------------------------------------------------------------------


def _open(*, bank: Bank, batch: Batch, source: str, body_sha256: str, key: str) -> tuple[ResultSubmission, bool]:
    """The submission this request is (new), or the earlier one with the same key (to be answered again)."""
    if key:
        earlier = ResultSubmission.objects.filter(bank=bank, idempotency_key=key).first()
        if earlier is not None:
            return _same_request(earlier, batch=batch, body_sha256=body_sha256), False
    try:
        with transaction.atomic():
            return (
                ResultSubmission.objects.create(
                    bank=bank, batch=batch, idempotency_key=key, body_sha256=body_sha256, source=source
                ),
                True,
            )
    except IntegrityError:
        # The same key in a request running at the same moment: its row was committed while we waited on it.
        earlier = ResultSubmission.objects.get(bank=bank, idempotency_key=key)
        return _same_request(earlier, batch=batch, body_sha256=body_sha256), False


def _same_request(earlier: ResultSubmission, *, batch: Batch, body_sha256: str) -> ResultSubmission:
    if earlier.batch_id != batch.pk or earlier.body_sha256 != body_sha256:
        raise IdempotencyKeyReused
    return earlier


def results_submit_json(
    *, bank: Bank, batch: Batch, body, body_sha256: str, idempotency_key: str = ""
) -> tuple[ResultSubmission, bool]:
    """Apply (or reject whole) results sent as JSON; returns the submission and whether this request made it
    (False: an earlier one with the same ``Idempotency-Key``, answered again)."""
    with transaction.atomic():
        submission, new = _open(
            bank=bank, batch=batch, source=ResultSource.JSON, body_sha256=body_sha256, key=idempotency_key
        )
        if not new:
            return submission, False
        batch = _lock(batch)
        problems = Problems()
        reader = _reader(batch, problems)
        rows, declared = json_rows(body, reader, max_items=JSON_MAX_ITEMS)
        _process(submission, batch, iter(rows), problems, declared)
    return submission, True


def results_submit_file(
    *, bank: Bank, batch: Batch, path: Path, body_sha256: str, idempotency_key: str = ""
) -> tuple[ResultSubmission, bool]:
    """Keep a result file and queue the job that applies it; returns as ``results_submit_json``. The file at
    ``path`` (written by the caller under ``result_file_dir()``) is kept, or removed when this request is a replay."""
    with transaction.atomic():
        submission, new = _open(
            bank=bank, batch=batch, source=ResultSource.FILE, body_sha256=body_sha256, key=idempotency_key
        )
        if not new:
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
            return submission, False
        job = job_enqueue(
            acting_user=bank.user,
            kind=APPLY_JOB,
            params={"submission_id": submission.pk},
            target_type="banks.resultsubmission",
            target_id=str(submission.pk),
            department_id=batch.payout.department_id,
        )
        ResultSubmission.objects.filter(pk=submission.pk).update(stored_file=path.name, job=job)
    submission.refresh_from_db()
    return submission, True


def result_file_dir() -> Path:
    root = Path(settings.MEDIA_ROOT) / "results"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def result_file_receive(chunks: Iterable[bytes], *, max_bytes: int) -> tuple[Path, str, int]:
    """Write an incoming result file to disk as it arrives: (path, SHA-256, size). Too large or empty: removed,
    ValidationError (file_too_large / results_empty)."""
    path = result_file_dir() / f"{secrets.token_hex(16)}.txt"
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("xb") as out:
            path.chmod(0o600)
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError(
                        _("回盘文件过大：上限为 %(mb)s MB。") % {"mb": max_bytes // (1024 * 1024)},
                        code="file_too_large",
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError(_("回盘文件为空。"), code="results_empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


@job_handler(APPLY_JOB)
def _apply_file_job(*, job, progress) -> dict:
    """Safe to run twice: a submission that is no longer ``received`` was settled by an earlier run."""
    with transaction.atomic():
        submission = (
            ResultSubmission.objects.select_for_update()
            .select_related("bank", "batch")
            .get(pk=job.params["submission_id"])
        )
        if submission.status == SubmissionStatus.RECEIVED:
            batch = _lock(submission.batch)
            problems = Problems()
            reader = _reader(batch, problems)
            with (result_file_dir() / submission.stored_file).open("rb") as handle:
                rows = file_rows(
                    handle,
                    reader,
                    encoding=submission.bank.file_encoding,
                    batch_no=batch.batch_no,
                    bank_code=submission.bank.code,
                )
                _process(submission, batch, rows, problems, Declared(), progress=progress)
    return {"status": submission.status, **(submission.counts or {}), "errors": len(submission.errors or [])}


# --- Checking and applying -----------------------------------------------------------------------------------


def _lock(batch: Batch) -> Batch:
    return Batch.objects.select_for_update(of=("self",)).select_related("payout", "bank").get(pk=batch.pk)


def _reader(batch: Batch, problems: Problems) -> RowReader:
    return RowReader(
        payout_code=batch.payout.code,
        reason_codes=FailureReason.objects.filter(is_active=True).values_list("code", flat=True),
        problems=problems,
    )


def _process(
    submission: ResultSubmission,
    batch: Batch,
    rows: Iterator[ResultRow],
    problems: Problems,
    declared: Declared,
    *,
    progress=None,
) -> None:
    """Stage, check and apply (or reject) inside the caller's transaction, the batch row locked."""
    if batch.generated_at is None:
        problems.add("batch_not_ready", _("代发文件尚未生成，不能回盘。"))
    if connection.vendor == "postgresql":
        # The checks join and group a million staged rows: in memory, not spilled to disk (this transaction only).
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [f"{settings.CHECKS_WORK_MEM_MB}MB"])
    _stage_create()
    try:
        staged = _stage_fill(rows, problems, progress)
        applying = _check(batch, staged, declared, problems) if not problems else {}
        if problems:
            _reject(submission, batch, staged, problems)
        else:
            _apply(submission, batch, staged, applying)
    finally:
        _stage_drop()


def _stage_create() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'CREATE TEMP TABLE {STAGE} (line integer, "row" integer, attempt integer, ref text, status text,'
                " amount bigint, reason_code text, reason text, txn text, paid_at timestamptz) ON COMMIT DROP"
            )
        else:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
            cursor.execute(
                f'CREATE TEMP TABLE {STAGE} (line integer, "row" integer, attempt integer, ref text, status text,'
                " amount bigint, reason_code text, reason text, txn text, paid_at datetime)"
            )


def _stage_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _stage_fill(rows: Iterator[ResultRow], problems: Problems, progress) -> int:
    """Write the rows into the staging table in chunks (COPY on PostgreSQL); stops writing, but goes on reading
    to list the problems, once a problem is found. Returns how many rows were read."""
    count = 0
    chunk: list[ResultRow] = []
    for row in rows:
        count += 1
        if problems:
            continue
        chunk.append(row)
        if len(chunk) >= CHUNK:
            _stage_write(chunk)
            chunk = []
            if progress is not None:
                progress(count)
    if chunk and not problems:
        _stage_write(chunk)
    return count


def _stage_write(chunk: list[ResultRow]) -> None:
    if connection.vendor == "postgresql":
        # COPY's text format, built by hand: a csv writer costs as much again as reading the line did.
        nul, text = "\\N", _copy_text
        buffer = io.StringIO(
            "".join(
                f"{r.line}\t{r.row}\t{r.attempt}\t{text(r.ref)}\t{r.status}\t"
                f"{nul if r.amount_fen is None else r.amount_fen}\t{text(r.reason_code)}\t{text(r.reason)}\t"
                f"{text(r.bank_txn_id)}\t{nul if r.paid_at is None else r.paid_at.isoformat()}\n"
                for r in chunk
            )
        )
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {STAGE} ({', '.join(_q(c) for c in STAGE_COLUMNS)}) FROM STDIN", buffer)
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {STAGE} ({', '.join(_q(c) for c in STAGE_COLUMNS)}) VALUES ({', '.join(['%s'] * 10)})",
            [
                (r.line, r.row, r.attempt, r.ref, r.status, r.amount_fen, r.reason_code, r.reason, r.bank_txn_id,
                 adapt(r.paid_at) if r.paid_at is not None else None)
                for r in chunk
            ],
        )  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped (rare: checked before translating)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _q(column: str) -> str:
    return '"row"' if column == "row" else column


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _check(batch: Batch, staged: int, declared: Declared, problems: Problems) -> dict[str, int]:
    """The checks that need the batch's payments; each lists up to MAX_ERRORS offending lines. Returns how many
    results would move a payment, by result (what the UPDATE must then change)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {STAGE}")
    duplicated = _fetch(
        f"""SELECT s.line, s.ref FROM {STAGE} s JOIN (
                SELECT "row", attempt, MIN(line) AS first FROM {STAGE} GROUP BY "row", attempt HAVING COUNT(*) > 1
            ) d ON d."row" = s."row" AND d.attempt = s.attempt AND s.line <> d.first
            ORDER BY s.line LIMIT 101""",
        [],
    )
    for line, ref in duplicated:
        problems.add("duplicate_payment", _("同一发放明细在本次回盘中出现多次。"), line=line, ref=ref)
    if duplicated:
        return {}
    missing, amount_bad, conflicts, ours_fen, paid, failed, returned = _fetch(
        f"""SELECT
                SUM(CASE WHEN p.id IS NULL THEN 1 ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL AND s.amount IS NOT NULL AND s.amount <> {_FEN} THEN 1 ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL AND p.result <> s.status AND NOT {_APPLIES} THEN 1 ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL THEN {_FEN} ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL AND s.status = 'paid' AND {_APPLIES} THEN 1 ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL AND s.status = 'failed' AND {_APPLIES} THEN 1 ELSE 0 END),
                SUM(CASE WHEN p.id IS NOT NULL AND s.status = 'returned' AND {_APPLIES} THEN 1 ELSE 0 END)
            FROM {STAGE} s LEFT JOIN {_JOIN}""",
        [batch.pk],
    )[0]
    if missing:
        for line, ref in _fetch(
            f"SELECT s.line, s.ref FROM {STAGE} s LEFT JOIN {_JOIN} WHERE p.id IS NULL ORDER BY s.line LIMIT 101",
            [batch.pk],
        ):
            problems.add("payment_not_in_batch", _("本批次没有这笔发放明细。"), line=line, ref=ref)
    if amount_bad:
        for line, ref, theirs, ours in _fetch(
            f"""SELECT s.line, s.ref, s.amount, {_FEN} FROM {STAGE} s JOIN {_JOIN}
                WHERE s.amount IS NOT NULL AND s.amount <> {_FEN} ORDER BY s.line LIMIT 101""",
            [batch.pk],
        ):
            problems.add(
                "amount_mismatch",
                _("金额 %(theirs)s 分与代发文件的 %(ours)s 分不符。") % {"theirs": theirs, "ours": ours},
                line=line,
                ref=ref,
            )
    if conflicts:
        for line, ref, before, after in _fetch(
            f"""SELECT s.line, s.ref, p.result, s.status FROM {STAGE} s JOIN {_JOIN}
                WHERE p.result <> s.status AND NOT {_APPLIES} ORDER BY s.line LIMIT 101""",
            [batch.pk],
        ):
            problems.add(
                "result_conflict",
                _("此笔已回盘为 %(before)s，不能再改为 %(after)s。")
                % {"before": before or _("未回盘"), "after": after},
                line=line,
                ref=ref,
            )
    if declared.count is not None and declared.count != staged:
        problems.add(
            "count_mismatch", _("声明的笔数 %(d)s 与回盘条数 %(n)s 不符。") % {"d": declared.count, "n": staged}
        )
    if declared.total_fen is not None and not missing and declared.total_fen != (ours_fen or 0):
        problems.add(
            "total_mismatch",
            _("声明的总金额 %(d)s 分与这些发放明细的金额之和 %(t)s 分不符。")
            % {"d": declared.total_fen, "t": ours_fen or 0},
        )
    return {"paid": paid or 0, "failed": failed or 0, "returned": returned or 0}


def _apply(submission: ResultSubmission, batch: Batch, staged: int, counts: dict[str, int]) -> None:
    now = timezone.now()
    when = connection.ops.adapt_datetimefield_value(now)
    applying = sum(counts.values())
    if applying:
        if batch.acknowledged_at is None:
            # Results say the bank has the file: they acknowledge it if the bank did not.
            mark_acknowledged(batch, now=now)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {PAYMENT} AS p SET
                        status = s.status,
                        result = s.status,
                        result_code = s.reason_code,
                        result_reason = s.reason,
                        bank_txn_id = CASE WHEN s.txn = '' THEN p.bank_txn_id ELSE s.txn END,
                        paid_at = CASE WHEN s.status = 'paid' THEN COALESCE(s.paid_at, %s) ELSE p.paid_at END,
                        returned_at = CASE WHEN s.status = 'returned' THEN %s ELSE p.returned_at END,
                        result_at = %s
                    FROM {STAGE} s
                    WHERE p.batch_id = %s AND p."row" = s."row" AND p.attempt = s.attempt AND {_APPLIES}""",
                [when, when, when, batch.pk],
            )
            if cursor.rowcount != applying:  # the batch is locked: nothing else moves its payments
                raise RuntimeError(f"batch {batch.batch_no}: applied {cursor.rowcount} results, counted {applying}")
        changes = {"first_result_at": batch.first_result_at or now}
        if batch.closed_at is None and not Payment.objects.filter(batch_id=batch.pk, result="").exists():
            changes.update(closed_at=now, status=BatchStatus.CLOSED)
        Batch.objects.filter(pk=batch.pk).update(**changes)
    unchanged = staged - applying
    submission.status = SubmissionStatus.APPLIED
    submission.result_count = staged
    submission.counts = {"applied": counts, "unchanged": unchanged}
    submission.finished_at = now
    submission.save(update_fields=["status", "result_count", "counts", "finished_at"])
    audit_record(
        acting_user=submission.bank.user,
        action=AuditAction.RESULTS_APPLY,
        obj=batch,
        after={"submission": submission.pk, "results": staged, "applied": counts, "unchanged": unchanged},
        department_id=batch.payout.department_id,
    )


def _reject(submission: ResultSubmission, batch: Batch, staged: int, problems: Problems) -> None:
    submission.status = SubmissionStatus.REJECTED
    submission.result_count = staged
    submission.error_code = problems.code
    submission.errors = problems.items
    submission.counts = {"errors": problems.total}
    submission.finished_at = timezone.now()
    submission.save(update_fields=["status", "result_count", "error_code", "errors", "counts", "finished_at"])
    audit_record(
        acting_user=submission.bank.user,
        action=AuditAction.RESULTS_REJECT,
        obj=batch,
        after={"submission": submission.pk, "code": problems.code, "errors": problems.total},
        department_id=batch.payout.department_id,
    )


# --- The answer -------------------------------------------------------------------------------------------------


def submission_answer(submission: ResultSubmission) -> tuple[int, dict]:
    """(HTTP status, body) for a submission: the same for the request that made it and for every replay."""
    body = {
        "submission": submission.pk,
        "batch_no": submission.batch.batch_no,
        "status": submission.status,
        "results": submission.result_count,
    }
    if submission.status == SubmissionStatus.RECEIVED:
        body["job"] = submission.job_id
        body["detail"] = _("回盘文件已接收，正在处理；请查询本回盘记录获取结果。")
        return 202, body
    if submission.status == SubmissionStatus.REJECTED:
        body.update(
            code=submission.error_code,
            detail=_("回盘被整体拒绝，未做任何更改：%(n)s 处错误。") % {"n": submission.counts.get("errors", 0)},
            errors=submission.errors,
        )
        return 422, body
    applied = submission.counts.get("applied", {})
    unchanged = submission.counts.get("unchanged", 0)
    body.update(applied=applied, unchanged=unchanged)
    if not sum(applied.values()):
        body["detail"] = _("这些回盘结果此前均已处理，本次未做任何更改。")
    elif unchanged:
        body["detail"] = _("已处理 %(a)s 条；%(u)s 条此前已处理，未重复更改。") % {
            "a": sum(applied.values()),
            "u": unchanged,
        }
    else:
        body["detail"] = _("已处理 %(a)s 条回盘结果。") % {"a": sum(applied.values())}
    return 200, body
