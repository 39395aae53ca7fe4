"""代发机构考评: the computed part from batches with known timestamps, finance's manual score, the admin page and its
exports, and who may see or score.

Batches are made directly with their timestamps (the bank API that sets them is tested elsewhere); payments come
from an uploaded roster and are put into those batches with queryset updates that stand in for the bank's results.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from openpyxl import load_workbook

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.evaluation import BankEvaluation, bank_evaluation, last_month
from banks.models import Agreement, Bank, BankScore
from banks.scoring import bank_score_save
from disbursement.enums import BankResult, BatchStatus, PaymentStatus, PayoutStatus
from disbursement.ledger import to_fen
from disbursement.models import Batch, Payment, Payout

pytestmark = pytest.mark.django_db

CN = ZoneInfo("Asia/Shanghai")
PERIOD = "2025-09"
H = dt.timedelta(hours=1)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 9) -> dt.datetime:
    """A moment of 2025 in Beijing time."""
    return dt.datetime(2025, month, day, hour, minute, tzinfo=CN)


@pytest.fixture
def people(payout, roster_file, upload):
    """Department A's released payout with 30 approved payments, handed out to batches by ``Desk``."""
    path, _rows = roster_file(30)
    upload(path)
    payments = Payment.objects.filter(payout=payout)
    payments.update(status=PaymentStatus.APPROVED)
    Payout.objects.filter(pk=payout.pk).update(
        status=PayoutStatus.RELEASED, approved_total=payments.aggregate(t=Sum("amount"))["t"]
    )
    return list(payments.order_by("row"))


class Desk:
    """Makes batches with known timestamps and answers their payments as a bank would."""

    def __init__(self, payout, people, user):
        self.payout, self.free, self.user, self.n = payout, list(people), user, 0

    def batch(self, bank, *, generated, acked=None, closed=None, paid=0, failed=0, returned=0, unanswered=0):
        count = paid + failed + returned + unanswered
        chosen, self.free = self.free[:count], self.free[count:]
        self.n += 1
        batch = Batch.objects.create(
            batch_no=f"T-{self.n}", payout=self.payout, bank=bank, attempt=self.n, status=BatchStatus.READY,
            payment_count=count, total_fen=sum(to_fen(p.amount) for p in chosen), encoding="gbk",
            file_sha256="0" * 64, stored_file=f"batches/T-{self.n}.txt", generated_at=generated,
            created_by=self.user,
        )  # fmt: skip
        ids = [p.pk for p in chosen]
        Payment.objects.filter(pk__in=ids).update(batch=batch, status=PaymentStatus.SENT)
        # Timestamps the bank API sets later; the batch file's own columns never change.
        Batch.objects.filter(pk=batch.pk).update(acknowledged_at=acked, closed_at=closed)
        answered_at = closed or generated
        paid_ids, failed_ids = ids[:paid], ids[paid : paid + failed]
        returned_ids = ids[paid + failed : paid + failed + returned]
        Payment.objects.filter(pk__in=paid_ids + returned_ids).update(
            result=BankResult.PAID, status=PaymentStatus.PAID, paid_at=answered_at, result_at=answered_at
        )
        Payment.objects.filter(pk__in=failed_ids).update(
            result=BankResult.FAILED, result_code="account_closed", status=PaymentStatus.FAILED, result_at=answered_at
        )
        # 退回 comes after 成功: the result moves paid → returned, never straight there.
        Payment.objects.filter(pk__in=returned_ids).update(
            result=BankResult.RETURNED, status=PaymentStatus.RETURNED, returned_at=answered_at
        )
        return batch

    def reissue_batch(self, bank, failed: Payment, *, generated, acked, closed):
        """A 补发 batch carrying the reissue (attempt 2) of ``failed``, reported paid."""
        self.n += 1
        batch = Batch.objects.create(
            batch_no=f"T-{self.n}", payout=self.payout, bank=bank, attempt=self.n, status=BatchStatus.READY,
            payment_count=1, total_fen=to_fen(failed.amount), encoding="gbk", file_sha256="0" * 64,
            stored_file=f"batches/T-{self.n}.txt", generated_at=generated, acknowledged_at=acked, closed_at=closed,
            created_by=self.user,
        )  # fmt: skip
        Payment.objects.filter(pk=failed.pk).update(status=PaymentStatus.REISSUED)
        Payment.objects.create(
            payout=failed.payout, policy_id=failed.policy_id, period=failed.period, recipient_id=failed.recipient_id,
            roster_id=failed.roster_id, row=failed.row, amount=failed.amount, account_hash=failed.account_hash,
            account_cipher=failed.account_cipher, account_masked=failed.account_masked, bank_name=failed.bank_name,
            holder_name=failed.holder_name, status=PaymentStatus.PAID, batch=batch, attempt=2, reissue_of=failed,
            result=BankResult.PAID, paid_at=closed, result_at=closed,
        )  # fmt: skip
        return batch


