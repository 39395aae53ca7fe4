"""Import a roster file into a payout from the command line, and print the row-level result."""

import json
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from disbursement.models import Payout
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.services import job_run
from org.models import User
from recipients.models import Roster, RosterIssue
from recipients.services import roster_upload


class Command(BaseCommand):
    help = (
        "导入名册 / Import a roster (.xlsx, .xls, .csv) into a payout. "
        "Valid rows become the payout's draft payments (replacing earlier drafts); every problem is reported "
        "with its row, column and code. Exit status 1 when rows were rejected or the file was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("payout_code", help="发放项目编号, e.g. MZ-04-2026-11")
        parser.add_argument("file", help="roster file")
        parser.add_argument("--user", help="acting clerk's username (default: the payout's creator)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        payout = Payout.objects.filter(code=options["payout_code"]).first()
        if payout is None:
            raise CommandError(f"No payout {options['payout_code']!r}.")
        user = payout.created_by
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {options['user']!r}.")
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            roster = roster_upload(acting_user=user, payout=payout, filename=path.name, data=data)
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {'; '.join(exc.messages)}") from exc
        # Run it here unless a worker already took it; then wait for that worker.
        job_run(job_id=roster.job_id)
        job = Job.objects.get(pk=roster.job_id)
        while job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            time.sleep(0.5)
            job.refresh_from_db()
        roster = Roster.objects.get(pk=roster.pk)
        errors = list(RosterIssue.objects.filter(roster=roster).order_by("row", "id").values(
            "row", "column", "code", "message", "warning"))  # fmt: skip
        result = {
            "roster": roster.pk,
            "status": roster.status,
            "rows_read": roster.rows_read,
            "valid": roster.valid,
            "rejected": roster.rejected,
            "warnings": roster.warnings,
            "file_error": roster.file_error_code or None,
            "errors": [{key: issue[key] for key in ("row", "column", "code", "message")}
                       for issue in errors if not issue["warning"]],
            "warning_list": [{key: issue[key] for key in ("row", "column", "code", "message")}
                             for issue in errors if issue["warning"]],
        }  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            if roster.file_error_code:
                self.stdout.write(f"File refused: {roster.file_error_code}: {roster.file_error_message}")
            self.stdout.write(
                f"Roster {roster.pk}: read {roster.rows_read}, valid {roster.valid}, "
                f"rejected {roster.rejected}, warnings {roster.warnings}"
            )
            for issue in errors:
                kind = "warning" if issue["warning"] else "error"
                self.stdout.write(
                    f"  row {issue['row']} [{issue['column']}] {kind} {issue['code']}: {issue['message']}"
                )
        if roster.file_error_code or roster.rejected:
            raise SystemExit(1)
