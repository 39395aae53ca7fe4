"""Demo payouts: October checked, reviewed and released into bank batches; November imported and checked, its
findings waiting for the clerk. A newcomer sees every stage of a round."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from bench import synth
from checks.enums import FindingStatus, Severity
from checks.models import CheckRun, Finding
from checks.services import finding_keep, finding_remove
from disbursement.batches import payout_release
from disbursement.models import Payout
from disbursement.review import payout_submit, review_approve
from disbursement.services import payout_create
from jobs.services import job_run
from org.models import Region, User
from policies.models import Policy
from recipients.models import Roster
from recipients.services import roster_upload
from yikatong.celery import app as celery_app

DEMO_POLICY = "MZ-04"  # 城市居民最低生活保障金: no age bounds, 580 元 a month in 2026
DEMO_ROWS = 300


def _payout_with_roster(clerk, period: str, month: str) -> tuple[Payout, Roster]:
    with transaction.atomic():
        payout = payout_create(
            acting_user=clerk, policy=Policy.objects.get(code=DEMO_POLICY), period=period,
            region=Region.objects.get(code="410103"), budget_document="二七财预〔2026〕88号",
            budget_amount=Decimal("200000.00"),
        )  # fmt: skip
    rows = synth.iter_roster_rows(2026, synth.make_county(2026), DEMO_ROWS, amount="580.00", error_rate=0.03)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.xlsx"
        synth.write_roster_xlsx(
            rows, path, title=f"二七区2026年{month}月城市低保金发放名册", unit="填报单位：二七区民政局"
        )
        data = path.read_bytes()
    # The import runs as a job: in-process with the zero-setup defaults, on a worker when a broker is configured.
    # The checks run after it, the same way.
    roster = roster_upload(acting_user=clerk, payout=payout, filename=f"2026年{month}月城市低保名册.xlsx", data=data)
    return payout, roster


def seed_payouts() -> None:
    """October went all the way: checked, findings cleared, reviewed, released into bank batches. November is
    the clerk's work in progress: its roster imported and checked, its findings waiting."""
    if Payout.objects.exists():
        return
    clerk = User.objects.get(username="minzheng")
    october, roster = _payout_with_roster(clerk, "2026-10", "10")
    if celery_app.conf.task_always_eager:
        # Without a worker, do the jobs here if they have not run yet (inside a transaction they wait for its
        # commit): the import, then the checks it queued. With a worker, October stays where the worker leaves it.
        job_run(job_id=roster.job_id)
        run = CheckRun.objects.filter(payout=october).order_by("-pk").first()
        if run is not None and run.job_id:
            job_run(job_id=run.job_id)
        _review_and_release(october, clerk)
    _payout_with_roster(clerk, "2026-11", "11")


def _review_and_release(payout: Payout, clerk) -> None:
    for finding in Finding.objects.filter(payout=payout, status=FindingStatus.OPEN, severity=Severity.BLOCK):
        finding_remove(acting_user=clerk, finding=finding, note="经核实，不符合发放条件，剔除。")
    for finding in Finding.objects.filter(payout=payout, status=FindingStatus.OPEN):
        finding_keep(acting_user=clerk, finding=finding, reason="已电话核实为本人，信息无误。")
    payout_submit(acting_user=clerk, payout=payout)
    for username in ("minzheng_sh", "caizheng_sh"):
        review_approve(acting_user=User.objects.get(username=username), payout=Payout.objects.get(pk=payout.pk))
    payout_release(acting_user=User.objects.get(username="caizheng"), payout=Payout.objects.get(pk=payout.pk))