@pytest.fixture
def desk(payout, people, finance_admin):
    return Desk(payout, people, finance_admin)


@pytest.fixture
def ccb(db):
    bank = Bank.objects.create(code="ccb-erqi", name="中国建设银行郑州二七支行")
    Agreement.objects.create(
        bank=bank, number="DF-2025-01", signed_on=dt.date(2024, 12, 20), valid_from=dt.date(2025, 1, 1),
        ack_hours=24, result_hours=72,
    )  # fmt: skip
    return bank


@pytest.fixture
def icbc(db):
    """A bank without any agreement: the default limits (24 h, 72 h) apply."""
    return Bank.objects.create(code="icbc-erqi", name="中国工商银行郑州二七支行")


@pytest.fixture
def idle(db):
    """An active bank that carried no batch in the period."""
    return Bank.objects.create(code="rcb-zz", name="郑州农村商业银行二七支行")


@pytest.fixture
def september(desk, ccb, icbc, idle):
    """建行: four batches in September (one a reissue) and one just after; 工行: one batch, acknowledged late."""
    desk.batch(ccb, generated=at(1), acked=at(1) + 2 * H, closed=at(1) + 48 * H, paid=3, failed=1)
    desk.batch(ccb, generated=at(10), acked=at(10) + 30 * H, closed=at(10) + 72 * H, paid=3, returned=1)
    # 23:30 on the 30th in Beijing is still September (15:30 UTC); never acknowledged, long past both limits.
    desk.batch(ccb, generated=at(30, 23, 30), unanswered=2)
    # 00:30 on 1 October in Beijing is 16:30 UTC on 30 September: October's, not September's.
    desk.batch(ccb, generated=at(1, 0, 30, month=10), acked=at(1, 1, 30, month=10), paid=1)
    failed = Payment.objects.get(batch__batch_no="T-1", result=BankResult.FAILED)
    desk.reissue_batch(ccb, failed, generated=at(20), acked=at(20) + H, closed=at(20) + 5 * H)
    desk.batch(icbc, generated=at(5), acked=at(5) + 25 * H, closed=at(5) + 70 * H, paid=2)
    return {row.bank.code: row for row in bank_evaluation(PERIOD)}


# --- The computed part -------------------------------------------------------------------------


