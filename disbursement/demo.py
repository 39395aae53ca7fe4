"""A demo payout with an imported roster, so a newcomer sees draft payments, issues and an error report."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from bench import synth
from disbursement.models import Payout
from disbursement.services import payout_create
from org.models import Region, User
from policies.models import Policy
from recipients.services import roster_upload

DEMO_POLICY = "MZ-04"  # 城市居民最低生活保障金: no age bounds, 580 元 a month in 2026
DEMO_ROWS = 300


def seed_payouts() -> None:
    if Payout.objects.exists():
        return
    clerk = User.objects.get(username="minzheng")
    county = Region.objects.get(code="410103")
    with transaction.atomic():
        payout = payout_create(
            acting_user=clerk, policy=Policy.objects.get(code=DEMO_POLICY), period="2026-11", region=county,
            budget_document="二七财预〔2026〕88号", budget_amount=Decimal("200000.00"),
        )  # fmt: skip
    rows = synth.iter_roster_rows(2026, synth.make_county(2026), DEMO_ROWS, amount="580.00", error_rate=0.03)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.xlsx"
        synth.write_roster_xlsx(rows, path, title="二七区2026年11月城市低保金发放名册", unit="填报单位：二七区民政局")
        data = path.read_bytes()
    # The import runs as a job: in-process with the zero-setup defaults, on a worker when a broker is configured.
    roster_upload(acting_user=clerk, payout=payout, filename="2026年11月城市低保名册.xlsx", data=data)
