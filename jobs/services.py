"""Queueing, claiming, running and finishing jobs. Status moves only by conditional updates."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.registry import JobError, handler_for

logger = logging.getLogger(__name__)


def _stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)


def _dispatch(job_id: int) -> None:
    from jobs.tasks import run_job

    run_job.delay(job_id)


def job_enqueue(
    *,
    acting_user=None,
    kind: str,
    params: dict[str, Any] | None = None,
    target_type: str = "",
    target_id: str = "",
    department_id: int | None = None,
) -> Job:
    handler_for(kind)  # an unknown kind is refused now, not discovered by a worker later
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            params=params or {},
            target_type=target_type,
            target_id=str(target_id),
            department_id=department_id,
            created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
        )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.JOB_ENQUEUE,
            obj=job,
            after={"kind": kind, "target_type": target_type, "target_id": str(target_id)},
            department_id=department_id,
        )
        # Only once the row is committed may a worker look for it.
        transaction.on_commit(lambda: _dispatch(job.pk))
    return job


def job_claim(*, job_id: int) -> bool:
    """Take a queued job, or a running one whose worker stopped beating. True if this caller got it."""
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before())
    updated = Job.objects.filter(claimable, pk=job_id).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    return updated == 1


def job_progress(*, job_id: int, done: int, total: int | None = None, attempt: int | None = None) -> None:
    fields: dict[str, Any] = {"progress_done": done, "heartbeat_at": timezone.now()}
    if total is not None:
        fields["progress_total"] = total
    running = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING)
    if attempt is not None:
        # A run that was given up for dead and taken again must not keep the new run's job alive.
        running = running.filter(attempts=attempt)
    running.update(**fields)


def job_is_current(*, job, lock: bool = True) -> bool:
    """Whether this run still owns its job (nobody took it again as stale). With ``lock``, the job row stays
    locked until the caller's transaction ends, so a new run cannot start in between."""
    rows = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts)
    if lock:
        rows = rows.select_for_update()
    return rows.exists()


class JobSuperseded(Exception):
    """This run was given up for dead and the job taken again: stop without touching anything."""


@contextmanager
def owned(job):
    """A transaction in which this run still owns its job: every write of a long job goes through one, so a run
    taken over as stale can write nothing behind the new run's back. Raises `JobSuperseded` otherwise."""
    with transaction.atomic():
        if not job_is_current(job=job):
            raise JobSuperseded
        yield


def _finish(*, job: Job, status: str, counts: dict | None = None, code: str = "", message: str = "") -> bool:
    with transaction.atomic():
        # Only the run that owns the job may end it: a run taken over as stale ends silently.
        updated = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=status,
            counts=counts or {},
            error_code=code,
            error_message=message,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if updated == 1:
            audit_record(
                acting_user=job.created_by,
                action=AuditAction.JOB_FINISH if status == JobStatus.SUCCEEDED else AuditAction.JOB_FAIL,
                obj=job,
                after={"status": status, "counts": counts or {}, "error_code": code},
                department_id=job.department_id,
            )
    return updated == 1


def job_run(*, job_id: int) -> Job | None:
    """Run one job to its end. Safe to call twice: the second caller finds nothing to claim."""
    if not job_claim(job_id=job_id):
        logger.info("job %s not claimable (already taken or finished)", job_id)
        return None
    job = Job.objects.select_related("created_by").get(pk=job_id)

    def progress(done: int, total: int | None = None) -> None:
        job_progress(job_id=job_id, done=done, total=total, attempt=job.attempts)

    try:
        counts = handler_for(job.kind)(job=job, progress=progress)
    except JobError as exc:
        _finish(job=job, status=JobStatus.FAILED, code=exc.code, message=exc.message)
    except Exception as exc:
        logger.exception("job %s (%s) crashed", job_id, job.kind)
        _finish(job=job, status=JobStatus.FAILED, code="internal_error", message=type(exc).__name__)
    else:
        _finish(job=job, status=JobStatus.SUCCEEDED, counts=counts)
    job.refresh_from_db()
    return job


def jobs_requeue_stale() -> list[int]:
    """Send every job whose worker has gone quiet to a worker again; returns their ids."""
    stale_ids = list(
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before()).values_list("pk", flat=True)
    )
    stale_ids += list(
        Job.objects.filter(status=JobStatus.QUEUED, created_at__lt=_stale_before()).values_list("pk", flat=True)
    )
    for job_id in stale_ids:
        _dispatch(job_id)
    return stale_ids
