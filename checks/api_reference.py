"""REST doors for reference data: the sources, uploading a file for one, following its import, its row problems
and its error report. Everything is scoped to what the asking user may see (`reference_selectors`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from checks.enums import LoadStatus
from checks.models import ReferenceIssue, ReferenceLoad, ReferenceSource
from checks.reference_selectors import (
    reference_error_report_filename,
    reference_error_report_xlsx,
    reference_issues,
    reference_loads_visible_to,
    reference_sources_visible_to,
)
from checks.references import reference_upload


class MayViewReferenceData(BasePermission):
    """Reference files hold a county's deaths and registrations: only roles granted checks.view_* read them
    (not township staff, not banks), and then only what `visible_to` leaves them."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(view.view_permission))


class CurrentLoadSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReferenceLoad
        fields = ("id", "as_of", "valid")


class ReferenceSourceSerializer(serializers.ModelSerializer):
    department = serializers.CharField(source="department.code", allow_null=True, default=None)
    policy = serializers.CharField(source="policy.code", allow_null=True, default=None)
    current_load = CurrentLoadSerializer(allow_null=True, read_only=True)

    class Meta:
        model = ReferenceSource
        fields = ("code", "name", "kind", "department", "policy", "description", "current_load")


class ReferenceLoadSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.code")
    kind = serializers.CharField(source="source.kind")
    uploaded_by = serializers.CharField(source="uploaded_by.username")
    is_current = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceLoad
        fields = (
            "id",
            "source",
            "kind",
            "as_of",
            "filename",
            "size",
            "sha256",
            "status",
            "is_current",
            "uploaded_by",
            "uploaded_at",
            "rows_read",
            "valid",
            "rejected",
            "file_error_code",
            "file_error_message",
            "job",
        )

    def get_is_current(self, load) -> bool:
        return load.source.current_load_id == load.pk

    def get_job(self, load) -> dict | None:
        job = load.job
        if job is None:
            return None
        return {
            "id": job.pk,
            "status": job.status,
            "progress_done": job.progress_done,
            "progress_total": job.progress_total,
            "percent": job.percent,
            "error_code": job.error_code,
            "error_message": job.error_message,
        }


class ReferenceIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReferenceIssue
        fields = ("row", "column", "code", "message", "warning")


class ReferenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="比对数据文件：.xlsx、.xls 或 .csv（UTF-8 或 GBK）")
    as_of = serializers.DateField(help_text="数据截止日期，如 2026-01-31；文件中的日期不得晚于它")


class ReferenceUploadAcceptedSerializer(serializers.Serializer):
    load = serializers.IntegerField()
    job = serializers.IntegerField()
    status_url = serializers.CharField()
    job_url = serializers.CharField()


@extend_schema_view(
    list=extend_schema(summary="比对数据源（本部门提供的；财政、审计可见全部）"),
    retrieve=extend_schema(summary="比对数据源详情"),
)
class ReferenceSourceViewSet(ReadOnlyModelViewSet):
    serializer_class = ReferenceSourceSerializer
    permission_classes = [MayViewReferenceData]
    view_permission = "checks.view_referencesource"
    lookup_field = "code"
    filterset_fields = ("kind",)

    def get_queryset(self):
        return reference_sources_visible_to(self.request.user).order_by("code")

    @extend_schema(
        summary="上传比对数据（异步导入；任何一行有错则整个文件不启用）",
        request={"multipart/form-data": ReferenceUploadSerializer},
        responses={
            202: ReferenceUploadAcceptedSerializer,
            400: OpenApiResponse(description="code: file_empty / file_too_large / as_of_in_future / invalid"),
            403: OpenApiResponse(description="code: permission_denied（非本部门数据源，或无上传权限）"),
            404: OpenApiResponse(description="code: not_found（无此数据源）"),
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[parsers.MultiPartParser], url_path="loads")
    def upload(self, request, code=None):
        # Looked up unscoped on purpose: a source is no secret, and another department's clerk should be told
        # "not yours" (403, by the service) rather than "no such source".
        source = get_object_or_404(ReferenceSource.objects.all(), code=code)
        form = ReferenceUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        try:
            load = reference_upload(
                acting_user=request.user,
                source=source,
                as_of=form.validated_data["as_of"],
                filename=upload.name,
                data=upload.read(),
            )
        except ValidationError as exc:
            raise ApiValidationError({"code": exc.code, "detail": exc.messages}) from None
        body = {
            "load": load.pk,
            "job": load.job_id,
            "status_url": request.build_absolute_uri(reverse("reference-load-detail", args=[load.pk])),
            "job_url": request.build_absolute_uri(reverse("job-detail", args=[load.job_id])),
        }
        return Response(ReferenceUploadAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


_LOAD_FILTERS = [
    OpenApiParameter("source", str, description="数据源代码，如 death"),
    OpenApiParameter("status", str, enum=LoadStatus.values),
]


@extend_schema_view(
    list=extend_schema(summary="比对数据导入记录", parameters=_LOAD_FILTERS),
    retrieve=extend_schema(summary="一次导入的状态和计数"),
)
class ReferenceLoadViewSet(ReadOnlyModelViewSet):
    serializer_class = ReferenceLoadSerializer
    permission_classes = [MayViewReferenceData]
    view_permission = "checks.view_referenceload"
    filter_backends = ()  # filtered by hand below: `source` is a code, not a primary key

    def get_queryset(self):
        loads = reference_loads_visible_to(self.request.user).order_by("-pk")
        params = self.request.query_params
        if params.get("source"):
            loads = loads.filter(source__code=params["source"])
        if params.get("status"):
            loads = loads.filter(status=params["status"])
        return loads

    @extend_schema(
        summary="逐行问题（行号为文件中的行号，列为文件中的列名）",
        parameters=[OpenApiParameter("code", str), OpenApiParameter("warning", bool)],
        responses=ReferenceIssueSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def issues(self, request, pk=None):
        load = self.get_object()
        issues = reference_issues(load)
        if request.query_params.get("code"):
            issues = issues.filter(code=request.query_params["code"])
        if request.query_params.get("warning") in ("true", "false"):
            issues = issues.filter(warning=request.query_params["warning"] == "true")
        page = self.paginate_queryset(issues)
        return self.get_paginated_response(ReferenceIssueSerializer(page, many=True).data)

    @extend_schema(
        summary="下载错误报告（Excel：原文件中有问题的行，加“问题说明”列）",
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes},
    )
    @action(detail=True, methods=["get"], url_path="error-report")
    def error_report(self, request, pk=None):
        load = self.get_object()
        response = HttpResponse(
            reference_error_report_xlsx(load),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = reference_error_report_filename(load)
        return response
