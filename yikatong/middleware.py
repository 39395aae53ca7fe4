"""Cross-cutting HTTP concerns: request ids, upload size limits, and no caching of personal data."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

from yikatong.requestctx import request_id_var

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Give every request an id (a sane incoming X-Request-ID is kept) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class UploadSizeLimitMiddleware:
    """Refuse a body larger than MAX_UPLOAD_MB before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024
        if length > limit:
            return JsonResponse(
                {
                    "code": "upload_too_large",
                    "detail": _("上传内容过大：上限为 %(mb)s MB。") % {"mb": settings.MAX_UPLOAD_MB},
                },
                status=413,
            )
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing is cached unless a view says it may be: pages here may carry personal data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
