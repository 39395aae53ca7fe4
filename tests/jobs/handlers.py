"""Job kinds used only by tests: one that counts, one that fails with a code, one that crashes."""

from jobs.registry import JobError, job_handler


@job_handler("test.count")
def count(*, job, progress):
    total = int(job.params.get("n", 3))
    for done in range(1, total + 1):
        progress(done, total)
    return {"counted": total}


@job_handler("test.refuse")
def refuse(*, job, progress):
    raise JobError("test_refused", "测试任务拒绝执行")


@job_handler("test.crash")
def crash(*, job, progress):
    raise ZeroDivisionError("boom")
