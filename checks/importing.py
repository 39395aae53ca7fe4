"""The reference data import job (kind reference.import): stream a department's file, check every row, write the
rows into `checks_referencerecord` in bulk, and make the load current only if no row has an error.

A file with any row error is rejected whole (docs/reference-data-format.md): a dropped death record would be a
missed finding, a dropped registration a false "not registered". Safe to run again from the start: it first
removes its own records and issues.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.enums import LoadStatus
from checks.models import ReferenceIssue, ReferenceLoad, ReferenceRecord, ReferenceSource
from checks.reference_rows import CleanReference, ReferenceRowValidator, layout_for
from checks.services import queue_run
from disbursement.enums import PayoutStatus
from disbursement.models import Payout
from jobs.registry import JobError, job_handler
from jobs.services import JobSuperseded, job_is_current, owned
from recipients import storage
from recipients.enums import RosterStatus
from recipients.issues import IssueWriter
from recipients.roster_file import RosterFileError, open_roster
from yikatong import pii

BATCH = 5000
RECORD = ReferenceRecord._meta.db_table
RECORD_COLUMNS = ("load_id", "row", "id_hash", "id_masked", "name", "event_date", "division", "status", "detail")
# Statuses a load reaches only through a finished run: a run started again after one of them changes nothing.
_SETTLED = (LoadStatus.ACTIVE, LoadStatus.SUPERSEDED, LoadStatus.REJECTED)


def write_records(rows: Sequence[tuple]) -> None:
    """Append rows (tuples in RECORD_COLUMNS order): COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        buffer = io.StringIO()
        # Strings are quoted, so an empty string stays one; an absent date is written unquoted-empty: NULL.
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerows(rows)
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {RECORD} ({', '.join(RECORD_COLUMNS)}) FROM STDIN WITH (FORMAT csv, FORCE_NULL (event_date))",
                buffer,
            )
    else:
        columns = ", ".join(RECORD_COLUMNS)
        marks = ", ".join(["%s"] * len(RECORD_COLUMNS))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {RECORD} ({columns}) VALUES ({marks})", rows)


