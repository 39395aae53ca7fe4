"""No public page or public API answer shows an unmasked ID or account number of the demo data.

The demo is seeded as `make run` seeds it; then everything the public can reach is read: every page linked from the
home page (followed to the end), every notice page by township and village and page, the public API, complaint
status pages, and the personal lookup of a real demo person. Every body is searched for every full ID and account
number the database holds, and for anything shaped like a valid ID number at all.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlparse

import pytest
from django.core.management import call_command

from disbursement.models import Payment
from disclosure.demo import demo_person
from disclosure.models import Complaint, Notice
from org.models import Region
from recipients.models import Recipient, RecipientAccount
from yikatong import pii
from yikatong.domain.citizen_id import calc_check_char

pytestmark = pytest.mark.django_db

_HREF = re.compile(r'href="([^"]+)"')
# 18 characters not embedded in a longer run of letters or digits: anything an ID number could be.
_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9X](?![0-9A-Za-z])")
SKIP_PREFIXES = ("/admin/", "/static/", "/api/docs", "/api/schema", "/media/")


def _secrets() -> set[str]:
    ids = {pii.decrypt(bytes(c), purpose="id_number") for c in Recipient.objects.values_list("id_cipher", flat=True)}
    accounts = {
        pii.decrypt(bytes(c), purpose="account")
        for c in RecipientAccount.objects.values_list("account_cipher", flat=True)
    }
    accounts |= {
        pii.decrypt(bytes(c), purpose="account") for c in Payment.objects.values_list("account_cipher", flat=True)
    }
    return ids | accounts


def _crawl(client, start: list[str], limit: int = 400) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = list(start)
    while queue and len(seen) < limit:
        url = urldefrag(queue.pop(0))[0]
        if url in seen or not url.startswith("/") or url.startswith(SKIP_PREFIXES):
            continue
        response = client.get(url)
        body = response.content.decode("utf-8", errors="replace") if response.status_code != 302 else ""
        seen[url] = body
        if "html" in response.get("Content-Type", ""):
            for href in _HREF.findall(body):
                href = href.replace("&amp;", "&")
                if href.startswith("?"):
                    href = urlparse(url).path + href
                queue.append(href)
    return seen


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_no_public_page_or_answer_shows_a_full_id_or_account_number(client, demo):
    secrets = _secrets()
    assert len(secrets) > 300  # the demo's people and accounts are all there to look for

    start = ["/", "/notices/", "/documents/", "/policies/", "/lookup/", "/complaints/", "/complaints/status/"]
    for notice in Notice.objects.all():
        region = notice.payout.region
        for township in Region.objects.filter(level="township", code__startswith=region.code):
            start.append(f"/notices/{notice.pk}/?township={township.code}")
            for village in township.children.all()[:3]:
                start.append(f"/notices/{notice.pk}/?township={township.code}&village={village.code}")
        start += [f"/api/v1/public/notices/{notice.pk}/?page={page}" for page in range(1, 8)]
    start += ["/api/v1/public/notices/", "/api/v1/public/policies/", "/api/v1/public/policy-lists/"]
    start += [f"/complaints/{number}/" for number in Complaint.objects.values_list("tracking_no", flat=True)]
    bodies = _crawl(client, start)
    assert len(bodies) > 40
    assert any("/notices/" in url and "page=2" in url for url in bodies)  # the crawler followed the pager

    name, id_number = demo_person()
    page = client.post("/lookup/", {"name": name, "id_number": id_number}).content.decode()
    api = client.post("/api/v1/public/lookup/", {"name": name, "id_number": id_number}, content_type="application/json")
    bodies["POST /lookup/"] = page
    bodies["POST /api/v1/public/lookup/"] = api.content.decode()
    assert "已发放到账" in page and api.json()["found"] is True  # the lookup did find the person

    masked_seen = 0
    for url, body in bodies.items():
        leaked = [secret for secret in secrets if secret in body]
        assert not leaked, f"{url} shows {len(leaked)} full ID or account number(s)"
        for candidate in _ID_SHAPED.findall(body):
            assert calc_check_char(candidate[:17]) != candidate[17], f"{url} shows something that is an ID number"
        masked_seen += body.count("********")
    assert masked_seen > 300  # the notices did list the people, masked
