"""The demo county's published lists, seeded once per test module, and the questions public tests ask of them."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator

from django.db import transaction
from openpyxl import load_workbook

from policies.enums import ListStatus
from policies.models import PolicyEntry, PolicyList
from policies.services import policy_entry_create, policy_list_publish, policy_list_start, policy_list_submit


@contextlib.contextmanager
def demo_lists_seeded(django_db_blocker) -> Iterator[None]:
    """Seed 2025 and 2026 (≈2 s) once; every test runs in a savepoint inside, and all is rolled back at the end."""
    from org.demo import seed_organisation
    from policies.demo import seed_policy_lists

    with django_db_blocker.unblock(), transaction.atomic():
        seed_organisation()
        seed_policy_lists()
        yield
        transaction.set_rollback(True)


def secret_entry() -> PolicyEntry:
    return PolicyEntry.objects.select_related("policy").get(policy_list__year=2026, is_secret=True)


def entry(year: int, name: str) -> PolicyEntry:
    return PolicyEntry.objects.select_related("policy").get(policy_list__year=year, name=name)


def draft_list(*, finance_admin, year: int) -> PolicyList:
    """The year's draft: the demo opens next year's already; otherwise start it as finance would."""
    existing = PolicyList.objects.filter(year=year, status=ListStatus.DRAFT).first()
    return existing or policy_list_start(acting_user=finance_admin, year=year)


def publish_new_list(*, finance_admin, finance_reviewer, year: int, entries: list[tuple[str, dict]]) -> PolicyList:
    """Next year's list: last year's entries plus the given (code, values) ones, submitted and published."""
    policy_list = draft_list(finance_admin=finance_admin, year=year)
    for code, values in entries:
        policy_entry_create(acting_user=finance_admin, policy_list=policy_list, code=code, values=values)
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    published = policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)
    assert published.status == ListStatus.PUBLISHED
    return published


def xlsx_rows(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM so that Excel reads Chinese"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
