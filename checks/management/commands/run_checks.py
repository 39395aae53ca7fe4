"""Run every enabled cross-check rule over one payout now, in this process, and print what they found."""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from checks.engine import run_checks
from checks.selectors import findings_report
from disbursement.models import Payout
from jobs.registry import JobError
from org.models import User


class Command(BaseCommand):
    help = (
        "数据比对 / Run the cross-checks over a payout and print the findings that stand (open or kept). "
        "--json prints {payout, rules_run, findings: [{rule, severity, payment_ref, roster_row, evidence}]}; "
        "evidence never holds an ID number."
    )

    def add_arguments(self, parser):
        parser.add_argument("payout_code", help="发放项目编号, e.g. MZ-04-2026-11")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--user", help="acting user's username (default: the payout's creator)")

    def handle(self, *args, **options):
        payout = Payout.objects.filter(code=options["payout_code"]).first()
        if payout is None:
            raise CommandError(f"No payout {options['payout_code']!r}.")
        user = payout.created_by
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {options['user']!r}.")
        try:
            run = run_checks(payout=payout, acting_user=user)
        except PermissionDenied as exc:
            raise CommandError(f"permission_denied: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {'; '.join(exc.messages)}") from exc
        except JobError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        report = findings_report(payout)
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{payout.code}: {run.payments} payments compared (run {run.pk})")
        for entry in report["rules_run"]:
            outcome = f"skipped ({entry['skipped']})" if "skipped" in entry else f"{entry['findings']} found"
            timing = f" in {entry['ms']} ms" if "ms" in entry else ""
            self.stdout.write(f"  {entry['rule']:<22} {entry['severity']:<5} {outcome}{timing}")
        standing = report["findings"]
        blocking = sum(1 for f in standing if f["severity"] == "block" and f["status"] == "open")
        self.stdout.write(f"{len(standing)} findings stand, {blocking} open and blocking submission.")
