"""Test-only bank endpoints, so that the bank authentication and its per-call audit are tested without the real
bank API: ``@pytest.mark.urls("tests.banks.urls_for_auth")``. The project's own URLs stay mounted beside them."""

from __future__ import annotations

import hashlib

from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.auth import BankAPIMixin
from yikatong.urls import urlpatterns as project_urlpatterns


class EchoView(BankAPIMixin, APIView):
    """Says who called, and for a large body, what a streaming view must check: the declared SHA-256."""

    def get(self, request):
        return Response({"bank": self.bank.code, "token": request.auth.prefix})

    def post(self, request):
        # Whether the authenticator read the body (it must not, beyond DATA_UPLOAD_MAX_MEMORY_SIZE).
        read_before_view = request._request._read_started
        declared = request.declared_body_sha256
        digest = hashlib.sha256()
        for chunk in iter(lambda: request._request.read(1 << 20), b""):
            digest.update(chunk)
        return Response(
            {
                "bank": self.bank.code,
                "read_before_view": read_before_view,
                "declared_body_sha256": declared,
                "body_matches_declared": declared is None or digest.hexdigest() == declared,
            }
        )


class RefusingView(BankAPIMixin, APIView):
    """Answers every call with a 422 and an error code, as the results endpoint does for a bad submission."""

    def post(self, request):
        return Response(
            {"code": "results_mismatch", "detail": "合计金额不符。"}, status=status.HTTP_422_UNPROCESSABLE_ENTITY
        )


urlpatterns = [
    path("bank-test/echo/", EchoView.as_view(), name="bank-test-echo"),
    path("bank-test/refuse/", RefusingView.as_view(), name="bank-test-refuse"),
    *project_urlpatterns,
]
