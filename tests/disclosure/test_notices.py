"""发放公示 and 制度文件: who may publish, what the public reads (masked, by township and village), the trail."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from disbursement.enums import PaymentStatus
from disbursement.models import Payment, Payout
from disclosure.enums import NoticeStatus
from disclosure.models import Notice, PublishedDocument
from disclosure.notices import ROWS_PER_PAGE, document_save, notice_page, notice_publish, notice_withdraw
from org.models import Region
from recipients.models import Recipient
from tests.disbursement.test_corrections import bank_pays, payments_of, release_payout
from yikatong import pii

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def released(payout, clerk_a, finance_admin, roster_file, django_capture_on_commit_callbacks):
    return release_payout(
        payout,
        clerk=clerk_a,
        finance=finance_admin,
        roster_file=roster_file,
        capture=django_capture_on_commit_callbacks,
    )


@pytest.fixture
def notice(released, clerk_a):
    return notice_publish(payout=released, acting_user=clerk_a)


def full_ids(payout) -> list[str]:
    return [
        pii.decrypt(bytes(p.recipient.id_cipher), purpose="id_number")
        for p in Payment.objects.filter(payout=payout).select_related("recipient")
    ]


# --- Publishing -----------------------------------------------------------------------------------------


def test_the_department_publishes_a_seven_day_notice_and_the_trail_says_so(released, clerk_a):
    notice = notice_publish(payout=released, acting_user=clerk_a)
    today = timezone.localdate()
    assert (notice.published_from, notice.published_to) == (today, today + dt.timedelta(days=6))
    assert notice.status == NoticeStatus.PUBLISHED
    assert "发放名单公示" in notice.title
    assert released.department.name in notice.objection_line
    event = AuditEvent.objects.get(action=AuditAction.NOTICE_PUBLISH)
    assert event.actor_id == clerk_a.pk and event.after["payout"] == released.code


def test_outsider_cannot_publish_another_departments_notice(released, outsider):
    with pytest.raises(PermissionDenied):
        notice_publish(payout=released, acting_user=outsider)
    assert not Notice.objects.exists()


def test_a_payout_still_in_draft_cannot_be_noticed(payout, clerk_a):
    with pytest.raises(ValidationError) as refused:
        notice_publish(payout=payout, acting_user=clerk_a)
    assert refused.value.code == "payout_not_approved"


def test_one_notice_in_force_per_payout_even_in_the_database(notice, clerk_a, released):
    with pytest.raises(ValidationError) as refused:
        notice_publish(payout=released, acting_user=clerk_a)
    assert refused.value.code == "notice_exists"
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(
            payout=released, title="x", published_from=notice.published_from, published_to=notice.published_to,
            objection_line="x", published_by=clerk_a,
        )  # fmt: skip


def test_a_notice_cannot_end_before_it_starts(released, clerk_a):
    today = timezone.localdate()
    with pytest.raises(ValidationError):
        notice_publish(
            payout=released, acting_user=clerk_a, published_from=today, published_to=today - dt.timedelta(days=1)
        )


def test_a_withdrawn_notice_disappears_from_the_public_and_a_new_one_may_follow(notice, clerk_a, client, released):
    with pytest.raises(ValidationError):
        notice_withdraw(notice=notice, reason=" ", acting_user=clerk_a)
    notice_withdraw(notice=notice, reason="名单有误，更正后重新公示。", acting_user=clerk_a)
    assert client.get(f"/notices/{notice.pk}/").status_code == 404
    with pytest.raises(ValidationError):
        notice_withdraw(notice=notice, reason="again", acting_user=clerk_a)
    assert AuditEvent.objects.filter(action=AuditAction.NOTICE_WITHDRAW).count() == 1
    again = notice_publish(payout=released, acting_user=clerk_a)
    assert client.get(f"/notices/{again.pk}/").status_code == 200


def test_outsider_cannot_withdraw_it(notice, outsider):
    with pytest.raises(PermissionDenied):
        notice_withdraw(notice=notice, reason="不是我的", acting_user=outsider)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED


# --- What the public reads ------------------------------------------------------------------------------


def test_the_notice_page_lists_everyone_masked_with_amounts_and_the_objection_line(client, notice, released):
    response = client.get(f"/notices/{notice.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert notice.objection_line in html
    payments = list(Payment.objects.filter(payout=released).select_related("recipient"))
    assert f"共 {len(payments)} 人" in html
    for payment in payments:
        assert payment.recipient.id_masked in html
        assert payment.recipient.name not in html or len(payment.recipient.name) == 1
    for number in full_ids(released):
        assert number not in html
    assert "public" in response["Cache-Control"]


def test_the_notice_can_be_read_per_township_and_village(client, notice, released, township):
    village = Region.objects.create(code=township.code + "201", name="幸福村", level="village", parent=township)
    other = Region.objects.create(code=township.code + "202", name="和平村", level="village", parent=township)
    payments = payments_of(released)
    Recipient.objects.filter(pk__in=[p.recipient_id for p in payments[:2]]).update(village=village)
    Recipient.objects.filter(pk=payments[2].recipient_id).update(village=other)
    in_village = client.get(f"/notices/{notice.pk}/", {"township": township.code, "village": village.code})
    page = in_village.content.decode()
    assert "共 2 人" in page
    assert "幸福村" in page and payments[0].recipient.id_masked in page
    assert payments[2].recipient.id_masked not in page
    in_township = client.get(f"/notices/{notice.pk}/", {"township": township.code}).content.decode()
    assert "共 3 人" in in_township
    assert f'<option value="{village.code}"' in in_township  # the villages to choose from
    # A village outside the township is ignored rather than trusted.
    elsewhere = client.get(f"/notices/{notice.pk}/", {"township": "999999999", "village": village.code})
    assert elsewhere.status_code == 200


def test_stopped_and_reissue_rows_are_not_listed_twice(notice, released):
    payments = payments_of(released)
    Payment.objects.filter(pk=payments[0].pk).update(status=PaymentStatus.CANCELLED)
    page = notice_page(notice)
    assert page.count == len(payments) - 1


def test_a_long_notice_is_paged(notice, released, monkeypatch):
    monkeypatch.setattr("disclosure.notices.ROWS_PER_PAGE", 3)
    first, last = notice_page(notice, page=1), notice_page(notice, page=99)
    assert len(first.rows) == 3
    assert last.page == last.pages == -(-first.count // 3)
    assert ROWS_PER_PAGE == 50


def test_the_notice_list_separates_current_from_finished_notices(client, notice, released, clerk_a):
    Notice.objects.filter(pk=notice.pk).update(published_from=dt.date(2026, 9, 1), published_to=dt.date(2026, 9, 7))
    html = client.get("/notices/").content.decode()
    finished = html.split("公示期已结束", 1)[1]
    assert notice.title in finished


def test_a_notice_set_to_start_later_is_not_public_yet(client, released, clerk_a):
    later = notice_publish(
        payout=released, acting_user=clerk_a, published_from=timezone.localdate() + dt.timedelta(days=3)
    )
    assert client.get(f"/notices/{later.pk}/").status_code == 404
    assert later.title not in client.get("/notices/").content.decode()


def test_the_public_api_gives_the_same_masked_rows(client, notice, released):
    listing = client.get("/api/v1/public/notices/").json()
    assert [item["id"] for item in listing] == [notice.pk]
    rows = client.get(f"/api/v1/public/notices/{notice.pk}/").json()
    assert rows["count"] == Payment.objects.filter(payout=released).count()
    assert all(re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", row["id_number"]) for row in rows["rows"])
    assert all("*" in row["name"] for row in rows["rows"])
    body = client.get(f"/api/v1/public/notices/{notice.pk}/").content.decode()
    assert not any(number in body for number in full_ids(released))
    bad = client.get(f"/api/v1/public/notices/{notice.pk}/", {"area": "41"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_filter"
    assert client.get("/api/v1/public/notices/999999/").status_code == 404


# --- Admin ---------------------------------------------------------------------------------------------


def test_the_clerk_publishes_and_withdraws_in_the_admin(login, released, clerk_a):
    client = login(clerk_a)
    today = timezone.localdate()
    response = client.post(
        "/admin/disclosure/notice/add/", {"payout": released.pk, "published_from": today.isoformat()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = Notice.objects.get(payout=released)
    again = client.post("/admin/disclosure/notice/add/", {"payout": released.pk, "published_from": today.isoformat()})
    assert "已有正在公示的名单" in again.content.decode()
    assert Notice.objects.count() == 1
    refused = client.post(f"/admin/disclosure/notice/{notice.pk}/change/", {"withdraw": "on", "withdrawn_reason": ""})
    assert "请填写撤回理由" in refused.content.decode()
    client.post(f"/admin/disclosure/notice/{notice.pk}/change/", {"withdraw": "on", "withdrawn_reason": "名单有误"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.WITHDRAWN and notice.withdrawn_by == clerk_a


def test_outsider_sees_no_payout_to_notice_in_the_admin(login, released, outsider, notice):
    client = login(outsider)
    assert client.get(f"/admin/disclosure/notice/{notice.pk}/change/").status_code in (302, 404)
    response = client.post(
        "/admin/disclosure/notice/add/", {"payout": released.pk, "published_from": timezone.localdate().isoformat()}
    )
    assert response.status_code == 200  # the form refuses the choice
    assert Notice.objects.count() == 1


# --- 制度文件 -------------------------------------------------------------------------------------------


def test_a_published_document_is_listed_and_downloadable_and_an_unpublished_one_is_not(client, clerk_a, department_a):
    shown = PublishedDocument(
        title="低保金发放管理细则", doc_number="二七民〔2025〕8号", department=department_a,
        issued_on=dt.date(2025, 6, 1), is_published=True,
    )  # fmt: skip
    shown.file.save("rules.pdf", ContentFile(b"%PDF-1.4 demo"), save=False)
    document_save(document=shown, acting_user=clerk_a)
    hidden = document_save(
        document=PublishedDocument(title="内部草稿", department=department_a, issued_on=dt.date(2025, 7, 1)),
        acting_user=clerk_a,
    )
    html = client.get("/documents/").content.decode()
    assert "低保金发放管理细则" in html and "二七民〔2025〕8号" in html
    assert "内部草稿" not in html
    assert client.get(f"/documents/{shown.pk}/file").status_code == 200
    assert client.get(f"/documents/{hidden.pk}/file").status_code == 404
    assert shown.published_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_PUBLISH).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_SAVE).count() == 1


def test_a_department_cannot_publish_in_another_departments_name(outsider, department_a):
    with pytest.raises(PermissionDenied):
        document_save(
            document=PublishedDocument(title="冒名文件", department=department_a, issued_on=dt.date(2025, 1, 1)),
            acting_user=outsider,
        )
    assert not PublishedDocument.objects.exists()


def test_unpublishing_is_recorded(clerk_a, department_a, client):
    document = document_save(
        document=PublishedDocument(
            title="旧细则", department=department_a, issued_on=dt.date(2024, 1, 1), is_published=True
        ),
        acting_user=clerk_a,
    )
    before = {"is_published": True}
    document.is_published = False
    document_save(document=document, acting_user=clerk_a, before=before)
    assert document.published_at is None
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_UNPUBLISH).count() == 1
    assert "旧细则" not in client.get("/documents/").content.decode()


def test_paid_rows_stay_on_the_notice(notice, released):
    bank_pays(payments_of(released))
    assert notice_page(notice).count == Payment.objects.filter(payout=released).count()
    assert Payout.objects.get(pk=released.pk).status == "released"
