"""Load the demo county (idempotent), print one login per role and how a bank integrator starts on the bank API."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from banks.demo import seed_agreements, seed_banks
from checks.demo import seed_reference_data
from disbursement.demo import seed_payouts
from disbursement.enums import BatchStatus
from disbursement.models import Batch
from disclosure.demo import demo_person, seed_disclosure
from org.demo import DEMO_PASSWORD, USERS, seed_organisation
from policies.demo import seed_policy_lists


class Command(BaseCommand):
    help = "载入演示数据（可重复执行，不会重复创建），并打印每个角色的演示登录账号。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Seed even with production keys (never on a live system)."
        )

    def handle(self, *args, **options):
        if not settings.USING_DEV_KEYS and not options["force"]:
            raise CommandError("Refusing to load demo users with a known password into a production setup.")
        users = {user.username: user for user in seed_organisation()}
        seed_policy_lists()
        seed_banks()
        seed_agreements()
        seed_reference_data()  # before the roster: its import runs the checks against these lists
        seed_payouts()
        seed_disclosure()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for username, *_rest in USERS:
            user = users[username]
            scope = " / ".join(filter(None, [str(user.department or ""), user.region.name if user.region else ""]))
            self.stdout.write(f"  {username:<14} {user.get_role_display()}{('  [' + scope + ']') if scope else ''}")
        self._bank_api_hint()
        person = demo_person()
        if person is not None:
            # Synthetic (made by bench/synth.py): nobody real. Shown so that a newcomer can try 个人查询 at once.
            self.stdout.write(
                f"Personal lookup (个人查询, /lookup/): try the synthetic demo person {person[0]} {person[1]}."
            )

    def _bank_api_hint(self) -> None:
        waiting = Batch.objects.filter(status=BatchStatus.READY).order_by("batch_no").values_list("batch_no", flat=True)
        self.stdout.write("Bank API (银行接口; docs/bank-api.md, browsable at /api/docs/):")
        self.stdout.write("  a bank integrator gets a token with `python manage.py bank_token ccb-erqi` (shown once)")
        self.stdout.write("  and sends it as 'Authorization: Bearer <token>' to /api/v1/bank/batches/.")
        self.stdout.write("  A simulated bank does the whole exchange: python manage.py bank_simulator --help.")
        if waiting:
            self.stdout.write(f"  Batches waiting for their bank: {', '.join(waiting)}.")
