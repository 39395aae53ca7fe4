"""Reading reference sources and loads as the asking user may see them, and a load's error report."""

from __future__ import annotations

from urllib.parse import quote

from checks.models import ReferenceIssue, ReferenceLoad, ReferenceSource
from checks.reference_rows import layout_for
from recipients.reports import problem_report_xlsx


def reference_sources_visible_to(user):
    """Sources of the user's own department (all of them for county-wide roles), with their current load."""
    return ReferenceSource.objects.visible_to(user).select_related("department", "policy", "current_load")


def reference_loads_visible_to(user):
    return ReferenceLoad.objects.visible_to(user).select_related("source", "job", "uploaded_by")


def reference_issues(load: ReferenceLoad):
    return ReferenceIssue.objects.filter(load=load).order_by("row", "id")


def reference_error_report_filename(load: ReferenceLoad) -> str:
    name = f"{load.source.name}-{load.as_of:%Y%m%d}-问题行-{load.pk}.xlsx"
    return f"attachment; filename=\"reference-{load.pk}-errors.xlsx\"; filename*=UTF-8''{quote(name)}"


def reference_error_report_xlsx(load: ReferenceLoad) -> bytes:
    """The uploader's own rows that need fixing. Like a roster's report it holds ID numbers as typed: it is the
    file the department corrects and sends again."""
    return problem_report_xlsx(
        issues=reference_issues(load),
        stored_file=load.stored_file,
        filename=load.filename,
        size=load.size,
        rows_read=load.rows_read,
        file_error=(load.file_error_code, load.file_error_message),
        layout=layout_for(load.source.kind),
    )