def delete_records(load_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {RECORD} WHERE load_id = %s", [load_id])


class _Records:
    """Buffers clean rows and writes them a batch at a time, each batch in a transaction the run owns."""

    def __init__(self, load_id: int, job) -> None:
        self.load_id = load_id
        self.job = job
        self.rows: list[tuple] = []
        self.written = 0

    def add(self, clean: CleanReference) -> None:
        number = clean.id_number
        self.rows.append((
            self.load_id, clean.row, clean.id_hash, number[:6] + "********" + number[-4:], clean.name,
            clean.event_date.isoformat() if clean.event_date else None, clean.division, clean.status, clean.detail,
        ))  # fmt: skip
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with owned(self.job):
            write_records(self.rows)
        self.written += len(self.rows)
        self.rows.clear()

    def drop(self) -> None:
        """A row error was found: nothing of this file will be used, so stop writing it."""
        self.rows.clear()


@job_handler("reference.import")
def reference_import(*, job, progress) -> dict:
    load = ReferenceLoad.objects.select_related("source", "uploaded_by").get(pk=job.params["load_id"])
    if load.status in _SETTLED:
        # The run that settled it ended before its job did (a worker lost after the commit): nothing to redo.
        if load.file_error_code:
            raise JobError(load.file_error_code, load.file_error_message)
        if load.status == LoadStatus.REJECTED:
            raise JobError("reference_rows_rejected", _rows_rejected_message(load.rejected))
        return {**_counts(load.rows_read, load.valid, load.rejected), "status": load.status}
    try:
        with owned(job):
            delete_records(load.pk)
            ReferenceIssue.objects.filter(load=load).delete()
            ReferenceLoad.objects.filter(pk=load.pk).update(
                status=LoadStatus.IMPORTING, rows_read=0, valid=0, rejected=0, file_error_code="", file_error_message=""
            )
        return _import(load=load, job=job, progress=progress)
    except JobSuperseded:
        raise JobError("superseded", _("该导入已由新的任务接手。")) from None
    except RosterFileError as error:
        _reject_file(load, job, error)
        raise JobError(error.code, str(error.message)) from None
    except JobError:
        raise
    except Exception:
        # Never leave a load "importing" behind a job that has ended: say it failed, drop what was written.
        with transaction.atomic():
            if job_is_current(job=job):
                ReferenceLoad.objects.filter(pk=load.pk, status=LoadStatus.IMPORTING).update(status=LoadStatus.FAILED)
                delete_records(load.pk)
        raise


def _import(*, load: ReferenceLoad, job, progress) -> dict:
    records, issues = _Records(load.pk, job), IssueWriter(ReferenceIssue, owner="load_id", owner_id=load.pk, job=job)
    rows_read = rejected = 0
    kind = load.source.kind
    with open_roster(
        storage.load(load.stored_file),
        filename=load.filename,
        max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024,
        max_rows=settings.ROSTER_MAX_ROWS,
        layout=layout_for(kind),
    ) as sheet:
        validator = ReferenceRowValidator(
            kind, sheet.columns, as_of=load.as_of, hasher=pii.keyed_hasher(purpose="id_number")
        )
        for raw in sheet.rows():
            rows_read += 1
            clean, found = validator.validate(raw)
            for issue in found:
                issues.add(issue)
            if clean is None:
                if not rejected:
                    records.drop()
                rejected += 1
            elif not rejected:
                records.add(clean)
            if rows_read % BATCH == 0:
                progress(rows_read)
    issues.flush()
    if rejected:
        counts = _reject_rows(load=load, job=job, rows_read=rows_read, rejected=rejected)
        progress(rows_read, rows_read)
        raise JobError("reference_rows_rejected", _rows_rejected_message(counts["rejected"]))
    records.flush()
    counts = _activate(load=load, job=job, rows_read=rows_read, valid=records.written, warnings=issues.warnings)
    progress(rows_read, rows_read)
    return counts


def _rows_rejected_message(rejected: int) -> str:
    return _("%(n)s 行有错误，整个文件未启用（原数据继续使用）。请下载问题行，改正后重新上传。") % {"n": rejected}


def _counts(rows_read: int, valid: int, rejected: int, warnings: int = 0) -> dict:
    return {"rows_read": rows_read, "valid": valid, "rejected": rejected, "warnings": warnings}


def _reject_rows(*, load: ReferenceLoad, job, rows_read: int, rejected: int) -> dict:
    # `valid` still counts the rows that passed, so the clerk sees how much of the file was fine.
    counts = _counts(rows_read, rows_read - rejected, rejected)
    with owned(job):
        delete_records(load.pk)
        ReferenceLoad.objects.filter(pk=load.pk).update(
            status=LoadStatus.REJECTED, rows_read=rows_read, valid=rows_read - rejected, rejected=rejected
        )
        audit_record(
            acting_user=load.uploaded_by,
            action=AuditAction.REFERENCE_REJECT,
            obj=load,
            after={**counts, "source": load.source.code, "code": "reference_rows_rejected"},
            department_id=load.source.department_id,
        )
    return counts


def _reject_file(load: ReferenceLoad, job, error: RosterFileError) -> None:
    with transaction.atomic():
        if not job_is_current(job=job):
            return
        delete_records(load.pk)
        ReferenceIssue.objects.filter(load=load).delete()
        ReferenceLoad.objects.filter(pk=load.pk).update(
            status=LoadStatus.REJECTED,
            rows_read=0,
            valid=0,
            rejected=0,
            file_error_code=error.code,
            file_error_message=str(error.message)[:500],
        )
        audit_record(
            acting_user=load.uploaded_by,
            action=AuditAction.REFERENCE_REJECT,
            obj=load,
            after={"source": load.source.code, "code": error.code},
            department_id=load.source.department_id,
        )


def _activate(*, load: ReferenceLoad, job, rows_read: int, valid: int, warnings: int) -> dict:
    counts = _counts(rows_read, valid, 0, warnings)
    with owned(job):
        source = ReferenceSource.objects.select_for_update().get(pk=load.source_id)
        previous = source.current_load_id
        if previous is not None and previous > load.pk:
            # A later upload of this source finished first: it stands, and this older file replaces nothing.
            delete_records(load.pk)
            ReferenceLoad.objects.filter(pk=load.pk).update(
                status=LoadStatus.SUPERSEDED, rows_read=rows_read, valid=valid, rejected=0
            )
            audit_record(
                acting_user=load.uploaded_by,
                action=AuditAction.REFERENCE_IMPORT,
                obj=load,
                after={**counts, "source": source.code, "superseded_by_newer": previous},
                department_id=source.department_id,
            )
            return {**counts, "status": LoadStatus.SUPERSEDED, "superseded_by_newer": True}
        if previous is not None:
            # The earlier load stays as history (who sent what, when, how many rows); its rows go.
            ReferenceLoad.objects.filter(pk=previous).update(status=LoadStatus.SUPERSEDED)
            delete_records(previous)
        source.current_load = load
        source.save(update_fields=["current_load"])
        ReferenceLoad.objects.filter(pk=load.pk).update(
            status=LoadStatus.ACTIVE, rows_read=rows_read, valid=valid, rejected=0
        )
        audit_record(
            acting_user=load.uploaded_by,
            action=AuditAction.REFERENCE_IMPORT,
            obj=load,
            before={"current_load": previous},
            after={**counts, "source": source.code, "as_of": load.as_of.isoformat(), "current_load": load.pk},
            department_id=source.department_id,
        )
    if connection.vendor == "postgresql":
        # The rules join on this table right after a load: give the planner the new row counts first.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RECORD}")
    return {**counts, "status": LoadStatus.ACTIVE, "rechecked": _recheck_drafts(load)}


def _recheck_drafts(load: ReferenceLoad) -> int:
    """Every payout still being prepared is checked again against the new list: a death reported today must stop
    this month's payment, not wait for the clerk to press 重新比对. Submitted payouts are past the checks."""
    payouts = Payout.objects.filter(status=PayoutStatus.DRAFT, rosters__status=RosterStatus.IMPORTED).distinct()
    count = 0
    for payout in payouts.order_by("pk"):
        queue_run(acting_user=load.uploaded_by, payout=payout)
        count += 1
    return count
