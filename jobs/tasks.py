"""Celery doors for jobs: they take ids, call a service, and are safe to run twice."""

from celery import shared_task

from jobs.services import job_run, jobs_requeue_stale


@shared_task(name="jobs.run", acks_late=True)
def run_job(job_id: int) -> str | None:
    job = job_run(job_id=job_id)
    return job.status if job is not None else None


@shared_task(name="jobs.requeue_stale")
def requeue_stale_jobs() -> int:
    return len(jobs_requeue_stale())
