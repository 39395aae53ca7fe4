"""The public read-only policy API as an anonymous client sees it: years, entries, filters, errors, secrecy."""

from __future__ import annotations

import json

import pytest

from policies.models import PolicyEntry
from policies.selectors import public_entries
from tests.disclosure.helpers import demo_lists_seeded, entry, publish_new_list, secret_entry
from tests.policies.factories import entry_values

API = "/api/v1/public"
CITY_DIBAO = "城市居民最低生活保障金"
ENTRY_KEYS = {
    "code",
    "year",
    "name",
    "short_name",
    "department",
    "level",
    "beneficiary",
    "target_group",
    "standard_kind",
    "standard_amount",
    "standard_unit",
    "quantity_unit",
    "frequency",
    "min_age",
    "max_age",
    "excludes_public_employees",
    "valid_from",
    "valid_to",
    "status",
    "contact_office",
    "contact_phone",
    "basis",
}


@pytest.fixture(scope="module", autouse=True)
def _demo(django_db_setup, django_db_blocker):
    with demo_lists_seeded(django_db_blocker):
        yield


@pytest.fixture(autouse=True)
def _each_test_in_a_savepoint(db):
    """Everything a test adds is rolled back to the seeded demo lists."""


def _get(client, path, status=200, **params):
    response = client.get(f"{API}{path}", params)
    assert response.status_code == status, response.content
    return response.json()


def _names(body) -> list[str]:
    return [item["name"] for item in body["results"]]


# --- Years -------------------------------------------------------------------------------------


def test_anyone_can_list_the_published_years_with_their_public_policy_count(client):
    body = _get(client, "/policy-lists/")

    assert [item["year"] for item in body] == [2026, 2025]
    current = body[0]
    assert current["title"] == "2026年惠民惠农财政补贴政策清单"
    assert current["published_at"]
    assert current["entry_count"] == public_entries(year=2026).count()
    assert current["entry_count"] == PolicyEntry.objects.filter(policy_list__year=2026).count() - 1  # the secret one


# --- The list of policies ----------------------------------------------------------------------


def test_the_policy_list_gives_the_current_years_public_policies_page_by_page(client):
    body = _get(client, "/policies/")

    assert body["count"] == public_entries(year=2026).count()
    assert len(body["results"]) == body["count"]  # under the page size of 100
    assert {item["year"] for item in body["results"]} == {2026}
    assert set(body["results"][0]) == ENTRY_KEYS

    first_page = _get(client, "/policies/", limit=10)
    assert len(first_page["results"]) == 10
    assert "offset=10" in first_page["next"]


def test_a_policy_in_the_list_carries_its_standard_department_and_basis(client):
    item = entry(2026, CITY_DIBAO)
    body = _get(client, "/policies/", q=CITY_DIBAO)

    assert body["count"] == 1
    policy = body["results"][0]
    assert policy["code"] == item.policy.code
    assert policy["standard_amount"] == "580.00"
    assert policy["standard_unit"] == "元/人·月"
    assert policy["standard_kind"] == "fixed"
    assert policy["frequency"] == "monthly"
    assert policy["level"] == "central"
    assert policy["beneficiary"] == "person"
    assert policy["department"] == {"code": "mz", "name": "二七区民政局"}
    assert policy["contact_phone"] == "0371-68000001"
    assert policy["basis"] == {
        "title": item.basis_title,
        "number": item.basis_number,
        "issuer": "财政部",
        "date": item.basis_date.isoformat(),
    }


def test_a_past_year_still_gives_its_own_standard(client):
    past = _get(client, "/policies/", year=2025, q=CITY_DIBAO)["results"][0]
    current = _get(client, "/policies/", year=2026, q=CITY_DIBAO)["results"][0]

    assert (past["year"], past["standard_amount"]) == (2025, "560.00")
    assert (current["year"], current["standard_amount"]) == (2026, "580.00")
    assert "惠民殡葬补贴" in _names(_get(client, "/policies/", year=2025, q="殡葬"))
    assert _get(client, "/policies/", year=2026, q="殡葬")["count"] == 0


def test_filters_by_department_level_target_and_keyword_narrow_the_list(client):
    by_department = _get(client, "/policies/", department="nync")
    by_level = _get(client, "/policies/", level="county")
    by_target = _get(client, "/policies/", target="老年人")
    combined = _get(client, "/policies/", department="mz", level="central", q="低保")

    assert by_department["count"] == public_entries(year=2026, department="nync").count() > 0
    assert {item["department"]["code"] for item in by_department["results"]} == {"nync"}
    assert by_level["count"] == public_entries(year=2026, level="county").count() > 0
    assert {item["level"] for item in by_level["results"]} == {"county"}
    assert by_target["count"] > 0
    assert all("老年人" in item["target_group"] for item in by_target["results"])
    assert sorted(_names(combined)) == sorted([CITY_DIBAO, "农村居民最低生活保障金"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"level": "galactic"}, "level"),
        ({"year": "twenty"}, "year"),
        ({"year": "1999"}, "year"),
        ({"department": "no-such-dept"}, "department"),
        ({"department": "<script>"}, "department"),
        ({"q": "x" * 51}, "q"),
    ],
)
def test_an_unknown_filter_value_is_a_400_with_a_machine_readable_code(client, params, field):
    body = _get(client, "/policies/", status=400, **params)

    assert body["code"] == "invalid_filter"
    assert field in body["errors"]