def test_rates_hours_and_score_come_from_the_batches_generated_in_the_period(september):
    ccb = september["ccb-erqi"]
    assert (ccb.batches, ccb.payments) == (4, 11)
    assert (
        ccb.amount_fen
        == Batch.objects.filter(bank__code="ccb-erqi").exclude(batch_no="T-4").aggregate(s=Sum("total_fen"))["s"]
    )
    # Acknowledged: on time after 2 h and 1 h; late after 30 h (limit 24 h) and never (past its limit).
    assert (ccb.ack_on_time, ccb.ack_late, ccb.ack_pending) == (2, 2, 0)
    assert ccb.ack_rate == Fraction(1, 2)
    # Closed: 48 h, exactly 72 h and 5 h are on time; the never-answered batch is late.
    assert (ccb.result_on_time, ccb.result_late) == (3, 1)
    assert ccb.result_rate == Fraction(3, 4)
    # First attempts answered: 8; paid and not returned: 6. The reissue (attempt 2) is not counted.
    assert (ccb.first_answered, ccb.first_paid, ccb.first_failed, ccb.first_returned) == (8, 6, 1, 1)
    assert ccb.success_rate == Fraction(3, 4)
    assert ccb.mean_ack_hours == Decimal("11.0")  # (2 + 30 + 1) / 3
    assert ccb.mean_close_hours == Decimal("41.7")  # (48 + 72 + 5) / 3
    # 25 × 1/2 + 25 × 3/4 + 30 × 3/4 = 53.75
    assert ccb.computed_score == Decimal("53.8")
    assert ccb.agreement.number == "DF-2025-01" and (ccb.ack_hours, ccb.result_hours) == (24, 72)


def test_a_bank_without_an_agreement_is_held_to_24_and_72_hours(september):
    icbc = september["icbc-erqi"]
    assert icbc.agreement is None and (icbc.ack_hours, icbc.result_hours) == (24, 72)
    # Acknowledged after 25 h: late against the default 24 h; closed after 70 h: on time against 72 h.
    assert (icbc.ack_on_time, icbc.ack_late, icbc.result_on_time, icbc.result_late) == (0, 1, 1, 0)
    assert icbc.computed_score == Decimal("55.0")  # 0 + 25 + 30


def test_a_bank_without_batches_has_no_business_and_no_score(september):
    idle = september["rcb-zz"]
    assert not idle.has_business and idle.batches == 0
    assert idle.computed_score is None and idle.total_score is None


def test_a_month_without_complaints_costs_no_bank_anything(september):
    assert {row.complaints for row in september.values()} == {0}


@pytest.mark.parametrize(
    ("after", "late"),
    [(24 * H, False), (24 * H + dt.timedelta(seconds=1), True), (23 * H, False), (48 * H, True)],
)
def test_an_acknowledgement_later_than_the_24_hour_agreement_counts_late(desk, ccb, after, late):
    desk.batch(ccb, generated=at(3), acked=at(3) + after, closed=at(3) + 50 * H, paid=1)
    (row,) = bank_evaluation(PERIOD, banks=[ccb])
    assert (row.ack_on_time, row.ack_late) == ((0, 1) if late else (1, 0))


def test_each_batch_is_held_to_the_agreement_in_force_on_the_day_its_file_was_generated(desk, ccb):
    Agreement.objects.filter(bank=ccb).update(valid_until=dt.date(2025, 9, 14), ack_hours=48)
    Agreement.objects.create(
        bank=ccb, number="DF-2025-02", signed_on=dt.date(2025, 9, 1), valid_from=dt.date(2025, 9, 15), ack_hours=12
    )
    desk.batch(ccb, generated=at(10), acked=at(10) + 40 * H, closed=at(10) + 50 * H, paid=1)  # 48 h: on time
    desk.batch(ccb, generated=at(20), acked=at(20) + 20 * H, closed=at(20) + 50 * H, paid=1)  # 12 h: late
    (row,) = bank_evaluation(PERIOD, banks=[ccb])
    assert (row.ack_on_time, row.ack_late) == (1, 1)
    # The page shows the agreement in force at the end of the period.
    assert row.agreement.number == "DF-2025-02" and row.ack_hours == 12


def test_a_batch_still_within_its_limits_is_not_counted_yet_and_the_score_waits(desk, ccb):
    desk.batch(ccb, generated=at(3), unanswered=2)
    (row,) = bank_evaluation(PERIOD, banks=[ccb], now=at(3) + 5 * H)
    assert (row.ack_on_time, row.ack_late, row.ack_pending, row.result_pending) == (0, 0, 1, 1)
    assert row.pending and row.computed_score is None
    (later,) = bank_evaluation(PERIOD, banks=[ccb], now=at(3) + 100 * H)
    assert (later.ack_late, later.result_late, later.ack_pending) == (1, 1, 0)


