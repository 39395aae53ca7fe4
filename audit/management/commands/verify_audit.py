"""Verify the audit trail's hash chain; exit non-zero naming the first broken entry."""

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_verify


class Command(BaseCommand):
    help = "校验审计链：逐条重算哈希链，发现篡改时以非零状态退出并指出第一条异常记录。"

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at entry #{report.first_broken_id} "
                f"({report.reason}); {report.checked} entries before it verified."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} entries verified."))
