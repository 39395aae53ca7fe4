"""Two imports at once on PostgreSQL: the registry stays one person per ID, one current account each."""

import contextlib
import threading
from decimal import Decimal

import pytest
from django.db import connections

from bench import synth
from disbursement.models import Payment
from disbursement.services import payout_create
from jobs.services import job_run
from recipients.models import Recipient, RecipientAccount, Roster
from recipients.services import roster_upload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_rosters_giving_the_same_people_different_new_cards_import_together(
    tmp_path, clerk_a, published_policy, county, monkeypatch
):
    # The two jobs are run below by two threads at once, as two workers would; nothing is sent to a queue.
    monkeypatch.setattr("jobs.services._dispatch", lambda job_id: None)
    county_data = synth.make_county(5, townships=2, villages_per_township=2)
    rows = list(synth.iter_roster_rows(5, county_data, 40))
    card_b = [dict(row) for row in rows]
    card_c = [dict(row) for row in rows]
    for i in range(20):  # the same 20 people change card in both rosters, to two different new cards
        card_b[i]["银行账号"] = f"62170000000001{i:05d}"
        card_c[i]["银行账号"] = f"62170000000002{i:05d}"
    paths = {}
    for name, content in (("a", rows), ("b", card_b), ("c", card_c)):
        paths[name] = tmp_path / f"{name}.xlsx"
        synth.write_roster_xlsx(content, paths[name])

    def upload(period, path):
        payout = payout_create(
            acting_user=clerk_a,
            policy=published_policy,
            period=period,
            region=county,
            budget_document="并发",
            budget_amount=Decimal("100000"),
        )
        return roster_upload(acting_user=clerk_a, payout=payout, filename=path.name, data=path.read_bytes())

    job_run(job_id=upload("2026-10", paths["a"]).job_id)  # everyone registered, with their old cards
    rosters = [upload("2026-11", paths["b"]), upload("2026-12", paths["c"])]  # committed, not yet run

    # Hold each import's transaction open after its SQL until the other one has reached the same point (or 2 s
    # have passed): without the registry lock the second would then make a new account current beside the first's.
    from recipients import importing, staging

    inside = threading.Barrier(2)
    original_apply = staging.apply_stage

    def apply_and_wait(**kwargs):
        counts = original_apply(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            inside.wait(timeout=2)
        return counts

    monkeypatch.setattr(importing.staging, "apply_stage", apply_and_wait)

    errors: list[BaseException] = []
    finished = []
    barrier = threading.Barrier(2)

    def run(job_id: int) -> None:
        try:
            barrier.wait()
            finished.append(job_run(job_id=job_id))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(roster.job_id,)) for roster in rosters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(job.status for job in finished) == ["succeeded", "succeeded"]  # both ran here, concurrently
    assert [Roster.objects.get(pk=r.pk).status for r in rosters] == ["imported", "imported"]
    assert Recipient.objects.count() == 40
    assert Payment.objects.count() == 120
    # One current account per person, whichever import committed second; every card ever used is kept.
    assert RecipientAccount.objects.filter(is_current=True).count() == 40
    assert RecipientAccount.objects.count() == 80
