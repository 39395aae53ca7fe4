"""Load the demo county (idempotent) and print one login per role."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from banks.demo import seed_banks
from checks.demo import seed_reference_data
from disbursement.demo import seed_payouts
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
        seed_reference_data()  # before the roster: its import runs the checks against these lists
        seed_payouts()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for username, *_rest in USERS:
            user = users[username]
            scope = " / ".join(filter(None, [str(user.department or ""), user.region.name if user.region else ""]))
            self.stdout.write(f"  {username:<14} {user.get_role_display()}{('  [' + scope + ']') if scope else ''}")