def test_a_quarter_and_a_year_take_in_every_month(september):
    for period in ("2025-Q3", "2025"):
        rows = {row.bank.code: row for row in bank_evaluation(period)}
        assert rows["ccb-erqi"].batches == (4 if period == "2025-Q3" else 5)
        assert rows["icbc-erqi"].batches == 1


def test_an_inactive_bank_still_answers_for_a_period_it_worked_in(september, icbc):
    Bank.objects.filter(pk=icbc.pk).update(is_active=False)
    assert "icbc-erqi" in {row.bank.code for row in bank_evaluation(PERIOD)}
    assert "icbc-erqi" not in {row.bank.code for row in bank_evaluation("2025-06")}


def test_complaints_take_two_points_each_and_the_score_never_goes_below_zero(ccb):
    row = BankEvaluation(
        bank=ccb, period=PERIOD, agreement=None, ack_hours=24, result_hours=72, batches=1, payments=4,
        ack_on_time=1, result_on_time=1, first_answered=4, first_paid=4, complaints=3,
    )  # fmt: skip
    assert row.computed_score == Decimal("74.0")
    assert BankEvaluation(**{**row.__dict__, "complaints": 50}).computed_score == Decimal("0.0")


def test_the_total_adds_finance_score_to_the_computed_part(september, finance_admin, ccb):
    bank_score_save(acting_user=finance_admin, bank=ccb, period=PERIOD, manual_score="15.5", note="服务规范")
    (row,) = bank_evaluation(PERIOD, banks=[ccb])
    assert (row.computed_score, row.manual_score, row.total_score) == (
        Decimal("53.8"),
        Decimal("15.5"),
        Decimal("69.3"),
    )


def test_the_evaluation_reads_in_a_fixed_number_of_queries(september, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        bank_evaluation(PERIOD)


# --- Finance's manual score --------------------------------------------------------------------


def test_finance_scores_a_bank_and_the_trail_holds_before_and_after(finance_admin, ccb):
    bank_score_save(acting_user=finance_admin, bank=ccb, period=PERIOD, manual_score=Decimal("16"), note="响应及时")
    bank_score_save(acting_user=finance_admin, bank=ccb, period=PERIOD, manual_score="18.5", note="复核后调整")
    score = BankScore.objects.get(bank=ccb, period=PERIOD)
    assert (score.manual_score, score.note, score.scored_by) == (Decimal("18.5"), "复核后调整", finance_admin)
    first, second = AuditEvent.objects.filter(action=AuditAction.BANK_SCORE_SAVE).order_by("pk")
    assert first.before is None and first.after == {"period": PERIOD, "manual_score": "16.0", "note": "响应及时"}
    assert second.before == {"period": PERIOD, "manual_score": "16.0", "note": "响应及时"}
    assert second.after == {"period": PERIOD, "manual_score": "18.5", "note": "复核后调整"}
    assert second.actor_label == "finance_admin" and second.object_id == str(score.pk)


def test_saving_the_same_score_again_records_nothing(finance_admin, ccb):
    for _ in range(2):
        bank_score_save(acting_user=finance_admin, bank=ccb, period=PERIOD, manual_score="12", note="")
    assert AuditEvent.objects.filter(action=AuditAction.BANK_SCORE_SAVE).count() == 1


@pytest.mark.parametrize("value", ["20.5", "-1", "100", "abc", "12.34", "NaN"])
def test_a_manual_score_outside_0_to_20_is_refused(finance_admin, ccb, value):
    with pytest.raises(ValidationError) as caught:
        bank_score_save(acting_user=finance_admin, bank=ccb, period=PERIOD, manual_score=value, note="")
    assert caught.value.code in {"score_out_of_range", "score_not_number", "score_precision"}
    assert not BankScore.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.BANK_SCORE_SAVE).exists()


