import datetime as dt

import pytest
from django.utils import timezone

import tests.jobs.handlers  # noqa: F401  (registers the test job kinds)
from audit.models import AuditEvent
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.registry import JobError
from jobs.services import job_claim, job_enqueue, job_run, jobs_requeue_stale


def test_an_enqueued_job_runs_after_commit_and_records_its_counts(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.count", params={"n": 4}, department_id=clerk_a.department_id)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (4, 4, 100)
    assert job.counts == {"counted": 4}
    assert job.attempts == 1
    actions = list(
        AuditEvent.objects.filter(object_type="jobs.job", object_id=str(job.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["job.enqueue", "job.finish"]


def test_a_job_is_not_sent_to_a_worker_before_its_row_is_committed(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_enqueue(acting_user=clerk_a, kind="test.count")
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_an_unknown_job_kind_is_refused_at_once(clerk_a):
    with pytest.raises(JobError) as caught:
        job_enqueue(acting_user=clerk_a, kind="no.such.kind")
    assert caught.value.code == "job_kind_unknown"
    assert not Job.objects.exists()


def test_a_job_failure_keeps_its_code_and_message(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.refuse")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "test_refused"
    assert job.error_message == "测试任务拒绝执行"


def test_a_crash_is_reported_without_leaking_details(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.crash")
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_message) == (JobStatus.FAILED, "internal_error", "ZeroDivisionError")


def test_a_job_is_claimed_once_even_when_delivered_twice(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = job_enqueue(acting_user=clerk_a, kind="test.count")
    assert job_claim(job_id=job.pk) is True
    assert job_claim(job_id=job.pk) is False
    assert job_run(job_id=job.pk) is None  # the second delivery finds nothing to do
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)


def test_a_job_whose_worker_died_is_taken_again_and_finished(clerk_a, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = job_enqueue(acting_user=clerk_a, kind="test.count")
    assert job_claim(job_id=job.pk)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)

    assert jobs_requeue_stale() == [job.pk]  # eager tasks: the requeued job runs right here
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)


def test_a_finished_job_is_never_run_again(clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.count")
    assert job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1


def test_the_clerk_follows_their_job_over_the_api(login, clerk_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.count", department_id=clerk_a.department_id)
    response = login(clerk_a).get(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert response.json()["percent"] == 100


def test_outsider_cannot_see_another_departments_job(login, clerk_a, outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.count", department_id=clerk_a.department_id)
    client = login(outsider)
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert client.get("/api/v1/jobs/").json()["results"] == []


def test_an_auditor_sees_every_job(login, clerk_a, auditor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(acting_user=clerk_a, kind="test.count", department_id=clerk_a.department_id)
    ids = [item["id"] for item in login(auditor).get("/api/v1/jobs/").json()["results"]]
    assert ids == [job.pk]
