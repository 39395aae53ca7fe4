"""个人查询: a person finds their own payments by name and ID; nobody finds anyone else's; limits hold."""

from __future__ import annotations

import re

import pytest
from django.core import signing

from disbursement.enums import PaymentStatus
from disbursement.models import Payment
from disclosure.challenge import challenge_new, challenge_passed
from disclosure.lookup import person_payments
from tests.disbursement.test_corrections import bank_fails, bank_pays, payments_of, release_payout
from yikatong import pii
from yikatong.domain.citizen_id import calc_check_char

pytestmark = pytest.mark.django_db

LOOKUP = "/lookup/"
API = "/api/v1/public/lookup/"


@pytest.fixture
def released(payout, clerk_a, finance_admin, roster_file, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return release_payout(
        payout,
        clerk=clerk_a,
        finance=finance_admin,
        roster_file=roster_file,
        capture=django_capture_on_commit_callbacks,
    )


@pytest.fixture
def paid(released):
    """Payments 0–1 failed (卡号已注销), the rest paid."""
    payments = payments_of(released)
    bank_fails(payments[:2])
    bank_pays(payments[2:])
    return released


def person(payment: Payment) -> tuple[str, str]:
    return payment.recipient.name, pii.decrypt(bytes(payment.recipient.id_cipher), purpose="id_number")


def other_valid_id(number: str) -> str:
    """Another valid ID: the same birth date, the next sequence number."""
    first17 = number[:14] + f"{(int(number[14:17]) + 2) % 1000:03d}"
    return first17 + calc_check_char(first17)


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def post(client, name, id_number, **extra):
    return client.post(LOOKUP, {"name": name, "id_number": id_number, **extra})


def test_a_person_sees_their_payment_with_amount_status_account_tail_and_department(client, paid, department_a):
    payment = payments_of(paid, PaymentStatus.PAID)[0]
    name, id_number = person(payment)
    response = post(client, name, id_number)
    html = response.content.decode()
    assert response.status_code == 200
    text = visible_text(html)
    assert "已发放到账" in text
    assert f"{payment.amount} 元" in text
    assert f"尾号 {payment.account_masked[-4:]}" in text
    assert department_a.name in text
    assert id_number not in html  # the page echoes the masked ID only
    assert id_number[:6] + "********" + id_number[-4:] in html
    assert response["Cache-Control"] == "no-store" or "no-store" in response["Cache-Control"]


def test_a_failed_payment_shows_the_reason_and_what_to_do(client, paid):
    payment = payments_of(paid, PaymentStatus.FAILED)[0]
    text = visible_text(post(client, *person(payment)).content.decode())
    assert "发放未成功" in text
    assert "卡号已注销" in text
    assert "怎么办" in text and "补发" in text


def test_a_wrong_name_and_an_unknown_id_get_the_same_answer(client, paid):
    payment = payments_of(paid, PaymentStatus.PAID)[0]
    name, id_number = person(payment)
    wrong_name = post(client, name + "某", id_number).content.decode()
    unknown = post(client, name, other_valid_id(id_number)).content.decode()

    def answer(html):
        box = re.search(r'<section class="lookup-result".*?</section>', html, re.S).group(0)
        return re.sub(r'<span data-testid="who">.*?</span>', "", box, flags=re.S)

    assert "未查询到" in answer(wrong_name)
    assert answer(wrong_name) == answer(unknown)


def test_the_api_answers_a_wrong_name_exactly_like_an_unknown_id(client, paid):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    wrong = client.post(API, {"name": "李四", "id_number": id_number}, content_type="application/json")
    unknown = client.post(API, {"name": name, "id_number": other_valid_id(id_number)}, content_type="application/json")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.json() == unknown.json() == {"found": False, "year": None, "payments": []}


def test_both_misses_run_the_same_single_query(paid, django_assert_num_queries):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    with django_assert_num_queries(1) as wrong:
        assert person_payments(name="李四", id_number=id_number) == []
    with django_assert_num_queries(1) as unknown:
        assert person_payments(name=name, id_number=other_valid_id(id_number)) == []
    # Same SQL text but for the bound values: nothing in how the query is built depends on which case it is.
    assert len(wrong.captured_queries[0]["sql"]) - len(unknown.captured_queries[0]["sql"]) in range(-8, 9)


def test_an_id_with_a_bad_check_digit_is_refused_before_anything_is_queried(client, paid, django_assert_num_queries):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    bad = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    with django_assert_num_queries(0):
        response = client.post(API, {"name": name, "id_number": bad}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["id_number"][0]["code"] == "id_checksum"
    page = post(client, name, bad).content.decode()
    assert "校验位不符" in page
    assert bad not in page  # what was typed is not written back


def test_a_year_narrows_the_answer(client, paid):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    this_year = client.post(API, {"name": name, "id_number": id_number, "year": 2026}, content_type="application/json")
    last_year = client.post(API, {"name": name, "id_number": id_number, "year": 2025}, content_type="application/json")
    assert this_year.json()["found"] is True
    assert [p["period"] for p in this_year.json()["payments"]] == ["2026-11"]
    assert last_year.json() == {"found": False, "year": 2025, "payments": []}


def test_drafts_are_not_shown_to_the_public(client, payout, roster_file, upload):
    path, _rows = roster_file(3)
    upload(path)
    payment = Payment.objects.filter(payout=payout).first()
    assert payment.status == PaymentStatus.DRAFT
    response = client.post(
        API, dict(zip(("name", "id_number"), person(payment), strict=True)), content_type="application/json"
    )
    assert response.json()["found"] is False


def test_nothing_personal_is_in_the_url_the_form_posts_to(client):
    page = client.get(LOOKUP).content.decode()
    assert re.search(r'<form method="post" action="/lookup/"', page)
    assert client.get(LOOKUP + "?name=张三&id_number=1").status_code == 200  # a GET never queries
    assert "lookup-result" not in client.get(LOOKUP + "?name=张三&id_number=1").content.decode()


# --- Limits and the challenge ----------------------------------------------------------------------------


def test_after_three_lookups_the_next_one_needs_the_challenge(client, paid):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    for _ in range(3):
        assert (
            client.post(API, {"name": name, "id_number": id_number}, content_type="application/json").status_code == 200
        )
    challenged = client.post(API, {"name": name, "id_number": id_number}, content_type="application/json")
    assert challenged.status_code == 403
    body = challenged.json()
    assert body["code"] == "challenge_required"
    a, b = map(int, re.findall(r"\d+", body["challenge"]["question"]))
    wrong = client.post(
        API,
        {"name": name, "id_number": id_number, "challenge_token": body["challenge"]["token"], "challenge_answer": "99"},
        content_type="application/json",
    )
    assert wrong.status_code == 403
    fresh = wrong.json()["challenge"]
    a, b = map(int, re.findall(r"\d+", fresh["question"]))
    answered = client.post(
        API,
        {"name": name, "id_number": id_number, "challenge_token": fresh["token"], "challenge_answer": str(a + b)},
        content_type="application/json",
    )
    assert answered.status_code == 200 and answered.json()["found"] is True
    replayed = client.post(
        API,
        {"name": name, "id_number": id_number, "challenge_token": fresh["token"], "challenge_answer": str(a + b)},
        content_type="application/json",
    )
    assert replayed.status_code == 403  # a solved challenge is good once


def test_the_page_shows_the_challenge_before_the_fourth_lookup(client, paid):
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    for _ in range(3):
        post(client, name, id_number)
    page = client.get(LOOKUP).content.decode()
    question = re.search(r"验证问题：(\d+) 加 (\d+) 等于几", page)
    token = re.search(r'name="challenge_token" value="([^"]+)"', page).group(1)
    answer = str(int(question.group(1)) + int(question.group(2)))
    result = post(client, name, id_number, challenge_token=token, challenge_answer=answer).content.decode()
    assert "已发放到账" in result


def test_one_address_is_refused_past_its_hourly_limit(client, paid, settings):
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "lookup_ip": "5/h", "lookup_challenge": "100/h"}
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    codes = [
        client.post(API, {"name": name, "id_number": id_number}, content_type="application/json").status_code
        for _ in range(7)
    ]
    assert codes == [200] * 5 + [429, 429]
    refused = client.post(API, {"name": name, "id_number": id_number}, content_type="application/json")
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert post(client, name, id_number).status_code == 429


def test_one_id_is_refused_past_its_daily_limit_whatever_the_address(client, paid, settings):
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "lookup_id": "3/d", "lookup_challenge": "100/h"}
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    codes = [
        client.post(
            API, {"name": name, "id_number": id_number}, content_type="application/json", REMOTE_ADDR=f"10.0.0.{i}"
        ).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    # Another person from the same addresses is still answered.
    other = person(payments_of(paid, PaymentStatus.PAID)[1])
    assert (
        client.post(
            API, dict(zip(("name", "id_number"), other, strict=True)), content_type="application/json"
        ).status_code
        == 200
    )


def test_behind_a_trusted_proxy_the_limit_follows_the_true_client(client, paid, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "lookup_ip": "2/h", "lookup_challenge": "100/h"}
    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])

    def ask(forwarded):
        return client.post(
            API, {"name": name, "id_number": id_number}, content_type="application/json", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [ask("1.1.1.1"), ask("1.1.1.1"), ask("1.1.1.1")] == [200, 200, 429]
    # A client cannot dodge it by writing its own X-Forwarded-For entry in front: the proxy's entry counts.
    assert ask("9.9.9.9, 1.1.1.1") == 429
    assert ask("2.2.2.2") == 200


def test_a_challenge_token_cannot_be_forged_or_reused():
    challenge = challenge_new()
    a, b = map(int, re.findall(r"\d+", challenge.question))
    assert not challenge_passed(challenge.token, str(a + b + 1))
    assert not challenge_passed(challenge.token[:-2] + "xx", str(a + b))
    assert challenge_passed(challenge.token, str(a + b))
    assert not challenge_passed(challenge.token, str(a + b))
    # What the client holds is a nonce and a keyed digest: the answer itself is not in the token.
    payload = signing.loads(challenge.token, salt="disclosure.challenge")
    assert set(payload) == {"n", "d"} and len(payload["d"]) == 32


def test_the_id_never_reaches_the_cache_or_the_logs(client, paid, caplog, settings):
    from django.core.cache import cache

    name, id_number = person(payments_of(paid, PaymentStatus.PAID)[0])
    bad = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    with caplog.at_level("DEBUG"):
        post(client, name, id_number)
        client.post(API, {"name": name, "id_number": bad}, content_type="application/json")
    assert id_number not in caplog.text and bad not in caplog.text
    keys = []
    backend = getattr(cache, "_cache", None)
    if hasattr(backend, "keys") and not callable(getattr(backend, "get_client", None)):
        keys = list(backend.keys())  # LocMem
    else:
        client_ = cache._cache.get_client()
        keys = [key.decode() for key in client_.keys("*")]
    assert keys  # the limits were counted
    assert not any(id_number in key or name in key for key in keys)
