"""Demo disclosure: the September and October notices, a few published documents, and one person to look up."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from banks.models import Bank
from disbursement.enums import PaymentStatus
from disbursement.models import Payment, Payout
from disclosure.complaints import complaint_answer, complaint_file
from disclosure.enums import ComplaintKind
from disclosure.models import Complaint, Notice, PublishedDocument
from disclosure.notices import NOTICE_PAYOUT_STATUSES, document_save, notice_publish
from org.models import Department, Region, User
from policies.models import Policy
from yikatong import pii

DOCUMENTS = [
    # title, number, department code (None: the bureau), issued on, summary
    (
        "二七区惠民惠农财政补贴资金“一卡通”管理实施方案",
        "二七政办〔2024〕12号",
        None,
        dt.date(2024, 5, 20),
        "明确补贴政策清单管理、发放平台、资金拨付、信息公开和监督检查的职责分工与工作流程。",
    ),
    (
        "二七区惠民惠农财政补贴资金发放信息公开办法",
        "二七财〔2025〕31号",
        None,
        dt.date(2025, 3, 10),
        "补贴发放名单按乡镇（街道）、村（社区）公示，公示期不少于7天；个人可在线查询本人补贴发放结果。",
    ),
    (
        "二七区城乡居民最低生活保障金发放管理细则",
        "二七民〔2025〕8号",
        "mz",
        dt.date(2025, 6, 1),
        "规定低保金按月足额发放到户，发放失败的核实更正后及时补发。",
    ),
]


def seed_disclosure() -> None:
    """Publish what the demo payouts have reached, once; change nothing that exists."""
    if Notice.objects.exists() or PublishedDocument.objects.exists():
        return
    clerk = User.objects.get(username="minzheng")
    finance = User.objects.get(username="caizheng")
    today = timezone.localdate()
    with transaction.atomic():
        for payout in Payout.objects.filter(status__in=NOTICE_PAYOUT_STATUSES).order_by("period"):
            # September's notice ran before its money went out; the latest one is still in its notice period.
            start = today if payout.period >= "2026-10" else dt.date(2026, 9, 1)
            notice_publish(payout=payout, acting_user=clerk, published_from=start)
        for title, number, department, issued_on, summary in DOCUMENTS:
            document = PublishedDocument(
                title=title,
                doc_number=number,
                department=Department.objects.get(code=department) if department else None,
                issued_on=issued_on,
                summary=summary,
                is_published=True,
            )
            document_save(document=document, acting_user=clerk if department else finance)
        _seed_complaints(clerk)


def _seed_complaints(clerk) -> None:
    """An answered question, an open complaint about a bank, and an unassigned report gone past its time limit."""
    if Complaint.objects.exists():
        return
    policy = Policy.objects.filter(code="MZ-04").first()
    township = Region.objects.filter(code="410103015").first()
    question = complaint_file(
        kind=ComplaintKind.QUESTION,
        policy=policy,
        township=township,
        text="我母亲今年办了低保，请问低保金每月几号发放？发到哪张卡上？",
        contact_name="王女士",
        contact_phone="13800000000",
    )
    complaint_answer(
        complaint=question,
        acting_user=clerk,
        answer="低保金每月10日前发放到本人社会保障卡，可在本网站“个人查询”查看每月到账情况。",
    )
    complaint_file(
        kind=ComplaintKind.COMPLAINT,
        policy=policy,
        township=township,
        bank=Bank.objects.filter(code="rcb-zz").first(),
        text="到银行网点取低保金时被要求先开通手机银行才能取款，希望核实。",
    )
    report = complaint_file(
        kind=ComplaintKind.REPORT,
        township=township,
        text="反映本村有人已在外地工作多年，仍在领取补贴，请核查。",
    )
    # Backdated so that the admin shows an overdue one (限时办理): filed 20 days ago, due 5 days ago.
    Complaint.objects.filter(pk=report.pk).update(
        created_at=report.created_at - dt.timedelta(days=20), due_at=report.due_at - dt.timedelta(days=20)
    )


def demo_person() -> tuple[str, str] | None:
    """A synthetic demo recipient who has been paid (name, ID number), for trying the personal lookup."""
    payment = (
        Payment.objects.filter(status=PaymentStatus.PAID, attempt=1)
        .select_related("recipient")
        .order_by("payout__period", "row")
        .first()
    )
    if payment is None:
        return None
    return payment.recipient.name, pii.decrypt(bytes(payment.recipient.id_cipher), purpose="id_number")