def test_a_bad_year_on_one_policy_is_a_400_too(client):
    code = entry(2026, CITY_DIBAO).policy.code
    assert _get(client, f"/policies/{code}/", status=400, year="next")["code"] == "invalid_filter"


def test_an_unpublished_year_is_not_found(client):
    code = entry(2026, CITY_DIBAO).policy.code
    assert PolicyEntry.objects.filter(policy_list__year=2027, policy__code=code).exists()  # the 2027 draft holds it

    assert _get(client, "/policies/", status=404, year=2027)["code"] == "not_found"
    assert _get(client, f"/policies/{code}/", status=404, year=2027)["code"] == "not_found"
    assert _get(client, "/policies/", status=404, year=2024)["code"] == "not_found"
    assert 2027 not in [item["year"] for item in _get(client, "/policy-lists/")]


# --- One policy --------------------------------------------------------------------------------


def test_one_policy_is_given_for_the_current_year_or_the_year_asked(client):
    code = entry(2026, CITY_DIBAO).policy.code

    current = _get(client, f"/policies/{code}/")
    past = _get(client, f"/policies/{code}/", year=2025)

    assert set(current) == ENTRY_KEYS
    assert (current["code"], current["year"], current["standard_amount"]) == (code, 2026, "580.00")
    assert (past["year"], past["standard_amount"]) == (2025, "560.00")


def test_a_secret_policy_is_the_same_404_as_an_unknown_code(client):
    secret = secret_entry()

    hidden = client.get(f"{API}/policies/{secret.policy.code}/")
    unknown = client.get(f"{API}/policies/NO-SUCH-99/")

    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json() == {"detail": "未找到该政策。", "code": "not_found"}


# --- Secrecy -----------------------------------------------------------------------------------


def _dump(client, path, **params) -> str:
    return json.dumps(_get(client, path, **params), ensure_ascii=False)


def test_a_secret_policy_is_in_no_response_of_its_year(client):
    secret = secret_entry()
    responses = [
        _dump(client, "/policy-lists/"),
        _dump(client, "/policies/"),
        _dump(client, "/policies/", year=2026),
        _dump(client, "/policies/", department=secret.department.code),
        _dump(client, "/policies/", q=secret.name),
        _dump(client, "/policies/", q=secret.policy.code),
        _dump(client, "/policies/", target=secret.target_group),
    ]
    for body in responses:
        assert secret.name not in body
        assert secret.policy.code not in body


def test_a_policy_that_was_never_public_is_in_no_year(client, finance_admin, finance_reviewer):
    department = entry(2026, "烈士遗属定期抚恤金").department
    publish_new_list(
        finance_admin=finance_admin,
        finance_reviewer=finance_reviewer,
        year=2027,
        entries=[("TY-90", entry_values(department, name="某涉密补助", is_secret=True))],
    )

    lists = _get(client, "/policy-lists/")
    assert lists[0]["year"] == 2027
    assert lists[0]["entry_count"] == public_entries(year=2027).count()
    for year in (2025, 2026, 2027):
        body = _dump(client, "/policies/", year=year)
        assert "某涉密补助" not in body
        assert "TY-90" not in body
    assert _get(client, "/policies/TY-90/", status=404)["code"] == "not_found"
    assert _get(client, "/policies/", q="某涉密补助")["count"] == 0


# --- The door itself ---------------------------------------------------------------------------


def test_the_public_api_needs_no_login_and_takes_no_writes(client, login, clerk_a):
    assert client.post(f"{API}/policies/", {"name": "x"}).status_code == 405
    assert client.delete(f"{API}/policies/MZ-01/").status_code == 405
    signed_in = login(clerk_a)
    assert signed_in.get(f"{API}/policies/").json()["count"] == public_entries(year=2026).count()


def test_the_schema_describes_the_public_endpoints_in_chinese(client):
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)

    paths = schema["paths"]
    assert {"/api/v1/public/policy-lists/", "/api/v1/public/policies/", "/api/v1/public/policies/{code}/"} <= set(paths)
    listing = paths["/api/v1/public/policies/"]["get"]
    assert listing["summary"].startswith("公开的补贴政策列表")
    assert {p["name"] for p in listing["parameters"]} >= {"year", "department", "level", "target", "q"}
    assert listing["security"] == [{}] or "security" not in listing
    assert paths["/api/v1/public/policy-lists/"]["get"]["summary"] == "已公布的年度政策清单"
    assert paths["/api/v1/public/policies/{code}/"]["get"]["summary"] == "一项公开的补贴政策"
    assert "404" in paths["/api/v1/public/policies/{code}/"]["get"]["responses"]
