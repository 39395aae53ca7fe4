"""Print the money ledger per payout and exit 1 when a single fen is unaccounted for (docs/ledger.md)."""

import json

from django.core.management.base import BaseCommand, CommandError

from disbursement.ledger import ledger, reconcile_ok, yuan
from disbursement.models import Payout

COLUMNS = ("budget", "approved", "in_flight", "paid", "failed_open", "reissued", "stopped", "cancelled", "pending")
# Exit statuses: 0 balanced, 1 something does not add up, 2 the command was asked about a payout that does not exist.
EXIT_UNBALANCED = 1
EXIT_UNKNOWN_PAYOUT = 2


class Command(BaseCommand):
    help = (
        "资金对账 / Reconcile every payout's money: budget, approved, in flight, paid, failed-open, reissued, "
        "stopped (and cancelled, pending) in 元, with the problems found. Exits 1 when anything does not add up "
        "to the fen, 2 for an unknown --payout. --json prints {ok, payouts: [{code, status, <amounts in fen>, "
        "counts, problems}]}. The definition is in docs/ledger.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--payout", action="append", metavar="CODE", help="发放项目编号 (repeatable); default: every payout"
        )
        parser.add_argument("--json", action="store_true", help="print the ledger as JSON (amounts in fen)")

    def handle(self, *args, **options):
        codes = options["payout"]
        if codes:
            known = set(Payout.objects.filter(code__in=codes).values_list("code", flat=True))
            unknown = [code for code in codes if code not in known]
            if unknown:
                raise CommandError(f"No payout {', '.join(map(repr, unknown))}.", returncode=EXIT_UNKNOWN_PAYOUT)
        ledgers = ledger(codes)
        ok = reconcile_ok(ledgers)
        if options["json"]:
            data = {"ok": ok, "payouts": [entry.as_dict() for entry in ledgers]}
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self._print_table(ledgers)
            unbalanced = sum(1 for entry in ledgers if not entry.ok)
            summary = f"{len(ledgers)} payouts, {unbalanced} with problems."
            self.stdout.write(self.style.SUCCESS(summary) if ok else self.style.ERROR(summary))
        if not ok:
            raise SystemExit(EXIT_UNBALANCED)

    def _print_table(self, ledgers) -> None:
        width = max([len("payout"), *(len(entry.code) for entry in ledgers)])
        header = f"{'payout':<{width}} {'status':<9} " + " ".join(f"{c:>14}" for c in COLUMNS) + "  problems"
        self.stdout.write(header)
        for entry in ledgers:
            amounts = " ".join(f"{yuan(getattr(entry, c)):>14}" for c in COLUMNS)
            problems = " ".join(entry.problems) if entry.problems else "ok"
            line = f"{entry.code:<{width}} {entry.status:<9} {amounts}  {problems}"
            self.stdout.write(line if entry.ok else self.style.ERROR(line))