@pytest.mark.parametrize("period", ["2025-13", "2025-Q5", "25-09", "2025-9", "", "2099-01"])
def test_a_bad_or_future_period_is_refused(finance_admin, ccb, period):
    with pytest.raises(ValidationError) as caught:
        bank_score_save(acting_user=finance_admin, bank=ccb, period=period, manual_score="10", note="")
    assert caught.value.code in {"period_invalid", "period_not_started"}
    assert not BankScore.objects.exists()


@pytest.mark.parametrize("score", [Decimal("20.1"), Decimal("-0.1")])
def test_the_database_refuses_a_score_outside_0_to_20_too(finance_admin, ccb, score):
    with pytest.raises(IntegrityError), transaction.atomic():
        BankScore.objects.create(bank=ccb, period=PERIOD, manual_score=score, scored_by=finance_admin)


def test_the_database_refuses_a_malformed_period(finance_admin, ccb):
    with pytest.raises(IntegrityError), transaction.atomic():
        BankScore.objects.create(bank=ccb, period="2025-13", manual_score=10, scored_by=finance_admin)


@pytest.mark.parametrize("who", ["auditor", "finance_reviewer", "clerk_a", "outsider"])
def test_only_finance_may_score(request, ccb, who):
    with pytest.raises(PermissionDenied):
        bank_score_save(acting_user=request.getfixturevalue(who), bank=ccb, period=PERIOD, manual_score=10)
    assert not BankScore.objects.exists()


# --- The admin page and its exports ------------------------------------------------------------


