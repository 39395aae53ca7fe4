"""The roster import job: stream the file, validate each row in tight Python, stage valid rows in bulk,
then turn them into registry entries and draft payments with set-based SQL in one transaction.

Safe to run again from the start: it first empties its own staging rows and issues.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.services import queue_run
from disbursement.enums import PayoutStatus
from disbursement.models import Payout
from jobs.registry import JobError, job_handler
from jobs.services import JobSuperseded, job_is_current, owned
from recipients import staging, storage
from recipients.enums import RosterStatus
from recipients.issues import IssueWriter
from recipients.models import Roster, RosterIssue
from recipients.roster_file import RosterFileError, open_roster
from recipients.roster_rules import Issue, PolicyBounds, RowValidator
from yikatong import pii

BATCH = 5000
# What the registry's columns hold; longer text is the row's error (text_too_long), not the import's crash.
_TEXT_LIMITS = {"name": 64, "bank": 64, "holder_name": 64, "phone": 32}


def policy_bounds(payout: Payout) -> PolicyBounds:
    entry = payout.policy_entry
    return PolicyBounds(
        standard_amount=entry.standard_amount,
        per_unit=entry.standard_kind == "per_unit",
        min_age=entry.min_age,
        max_age=entry.max_age,
        regions=tuple(entry.eligible_regions or ()),
        as_of=timezone.localdate(),
    )


class _Stager:
    """Buffers valid rows; for each batch, encrypts only what the registry does not hold yet."""

    def __init__(self, roster_id: int, job):
        self.roster_id = roster_id
        self.job = job
        self.rows: list = []
        self.hash_id = pii.keyed_hasher(purpose="id_number")
        self.hash_account = pii.keyed_hasher(purpose="account")
        self.seal_id = pii.encrypter(purpose="id_number")
        self.seal_account = pii.encrypter(purpose="account")
        self.staged = 0

    def add(self, clean) -> None:
        self.rows.append((clean, self.hash_id(clean.id_number), self.hash_account(clean.account)))
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        known_people, known_pairs = staging.known_people_and_accounts(
            [(id_hash, account) for _c, id_hash, account in self.rows]
        )
        tuples = []
        for clean, id_hash, account_hash in self.rows:
            number, account = clean.id_number, clean.account
            tuples.append((
                self.roster_id, clean.row, id_hash,
                None if id_hash in known_people else self.seal_id(number),
                number[:6] + "********" + number[-4:],
                clean.name, clean.sex, clean.birth_date, number[:6], clean.phone or "",
                account_hash,
                None if (id_hash, account_hash) in known_pairs else self.seal_account(account),
                "****" + account[-4:],
                clean.bank or "", clean.holder_name or clean.name, clean.amount, clean.quantity,
                (clean.township or "")[:64], (clean.village or "")[:64],
            ))  # fmt: skip
        with owned(self.job):
            staging.stage_rows(tuples)
        self.staged += len(tuples)
        self.rows.clear()


def _reject(roster: Roster, error: RosterFileError) -> None:
    with transaction.atomic():
        Roster.objects.filter(pk=roster.pk).update(
            status=RosterStatus.REJECTED, file_error_code=error.code, file_error_message=str(error.message)[:500]
        )
        staging.clear_stage(roster.pk)
        RosterIssue.objects.filter(roster=roster).delete()
        audit_record(
            acting_user=roster.uploaded_by,
            action=AuditAction.ROSTER_REJECT,
            obj=roster,
            after={"code": error.code},
            department_id=roster.department_id,
        )


def _length_issues(clean, columns) -> list:
    """Text longer than the registry keeps is an error of the row, never a crash of the whole import."""
    found = []
    for key, limit in _TEXT_LIMITS.items():
        value = getattr(clean, key) or ""
        if len(value) > limit:
            column = columns.get(key)
            found.append(
                Issue(
                    clean.row,
                    column.header_text if column else key,
                    "text_too_long",
                    _("内容过长：最多 %(n)s 个字符。") % {"n": limit},
                )
            )
    return found


@job_handler("roster.import")
def roster_import(*, job, progress) -> dict:
    roster = Roster.objects.select_related("payout__policy_entry", "uploaded_by").get(pk=job.params["roster_id"])
    try:
        with owned(job):
            staging.clear_stage(roster.pk)
            RosterIssue.objects.filter(roster=roster).delete()
            Roster.objects.filter(pk=roster.pk).update(status=RosterStatus.IMPORTING)
        return _import(roster=roster, job=job, progress=progress)
    except JobSuperseded:
        raise JobError("superseded", _("该导入已由新的任务接手。")) from None
    except RosterFileError as error:
        _reject(roster, error)
        raise JobError(error.code, str(error.message)) from None
    except Exception:
        # Never leave a roster "importing" behind a job that has ended: say it failed, drop what was staged.
        with transaction.atomic():
            if job_is_current(job=job):
                Roster.objects.filter(pk=roster.pk).update(status=RosterStatus.FAILED)
                staging.clear_stage(roster.pk)
        raise


def _import(*, roster: Roster, job, progress) -> dict:
    stager, issues = _Stager(roster.pk, job), IssueWriter(RosterIssue, owner="roster_id", owner_id=roster.pk, job=job)
    rows_read = rejected = 0
    valid_total = Decimal("0")
    with open_roster(
        storage.load(roster.stored_file),
        filename=roster.filename,
        max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024,
        max_rows=settings.ROSTER_MAX_ROWS,
    ) as sheet:
        validator = RowValidator(sheet.columns, policy_bounds(roster.payout))
        for raw in sheet.rows():
            rows_read += 1
            clean, found = validator.validate(raw)
            if clean is not None:
                too_long = _length_issues(clean, sheet.columns)
                if too_long:
                    found, clean = [*found, *too_long], None
            for issue in found:
                issues.add(issue)
            if clean is None:
                rejected += 1
            else:
                stager.add(clean)
                valid_total += clean.amount
            if rows_read % BATCH == 0:
                progress(rows_read)
        declared_total = sheet.declared_total
    stager.flush()
    if declared_total is not None and declared_total != valid_total:
        # The clerk's own 合计 line disagrees with the rows we accept: worth a look before anyone signs.
        message = _(
            "合计行金额 %(declared)s 元与有效行合计 %(accepted)s 元不一致（另有 %(rejected)s 行未通过校验）。"
        ) % {"declared": f"{declared_total:.2f}", "accepted": f"{valid_total:.2f}", "rejected": rejected}
        # Row 0: the file as a whole (the error report labels it 合计).
        issues.add(Issue(0, "合计", "total_mismatch", message, warning=True))
    issues.flush()
    counts = _finish(
        roster=roster,
        job=job,
        rows_read=rows_read,
        rejected=rejected,
        valid=stager.staged,
        warnings=issues.warnings,
        valid_total=valid_total,
        declared_total=declared_total,
    )
    progress(rows_read, rows_read)
    return counts


def _finish(
    *,
    roster: Roster,
    job,
    rows_read: int,
    rejected: int,
    valid: int,
    warnings: int,
    valid_total: Decimal,
    declared_total: Decimal | None,
) -> dict:
    counts = {
        "rows_read": rows_read,
        "valid": valid,
        "rejected": rejected,
        "warnings": warnings,
        "valid_total": f"{valid_total:.2f}",
    }
    result = {
        "rows_read": rows_read,
        "valid": valid,
        "rejected": rejected,
        "warnings": warnings,
        "valid_total": valid_total,
        "declared_total": declared_total,
    }
    with owned(job):
        payout = Payout.objects.select_for_update().get(pk=roster.payout_id)
        if payout.status != PayoutStatus.DRAFT:
            raise JobError("payout_not_draft", _("发放项目已提交，不能再替换名册。"))
        if Roster.objects.filter(payout=payout, pk__gt=roster.pk, status=RosterStatus.IMPORTED).exists():
            # A later upload finished first: it stands, and this older file replaces nothing.
            Roster.objects.filter(pk=roster.pk).update(status=RosterStatus.SUPERSEDED, **result)
            staging.clear_stage(roster.pk)
            return {**counts, "superseded_by_newer": True}
        Roster.objects.filter(payout=payout, status=RosterStatus.IMPORTED).exclude(pk=roster.pk).update(
            status=RosterStatus.SUPERSEDED
        )
        applied = staging.apply_stage(roster_id=roster.pk, payout=payout, now=timezone.now())
        Roster.objects.filter(pk=roster.pk).update(status=RosterStatus.IMPORTED, **result)
        counts.update(applied)
        # New payments are checked at once: the run is queued now and starts when this transaction commits.
        run = queue_run(acting_user=roster.uploaded_by, payout=payout)
        counts["check_run"] = run.pk
        audit_record(
            acting_user=roster.uploaded_by,
            action=AuditAction.ROSTER_IMPORT,
            obj=roster,
            after=counts,
            department_id=roster.department_id,
            region_code=payout.region.code,
        )
    return counts
