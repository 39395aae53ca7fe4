"""Roster upload in the admin: the clerk's payout page, its upload form and the import's progress."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from disbursement.models import Payout
from recipients.models import Roster


def test_a_clerk_creates_a_payout_in_the_admin(login, clerk_a, published_policy, county):
    response = login(clerk_a).post("/admin/disbursement/payout/add/", {
        "policy": published_policy.pk, "period": "2026-12", "region": county.pk, "title": "",
        "budget_document": "二七财预〔2026〕90号", "budget_amount": "50000.00",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    payout = Payout.objects.get(period="2026-12")
    assert payout.code == f"{published_policy.code}-2026-12"
    assert payout.department == clerk_a.department
    assert payout.budget_amount == Decimal("50000.00")


def test_the_clerk_uploads_a_roster_on_the_payout_page_and_sees_its_progress(
    login, clerk_a, payout, roster_file, django_capture_on_commit_callbacks
):
    path, _rows = roster_file(6)
    client = login(clerk_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/disbursement/payout/{payout.pk}/upload/",
            {"file": SimpleUploadedFile(path.name, path.read_bytes())},
        )
    assert response.status_code == 302
    roster = Roster.objects.get()
    page = client.get(f"/admin/disbursement/payout/{payout.pk}/change/").content.decode()
    assert path.name in page
    assert f'data-job-url="/api/v1/jobs/{roster.job_id}/"' in page
    assert "6 条发放明细" in page
    assert "js/job-progress.js" in page


def test_outsider_cannot_open_or_upload_to_the_payout(login, outsider, payout, roster_file):
    path, _rows = roster_file(2)
    client = login(outsider)
    assert client.get(f"/admin/disbursement/payout/{payout.pk}/change/").status_code == 302
    response = client.post(
        f"/admin/disbursement/payout/{payout.pk}/upload/", {"file": SimpleUploadedFile(path.name, path.read_bytes())}
    )
    assert response.status_code == 404
    assert not Roster.objects.exists()