class _Table(HTMLParser):
    """The cells of #evaluation-table as a person reads them (finance's score-entry column left out)."""

    def __init__(self):
        super().__init__()
        self.inside, self.rows, self.cell, self.skipping = False, [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", "evaluation-table") in attrs:
            self.inside = True
        if not self.inside:
            return
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.skipping = ("class", "score-col") in attrs
            self.cell = None if self.skipping else ""

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag in ("td", "th") and self.cell is not None and not self.skipping:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        if tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.cell is not None and not self.skipping:
            self.cell += data


def page_table(response) -> list[list[str]]:
    parser = _Table()
    parser.feed(response.content.decode())
    return [row for row in parser.rows if row]


def page_url(period=PERIOD) -> str:
    return f"{reverse('admin:banks_bankscore_changelist')}?period={period}"


def export_url(fmt, period=PERIOD) -> str:
    return f"{reverse('admin:banks_bankscore_export', args=[fmt])}?period={period}"


def by_code(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row for row in rows[1:]}


def test_finance_sees_one_row_per_bank_with_the_formula(september, login, finance_admin):
    response = login(finance_admin).get(page_url())
    assert response.status_code == 200
    text = response.content.decode()
    assert "代发机构考评（2025-09）" in text and "25 × 接收确认及时率" in text
    assert "投诉数据暂未接入" not in text
    rows = page_table(response)
    headers = rows[0]
    ccb, icbc, idle = (dict(zip(headers, by_code(rows)[code], strict=True)) for code in september)
    assert ccb["批次数"] == "4" and ccb["笔数"] == "11" and ccb["代发协议"] == "DF-2025-01"
    assert (
        ccb["接收确认及时率（%）"] == "50.0" and ccb["回盘及时率（%）"] == "75.0" and ccb["发放成功率（%）"] == "75.0"
    )
    assert ccb["平均确认用时（小时）"] == "11.0" and ccb["计算得分（满分80）"] == "53.8"
    assert ccb["总分（满分100）"] == "待财政评分"
    assert icbc["计算得分（满分80）"] == "55.0" and "无有效代发协议" in icbc["说明"]
    assert idle["计算得分（满分80）"] == "无代发业务" and idle["总分（满分100）"] == "无代发业务"
    # Finance gets the score form on every row.
    assert text.count('class="score-form"') == 3


def test_finance_saves_a_score_from_the_page_and_sees_the_total(september, login, finance_admin, ccb):
    client = login(finance_admin)
    response = client.post(
        reverse("admin:banks_bankscore_score"),
        {"bank": ccb.pk, "period": PERIOD, "manual_score": "17", "note": "服务到位"},
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?period={PERIOD}")
    assert BankScore.objects.get(bank=ccb, period=PERIOD).manual_score == Decimal("17.0")
    rows = page_table(client.get(page_url()))
    row = dict(zip(rows[0], by_code(rows)["ccb-erqi"], strict=True))
    assert row["财政评分（满分20）"] == "17.0" and row["总分（满分100）"] == "70.8"


def test_a_score_out_of_range_from_the_page_is_refused_with_a_message(september, login, finance_admin, ccb):
    client = login(finance_admin)
    response = client.post(
        reverse("admin:banks_bankscore_score"),
        {"bank": ccb.pk, "period": PERIOD, "manual_score": "25", "note": ""},
        follow=True,
    )
    assert "财政评分须在 0 到 20 分之间" in response.content.decode()
    assert not BankScore.objects.exists()


def test_the_page_defaults_to_last_month(login, finance_admin, idle):
    response = login(finance_admin).get(reverse("admin:banks_bankscore_changelist"))
    assert response.status_code == 200
    assert f"代发机构考评（{last_month()}）" in response.content.decode()


def test_a_malformed_period_falls_back_to_last_month_and_says_so(login, finance_admin, idle):
    response = login(finance_admin).get(page_url("2025-13"))
    text = response.content.decode()
    assert f"代发机构考评（{last_month()}）" in text and "考评期间格式不正确" in text


def test_the_csv_export_holds_the_same_numbers_as_the_page(september, login, finance_admin):
    client = login(finance_admin)
    page = page_table(client.get(page_url()))
    response = client.get(export_url("csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "bank-evaluation-2025-09.csv" in response["Content-Disposition"]
    exported = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert exported == page


def test_the_xlsx_export_holds_the_same_numbers_as_the_page(september, login, finance_admin):
    client = login(finance_admin)
    page = page_table(client.get(page_url()))
    response = client.get(export_url("xlsx"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == page[0]
    for got, shown in zip(cells[1:], page[1:], strict=True):
        for value, text in zip(got, shown, strict=True):
            if value is None:
                assert text in ("—", "")  # nothing to show: an empty cell
            elif isinstance(value, int | float):
                assert Decimal(str(value)) == Decimal(text), (value, text)  # numbers stay numbers
            else:
                assert value == text


def test_an_auditor_sees_and_exports_but_cannot_score(september, login, auditor, ccb):
    client = login(auditor)
    response = client.get(page_url())
    assert response.status_code == 200 and 'class="score-form"' not in response.content.decode()
    assert client.get(export_url("xlsx")).status_code == 200
    posted = client.post(reverse("admin:banks_bankscore_score"), {"bank": ccb.pk, "period": PERIOD, "manual_score": 5})
    assert posted.status_code == 403
    assert not BankScore.objects.exists()


@pytest.mark.parametrize("who", ["clerk_a", "outsider", "reviewer_a"])
def test_a_department_user_gets_403_for_the_page_the_export_and_the_score(request, september, login, ccb, who):
    client = login(request.getfixturevalue(who))
    assert client.get(page_url()).status_code == 403
    assert client.get(export_url("csv")).status_code == 403
    assert client.get(export_url("xlsx")).status_code == 403
    posted = client.post(reverse("admin:banks_bankscore_score"), {"bank": ccb.pk, "period": PERIOD, "manual_score": 5})
    assert posted.status_code == 403
    assert not BankScore.objects.exists()


def test_the_admin_home_lists_the_evaluation_for_finance_only(login, finance_admin, clerk_a):
    url = reverse("admin:banks_bankscore_changelist")
    assert url in login(finance_admin).get(reverse("admin:index")).content.decode()
    assert url not in login(clerk_a).get(reverse("admin:index")).content.decode()


def test_an_export_for_a_malformed_period_is_refused_not_swapped_for_another(login, finance_admin, idle):
    response = login(finance_admin).get(export_url("csv", "2025-13"))
    assert response.status_code == 400 and "考评期间格式不正确" in response.content.decode()
