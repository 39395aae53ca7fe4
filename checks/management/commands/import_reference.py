"""Import a reference data file (death, household, public employees, a roll) for one source, and print the result."""

import datetime as dt
import json
import time
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from checks.enums import LoadStatus
from checks.models import ReferenceLoad, ReferenceSource
from checks.reference_selectors import reference_issues
from checks.references import reference_upload
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.services import job_run
from org.enums import Role
from org.models import User


class Command(BaseCommand):
    help = (
        "导入比对数据 / Import a reference data file (.xlsx, .xls, .csv) for a source (death, household, "
        "public_employee, dibao, …). The file becomes the source's current data only if no row has an error; "
        "otherwise it is rejected whole, every problem is printed with its row, column and code, and the exit "
        "status is 1. Column formats: docs/reference-data-format.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="数据源代码, e.g. death, household, public_employee, dibao")
        parser.add_argument("file", help="reference data file")
        parser.add_argument("--as-of", help="数据截止日期 YYYY-MM-DD (default: today)")
        parser.add_argument("--user", help="acting user's username (default: the first active finance admin)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        source = ReferenceSource.objects.filter(code=options["source"]).first()
        if source is None:
            codes = ", ".join(ReferenceSource.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"No reference source {options['source']!r}. Known: {codes}.")
        as_of = timezone.localdate()
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError as exc:
                raise CommandError(f"--as-of must be YYYY-MM-DD, not {options['as_of']!r}.") from exc
        user = self._user(options["user"])
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            load = reference_upload(acting_user=user, source=source, as_of=as_of, filename=path.name, data=data)
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {'; '.join(exc.messages)}") from exc
        except PermissionDenied as exc:
            raise CommandError(f"permission_denied: {exc}") from exc
        # Run it here unless a worker already took it; then wait for that worker.
        job_run(job_id=load.job_id)
        job = Job.objects.get(pk=load.job_id)
        while job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            time.sleep(0.5)
            job.refresh_from_db()
        load = ReferenceLoad.objects.get(pk=load.pk)
        issues = list(reference_issues(load).values("row", "column", "code", "message", "warning"))
        result = {
            "load": load.pk,
            "source": source.code,
            "as_of": load.as_of.isoformat(),
            "status": load.status,
            "rows_read": load.rows_read,
            "valid": load.valid,
            "rejected": load.rejected,
            "file_error": load.file_error_code or None,
            "file_error_message": load.file_error_message or None,
            "issues": issues,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            if load.file_error_code:
                self.stdout.write(f"File refused: {load.file_error_code}: {load.file_error_message}")
            self.stdout.write(
                f"Load {load.pk} of {source.code} as of {load.as_of:%Y-%m-%d}: "
                f"{load.get_status_display()} ({load.status}); "
                f"read {load.rows_read}, valid {load.valid}, rejected {load.rejected}"
            )
            for issue in issues:
                kind = "warning" if issue["warning"] else "error"
                self.stdout.write(
                    f"  row {issue['row']} [{issue['column']}] {kind} {issue['code']}: {issue['message']}"
                )
        if load.status != LoadStatus.ACTIVE:
            raise SystemExit(1)

    def _user(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {username!r}.")
            return user
        user = User.objects.filter(role=Role.FINANCE_ADMIN, is_active=True).order_by("pk").first()
        if user is None:
            raise CommandError("No active finance admin to act as; name one with --user.")
        return user
