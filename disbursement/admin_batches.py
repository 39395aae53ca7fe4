"""Batches (代发批次) in the admin: the list and page of each batch, and the bank file's download for finance."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from disbursement.bankfile import batch_download_record, batch_file_bytes
from disbursement.batches import batches_visible_to, can_download_file
from disbursement.enums import PaymentStatus
from disbursement.models import Batch, Payment
from org.admin_mixins import ReadOnlyAdminMixin


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:,.2f}"


def batch_file_response(batch: Batch) -> HttpResponse:
    """The decrypted bank file as an attachment, checked against its recorded SHA-256 before it leaves."""
    data = batch_file_bytes(batch)
    if hashlib.sha256(data).hexdigest() != batch.file_sha256:
        raise RuntimeError(f"batch {batch.batch_no}: stored file does not match its recorded SHA-256")
    response = HttpResponse(data, content_type=f"text/plain; charset={batch.encoding}")
    response["Content-Disposition"] = content_disposition_header(True, f"{batch.batch_no}.txt")
    response["X-Content-SHA256"] = batch.file_sha256
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("batch_no", "payout", "bank", "payment_count", "total_yuan", "status", "sha256", "generated_at")
    list_filter = ("status", "bank")
    search_fields = ("batch_no", "payout__code")
    list_select_related = ("payout", "bank")
    fields = (
        "batch_no", "payout", "bank", "attempt", "status", "payment_count", "total_yuan", "encoding",
        "file_sha256", "detail_sha256", "file_size", "generated_at", "job", "created_by", "created_at", "file_link",
        "acknowledged_at", "first_result_at", "closed_at", "results_summary",
    )  # fmt: skip
    readonly_fields = (*fields, "file_note")

    def get_queryset(self, request):
        return batches_visible_to(request.user)

    @admin.display(description=_("金额（元）"), ordering="total_fen")
    def total_yuan(self, batch: Batch) -> str:
        return yuan(batch.total_fen)

    @admin.display(description=_("回盘情况"))
    def results_summary(self, batch: Batch) -> str:
        counts = dict(
            Payment.objects.filter(batch_id=batch.pk).order_by().values_list("status").annotate(n=Count("pk"))
        )
        if not counts:
            return "—"
        labels = dict(PaymentStatus.choices)
        return "；".join(f"{labels.get(status, status)} {n} 笔" for status, n in sorted(counts.items()))

    @admin.display(description=_("文件SHA-256"))
    def sha256(self, batch: Batch) -> str:
        return f"{batch.file_sha256[:16]}…" if batch.file_sha256 else "—"

    @admin.display(description=_("代发文件"))
    def file_link(self, batch: Batch) -> str:
        if not batch.generated_at:
            return _("文件生成中")
        url = reverse("admin:disbursement_batch_file", args=[batch.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("下载代发文件"))

    @admin.display(description=_("代发文件"))
    def file_note(self, batch: Batch) -> str:
        return _("仅财政部门可下载（含完整银行账号）")

    def get_fields(self, request, obj=None):
        # Who looks decides whether the page offers the download (the admin instance is shared: no state on it).
        fields = list(super().get_fields(request, obj))
        return fields if can_download_file(request.user) else [f if f != "file_link" else "file_note" for f in fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/file/", wrap(self.file_view), name="disbursement_batch_file"), *super().get_urls()]

    def file_view(self, request, pk: int):
        if not can_download_file(request.user):
            raise PermissionDenied
        batch = batches_visible_to(request.user).filter(pk=pk, generated_at__isnull=False).first()
        if batch is None:
            raise Http404
        response = batch_file_response(batch)
        batch_download_record(acting_user=request.user, batch=batch)
        return response
