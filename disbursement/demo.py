"""Demo payouts: September paid to the end (bank results with failures, corrections, a stop, a reissue, all paid);
October checked, reviewed and released, its batches waiting for the banks; November imported and checked, its
findings waiting for the clerk. A newcomer sees every stage of a round."""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from banks.exchange import batch_acknowledge
from banks.models import Bank, FailureReason
from banks.results import results_submit_json
from banks.tokens import bank_identity
from bench import synth
from checks.enums import FindingStatus, Severity
from checks.models import CheckRun, Finding
from checks.services import finding_keep, finding_remove
from disbursement.batches import payout_release
from disbursement.corrections import payment_correct, payment_stop
from disbursement.enums import PaymentStatus
from disbursement.ledger import to_fen
from disbursement.models import Batch, Payment, Payout, payment_ref
from disbursement.reissue import payout_reissue
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
# September's bank answers: which payments fail (a fixed draw, so every demo is the same) and why.
SEPTEMBER_SEED = 202609
SEPTEMBER_FAILURES = ("account_closed", "account_frozen", "account_not_found", "name_mismatch", "card_limit", "other")
SEPTEMBER_STOPPED = "account_not_found"  # the one failure the clerk stops instead of correcting
STOP_REASON = "经社区入户核实，该对象已于2026年9月迁出本区，由迁入地发放，本区停发。"
CORRECTION_NOTES = {
    "account_closed": "原卡已注销，本人已提供新开立的社保卡账号。",
    "account_frozen": "原账户被冻结，改用本人名下其他账户。",
    "name_mismatch": "原账户户名与本人不符，改用本人名下账户。",
    "card_limit": "原卡为二类账户已达限额，改用本人一类账户。",
    "other": "经电话联系本人，已更换为本人常用账户。",
}
# The synthesiser's bank codes (bench/synth.py BANKS) → the demo bank that pays into those accounts.
SYNTH_BANKS = {"rcb-erqi": "rcb-zz", "psbc-erqi": "psbc-erqi", "abc-erqi": "abc-erqi", "ccb-erqi": "ccb-erqi"}


def demo_county() -> synth.County:
    """二七区 with its real townships and villages (org/data/divisions-410103.csv): the rosters place people in
    villages the platform knows, so the notices can be read per township and village."""
    townships = []
    for township in Region.objects.filter(level="township", code__startswith="410103").order_by("code"):
        villages = tuple(synth.Village(v.code, v.name) for v in township.children.order_by("code"))
        if villages:
            townships.append(synth.Township(township.code, township.name, villages))
    return synth.County("410103", "二七区", tuple(townships))


def _payout_with_roster(clerk, period: str, month: str) -> tuple[Payout, Roster]:
    with transaction.atomic():
        payout = payout_create(
            acting_user=clerk, policy=Policy.objects.get(code=DEMO_POLICY), period=period,
            region=Region.objects.get(code="410103"), budget_document="二七财预〔2026〕88号",
            budget_amount=Decimal("200000.00"),
        )  # fmt: skip
    rows = synth.iter_roster_rows(2026, demo_county(), DEMO_ROWS, amount="580.00", error_rate=0.03)
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
    """September went all the way round: released, paid by the banks with a few failures, the failures corrected
    (one stopped) and reissued, the reissue paid. October was checked, reviewed and released; its batches wait for
    the banks, untouched, so that an integrator can try the bank API at once. November is the clerk's work in
    progress: its roster imported and checked, its findings waiting."""
    if Payout.objects.exists():
        return
    clerk = User.objects.get(username="minzheng")
    # Without a worker the jobs are run here; with one, each payout stays where the worker leaves its import.
    eager = celery_app.conf.task_always_eager
    september, roster = _payout_with_roster(clerk, "2026-09", "9")
    if eager:
        _import_and_check(september, roster)
        _review_and_release(september, clerk)
        _banks_answer(september, failing=_september_failures(september))
        _correct_and_reissue(september, clerk)
        _banks_answer(september, failing={})
    october, roster = _payout_with_roster(clerk, "2026-10", "10")
    if eager:
        _import_and_check(october, roster)
        _review_and_release(october, clerk)
    _payout_with_roster(clerk, "2026-11", "11")


