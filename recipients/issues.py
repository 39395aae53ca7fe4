"""Row problems found by a long import job, written in batches, each batch only while the run owns its job.

Rosters (`RosterIssue`) and reference files (`checks.ReferenceIssue`) keep problems of the same shape: row,
column, code, message, warning. One writer serves both.
"""

from __future__ import annotations

from django.db import models

from jobs.services import owned

BATCH = 5000


class IssueWriter:
    def __init__(self, model: type[models.Model], *, owner: str, owner_id: int, job) -> None:
        self.model = model
        self.owner = owner  # the foreign key naming the file the issues belong to, e.g. "roster_id"
        self.owner_id = owner_id
        self.job = job
        self.pending: list[models.Model] = []
        self.errors = self.warnings = 0

    def add(self, issue) -> None:
        if issue.warning:
            self.warnings += 1
        else:
            self.errors += 1
        self.pending.append(
            self.model(
                **{self.owner: self.owner_id},
                row=issue.row,
                column=str(issue.column)[:60],
                code=issue.code,
                message=str(issue.message)[:200],
                warning=issue.warning,
            )
        )
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with owned(self.job):
            self.model.objects.bulk_create(self.pending)
        self.pending.clear()
