"""The audit chain check as a job, so it can run on a worker against a large trail."""

from audit.services import audit_verify
from jobs.registry import JobError, job_handler


@job_handler("audit.verify")
def verify_chain(*, job, progress) -> dict:
    report = audit_verify()
    progress(report.checked, report.checked)
    if not report.ok:
        raise JobError("audit_chain_broken", f"审计链在第 {report.first_broken_id} 条记录处断开")
    return {"entries": report.checked}