def _import_and_check(payout: Payout, roster: Roster) -> None:
    # Inside a transaction (a test) the queued jobs wait for its commit: run them here if they have not run yet —
    # the import, then the checks it queued.
    job_run(job_id=roster.job_id)
    run = CheckRun.objects.filter(payout=payout).order_by("-pk").first()
    if run is not None and run.job_id:
        job_run(job_id=run.job_id)


def _review_and_release(payout: Payout, clerk) -> None:
    for finding in Finding.objects.filter(payout=payout, status=FindingStatus.OPEN, severity=Severity.BLOCK):
        finding_remove(acting_user=clerk, finding=finding, note="经核实，不符合发放条件，剔除。")
    for finding in Finding.objects.filter(payout=payout, status=FindingStatus.OPEN):
        finding_keep(acting_user=clerk, finding=finding, reason="已电话核实为本人，信息无误。")
    payout_submit(acting_user=clerk, payout=payout)
    for username in ("minzheng_sh", "caizheng_sh"):
        review_approve(acting_user=User.objects.get(username=username), payout=Payout.objects.get(pk=payout.pk))
    batches = payout_release(acting_user=User.objects.get(username="caizheng"), payout=Payout.objects.get(pk=payout.pk))
    _write_files(batches)


def _write_files(batches: list[Batch]) -> None:
    for batch in batches:
        job_run(job_id=batch.job_id)  # already done when its on_commit ran it; else (in a test) done now


def _september_failures(payout: Payout) -> dict[int, str]:
    """Payment id → the bank's reason code, for a fixed handful of the payout's payments."""
    ids = list(Payment.objects.filter(payout=payout, batch__isnull=False).order_by("row").values_list("pk", flat=True))
    chosen = random.Random(SEPTEMBER_SEED).sample(ids, len(SEPTEMBER_FAILURES))  # noqa: S311 — a fixed demo draw
    return dict(zip(chosen, SEPTEMBER_FAILURES, strict=True))


def _banks_answer(payout: Payout, *, failing: dict[int, str]) -> None:
    """Each bank acknowledges its waiting batches of the payout and answers every payment, as JSON through the
    results service the API calls: paid, or failed with the reason in ``failing``."""
    reasons = dict(FailureReason.objects.values_list("code", "name"))
    waiting = Batch.objects.filter(payout=payout, closed_at__isnull=True).select_related("bank", "payout")
    for batch in waiting.order_by("bank__code", "attempt"):
        bank_identity(batch.bank)
        batch_acknowledge(bank=batch.bank, batch=batch, file_sha256=batch.file_sha256)
        results, total = [], 0
        for pk, row, attempt, amount in (
            Payment.objects.filter(batch=batch).order_by("row").values_list("pk", "row", "attempt", "amount")
        ):
            ref = payment_ref(payout.code, row, attempt)
            total += to_fen(amount)
            code = failing.get(pk)
            if code:
                results.append({"payment_ref": ref, "status": "failed", "reason_code": code, "reason": reasons[code]})
            else:
                txn = f"{batch.bank.code[:4].upper()}{hashlib.sha256(ref.encode()).hexdigest()[:14].upper()}"
                results.append({"payment_ref": ref, "status": "paid", "bank_txn_id": txn})
        body = {"results": results, "count": len(results), "total_fen": total}
        raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        results_submit_json(
            bank=batch.bank,
            batch=batch,
            body=body,
            body_sha256=hashlib.sha256(raw).hexdigest(),
            idempotency_key=f"demo-{batch.batch_no}",
        )


def _correct_and_reissue(payout: Payout, clerk) -> None:
    """The clerk corrects every failure but one with a new account (made by the roster synthesiser, at a demo
    bank) and stops that one (停发); finance reissues the corrected ones into new batches."""
    county = demo_county()
    failed = Payment.objects.filter(payout=payout, status=PaymentStatus.FAILED).order_by("row")
    for payment in failed:
        if payment.result_code == SEPTEMBER_STOPPED:
            payment_stop(acting_user=clerk, payment=payment, reason=STOP_REASON)
            continue
        person = synth.person_at(SEPTEMBER_SEED, county, payment.row, passbook_rate=0.0)
        payment_correct(
            acting_user=clerk,
            payment=payment,
            account=person.account,
            bank_name=Bank.objects.get(code=SYNTH_BANKS[person.bank_code]).name,
            reason=CORRECTION_NOTES.get(payment.result_code, CORRECTION_NOTES["other"]),
        )
    _write_files(payout_reissue(acting_user=User.objects.get(username="caizheng"), payout=payout))
