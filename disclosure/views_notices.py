"""发放公示 and 制度文件, the public pages. Every row is masked by disclosure.notices before it gets here."""

from __future__ import annotations

import re

from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from disclosure.notices import notice_areas, notice_page, public_documents, public_notices

# Notices change only when published or withdrawn; a short shared cache is safe and keeps the pages fast.
NOTICE_MAX_AGE = 120
_TOWNSHIP = re.compile(r"^[0-9]{9}$")
_VILLAGE = re.compile(r"^[0-9]{12}$")


def _not_found(request):
    return render(request, "disclosure/notice_not_found.html", {"nav": "notices"}, status=404)


@require_GET
@cache_control(public=True, max_age=NOTICE_MAX_AGE)
def notice_list(request):
    today = timezone.localdate()
    notices = list(public_notices())
    current = [n for n in notices if n.published_to >= today]
    past = [n for n in notices if n.published_to < today]
    return render(request, "disclosure/notice_list.html", {"nav": "notices", "current": current, "past": past})


@require_GET
@cache_control(public=True, max_age=NOTICE_MAX_AGE)
def notice_detail(request, pk: int):
    notice = public_notices().filter(pk=pk).first()
    if notice is None:
        return _not_found(request)
    township = request.GET.get("township", "")
    village = request.GET.get("village", "")
    township = township if _TOWNSHIP.match(township) else ""
    village = village if township and _VILLAGE.match(village) and village.startswith(township) else ""
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    townships, villages = notice_areas(notice, township)
    page = notice_page(notice, area=village or township, page=page_number)
    return render(
        request,
        "disclosure/notice_detail.html",
        {
            "nav": "notices",
            "notice": notice,
            "in_period": notice.in_period(),
            "page": page,
            "townships": townships,
            "villages": villages,
            "township": township,
            "village": village,
        },
    )


@require_GET
@cache_control(public=True, max_age=NOTICE_MAX_AGE)
def document_list(request):
    return render(request, "disclosure/document_list.html", {"nav": "documents", "documents": public_documents()})


@require_GET
@cache_control(public=True, max_age=NOTICE_MAX_AGE)
def document_file(request, pk: int):
    document = public_documents().filter(pk=pk).first()
    if document is None or not document.file:
        return _not_found(request)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        return _not_found(request)
    return FileResponse(handle, as_attachment=False, filename=document.file.name.rsplit("/", 1)[-1])
