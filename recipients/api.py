"""REST doors for clerks: payouts, roster upload, import progress, row-level problems and the error report."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from disbursement.models import Payout
from recipients.models import Roster, RosterIssue
from recipients.reports import error_report_filename, error_report_xlsx
from recipients.services import roster_upload


class PayoutSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy.code")
    department = serializers.CharField(source="department.code")
    region = serializers.CharField(source="region.code")
    payments = serializers.IntegerField(source="payment_count", read_only=True)

    class Meta:
        model = Payout
        fields = (
            "code",
            "title",
            "policy",
            "period",
            "region",
            "department",
            "budget_document",
            "budget_amount",
            "roster_due",
            "review_due",
            "payment_due",
            "status",
            "payments",
            "created_at",
        )


class RosterSerializer(serializers.ModelSerializer):
    payout = serializers.CharField(source="payout.code")
    job = serializers.SerializerMethodField()

    class Meta:
        model = Roster
        fields = (
            "id",
            "payout",
            "filename",
            "size",
            "sha256",
            "status",
            "uploaded_at",
            "rows_read",
            "valid",
            "rejected",
            "warnings",
            "valid_total",
            "declared_total",
            "file_error_code",
            "file_error_message",
            "job",
        )

    def get_job(self, roster) -> dict | None:
        job = roster.job
        if job is None:
            return None
        return {
            "id": job.pk,
            "status": job.status,
            "progress_done": job.progress_done,
            "progress_total": job.progress_total,
            "error_code": job.error_code,
        }


class RosterIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = RosterIssue
        fields = ("row", "column", "code", "message", "warning")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class PayoutViewSet(ReadOnlyModelViewSet):
    serializer_class = PayoutSerializer
    lookup_field = "code"
    filterset_fields = ("period", "status")

    def get_queryset(self):
        return (
            Payout.objects.visible_to(self.request.user)
            .select_related("policy", "department", "region")
            .annotate(payment_count=Count("payments"))
        )

    @extend_schema(
        summary="上传名册（异步导入）",
        request={"multipart/form-data": UploadSerializer},
        responses={202: RosterSerializer, 400: OpenApiResponse(description="code: file_empty / file_too_large / …")},
    )
    @action(detail=True, methods=["post"], parser_classes=[parsers.MultiPartParser], url_path="rosters")
    def upload_roster(self, request, code=None):
        payout = self.get_object()
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        try:
            roster = roster_upload(acting_user=request.user, payout=payout, filename=upload.name, data=upload.read())
        except ValidationError as exc:
            raise ApiValidationError({"code": exc.code, "detail": exc.messages}) from None
        roster.refresh_from_db()
        return Response(RosterSerializer(roster).data, status=status.HTTP_202_ACCEPTED)


class RosterViewSet(ReadOnlyModelViewSet):
    serializer_class = RosterSerializer

    def get_queryset(self):
        return Roster.objects.visible_to(self.request.user).select_related("payout", "job")

    @extend_schema(summary="名册逐行问题", responses=RosterIssueSerializer(many=True))
    @action(detail=True, methods=["get"])
    def issues(self, request, pk=None):
        roster = self.get_object()
        issues = RosterIssue.objects.filter(roster=roster).order_by("row", "id")
        if request.query_params.get("code"):
            issues = issues.filter(code=request.query_params["code"])
        page = self.paginate_queryset(issues)
        return self.get_paginated_response(RosterIssueSerializer(page, many=True).data)

    @extend_schema(
        summary="下载错误报告（Excel：原名册中有问题的行，加“问题说明”列）",
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes},
    )
    @action(detail=True, methods=["get"], url_path="error-report")
    def error_report(self, request, pk=None):
        roster = get_object_or_404(self.get_queryset(), pk=pk)
        response = HttpResponse(
            error_report_xlsx(roster),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = error_report_filename(roster)
        return response
