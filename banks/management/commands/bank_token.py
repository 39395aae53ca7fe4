"""Issue, rotate or revoke a bank's API token from the server's shell, as the system (the operator holds the keys)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from banks.models import Bank, BankToken
from banks.tokens import PREFIX_PATTERN, bank_token_issue, bank_token_revoke, bank_token_rotate


class Command(BaseCommand):
    help = (
        "签发、轮换或吊销银行接口令牌 / Issue a new API token for a bank and print it ALONE on the last line "
        "(it is shown once and stored only hashed). --rotate also revokes every other live token of the bank at "
        "once; for an overlap, issue a second token and revoke the old one later with --revoke PREFIX. "
        "Audited as the system. The API: docs/bank-api.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("bank_code", help="代发金融机构代码, e.g. ccb-erqi")
        parser.add_argument("--label", default="", help="用途说明 / what the token is for, e.g. 'production 2026'")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--rotate", action="store_true", help="issue a new token and revoke all the bank's other tokens now"
        )
        action.add_argument(
            "--revoke", metavar="PREFIX", help="revoke the token ykt_PREFIX_… (8 hex digits) instead of issuing one"
        )

    def handle(self, *args, **options):
        bank = Bank.objects.filter(code=options["bank_code"]).first()
        if bank is None:
            known = ", ".join(Bank.objects.order_by("code").values_list("code", flat=True)) or "none"
            raise CommandError(f"No bank with code {options['bank_code']!r}. Known: {known}.")
        try:
            if options["revoke"]:
                self._revoke(bank, options["revoke"])
                return
            if not bank.is_active:
                raise CommandError(f"Bank {bank.code} is inactive; its tokens would be refused (bank_inactive).")
            issue = bank_token_rotate if options["rotate"] else bank_token_issue
            token, raw = issue(acting_user=None, bank=bank, label=options["label"])
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {'; '.join(exc.messages)}") from exc
        except PermissionDenied as exc:
            raise CommandError(f"permission_denied: {exc}") from exc
        if options["rotate"]:
            self.stdout.write(f"{bank.code}: the bank's other tokens are revoked from now on.")
        self.stdout.write(f"Token ykt_{token.prefix}_… for {bank.code}, shown once — store it now (本令牌只显示一次):")
        self.stdout.write(raw)

    def _revoke(self, bank: Bank, prefix: str) -> None:
        prefix = prefix.removeprefix("ykt_").rstrip("_…").lower()
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise CommandError("--revoke takes the token's 8 hex digit prefix, e.g. 3f9a0c12.")
        token = BankToken.objects.filter(bank=bank, prefix=prefix).select_related("bank").first()
        if token is None:
            raise CommandError(f"Bank {bank.code} has no token ykt_{prefix}_….")
        if token.revoked_at is not None:
            revoked_at = timezone.localtime(token.revoked_at)
            self.stdout.write(f"ykt_{prefix}_… was already revoked at {revoked_at:%Y-%m-%d %H:%M:%S %Z}.")
            return
        bank_token_revoke(acting_user=None, token=token)
        self.stdout.write(self.style.SUCCESS(f"ykt_{prefix}_… of {bank.code} revoked."))
