"""REST doors for cross-checks: start a run and follow it, list a payout's findings, clear them (remove or keep),
and submit the payout. Scoped to what the asking user may see: another department's payout or finding is 404."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from checks.enums import FindingStatus, RuleCode, Severity
from checks.evidence import describe_evidence, rule_label, rules_run_rows
from checks.models import CheckRun, Finding
from checks.selectors import latest_run
from checks.services import checks_start, finding_keep, finding_remove
from disbursement.models import Payout, payment_ref
from disbursement.review import payout_submit
from recipients import storage
from recipients.api import PayoutSerializer


def _invalid(exc: ValidationError) -> ApiValidationError:
    return ApiValidationError({"code": getattr(exc, "code", None) or "invalid", "detail": exc.messages})


# --- Serializers ---------------------------------------------------------------------------------------------


class RuleRunSerializer(serializers.Serializer):
    rule = serializers.CharField()
    name = serializers.CharField(help_text="规则中文名称")
    severity = serializers.CharField(help_text="block（阻断）或 warn（提示）")
    severity_label = serializers.CharField()
    findings = serializers.IntegerField(allow_null=True, help_text="发现的疑点数；未运行时为 null")
    skipped = serializers.CharField(
        allow_blank=True, help_text="未运行的原因：source_not_loaded / not_applicable / disabled；运行了为空"
    )
    skipped_label = serializers.CharField(allow_blank=True, help_text="未运行原因的中文说明")


class JobBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    percent = serializers.IntegerField(allow_null=True)


class CheckRunSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="pk")
    payout = serializers.CharField(source="payout.code")
    started_by = serializers.CharField(source="started_by.username")
    rules_run = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()

    class Meta:
        model = CheckRun
        fields = (
            "run",
            "payout",
            "status",
            "started_by",
            "started_at",
            "finished_at",
            "payments",
            "error_code",
            "rules_run",
            "loads",
            "job",
        )

    @extend_schema_field(RuleRunSerializer(many=True))
    def get_rules_run(self, run: CheckRun) -> list[dict]:
        return rules_run_rows(run.rules_run)

    @extend_schema_field(JobBriefSerializer(allow_null=True))
    def get_job(self, run: CheckRun) -> dict | None:
        job = run.job
        return None if job is None else {"id": job.pk, "status": job.status, "percent": job.percent}


class CheckStartedSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    job = serializers.IntegerField(allow_null=True)
    status_url = serializers.CharField(help_text="查询本次比对状态：GET …/checks/latest/")
    job_url = serializers.CharField(allow_null=True, help_text="比对任务的进度")


class FindingSerializer(serializers.ModelSerializer):
    payout = serializers.CharField(source="payout.code")
    rule_name = serializers.SerializerMethodField()
    payment_ref = serializers.SerializerMethodField()
    roster_row = serializers.IntegerField(source="payment.row", allow_null=True, default=None)
    name = serializers.CharField(source="recipient.name")
    id_masked = serializers.CharField(source="recipient.id_masked", help_text="身份证号（脱敏）")
    description = serializers.SerializerMethodField(help_text="依据的中文说明")
    attachment_url = serializers.SerializerMethodField()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)

    class Meta:
        model = Finding
        fields = (
            "id",
            "payout",
            "rule",
            "rule_name",
            "severity",
            "status",
            "payment_ref",
            "roster_row",
            "name",
            "id_masked",
            "evidence",
            "description",
            "reason",
            "attachment_name",
            "attachment_url",
            "decided_by",
            "decided_at",
            "first_found_at",
        )
        extra_kwargs = {"reason": {"help_text": "核实保留时的理由，或确认剔除时的说明"}}

    def get_rule_name(self, finding: Finding) -> str:
        return rule_label(finding.rule)

    def get_payment_ref(self, finding: Finding) -> str | None:
        return payment_ref(finding.payout.code, finding.payment.row) if finding.payment_id else None

    def get_description(self, finding: Finding) -> str:
        return describe_evidence(finding.rule, finding.evidence)

    def get_attachment_url(self, finding: Finding) -> str | None:
        if not finding.attachment_file:
            return None
        url = reverse("finding-attachment", args=[finding.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class RemoveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", help_text="说明（可不填）")


class KeepSerializer(serializers.Serializer):
    # Optional here so that a missing reason is answered with the service's own code, reason_required.
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="核实情况和保留理由（必填）")
    attachment = serializers.FileField(required=False, allow_null=True, help_text="佐证材料（可不传）")


class SubmitRefusedSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="submission_blocked（见 blockers）、payout_not_draft 或 double_payment")
    detail = serializers.ListField(child=serializers.CharField(), help_text="中文说明，逐条")
    blockers = serializers.ListField(
        child=serializers.CharField(),
        help_text="roster_missing / roster_importing / checks_pending / checks_stale / findings_open / …",
    )


class FindingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=FindingStatus.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    rule = django_filters.ChoiceFilter(choices=RuleCode.choices)

    class Meta:
        model = Finding
        fields = ("status", "severity", "rule")


_ERRORS = {
    403: OpenApiResponse(description="code: permission_denied（无此操作权限）"),
    404: OpenApiResponse(description="code: not_found（无此发放项目或疑点，或不属于本部门）"),
}
_FINDING_FILTERS = [
    OpenApiParameter("status", str, enum=FindingStatus.values, description="处理状态"),
    OpenApiParameter("rule", str, enum=RuleCode.values, description="规则代码"),
    OpenApiParameter("severity", str, enum=Severity.values, description="级别"),
]


def _findings(user):
    return (
        Finding.objects.visible_to(user)
        .select_related("payout", "payment", "recipient", "decided_by")
        .order_by("payout_id", "payment__row", "rule", "pk")
    )


# --- Payout: checks, findings, submission ---------------------------------------------------------------------


# The cross-check actions of one payout, at /payouts/{code}/…, beside the payout's own viewset (recipients.api).
class PayoutChecksViewSet(viewsets.GenericViewSet):
    lookup_field = "code"
    serializer_class = CheckRunSerializer
    filter_backends = ()

    def get_queryset(self):
        return Payout.objects.visible_to(self.request.user).select_related("region")

    @extend_schema(
        summary="发起数据比对（异步；结果在 …/checks/latest/）",
        request=None,
        responses={
            202: CheckStartedSerializer,
            400: OpenApiResponse(description="code: payout_not_draft（已提交，不再比对）"),
            **_ERRORS,
        },
    )
    @action(detail=True, methods=["post"], url_path="checks")
    def start_checks(self, request, code=None):
        payout = self.get_object()
        try:
            run = checks_start(acting_user=request.user, payout=payout)
        except ValidationError as exc:
            raise _invalid(exc) from None
        body = {
            "run": run.pk,
            "job": run.job_id,
            "status_url": request.build_absolute_uri(reverse("payout-checks-latest-checks", args=[payout.code])),
            "job_url": request.build_absolute_uri(reverse("job-detail", args=[run.job_id])) if run.job_id else None,
        }
        return Response(CheckStartedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="最近一次数据比对：状态、比对明细数、各规则结果",
        responses={200: CheckRunSerializer, 404: OpenApiResponse(description="code: not_found / no_run（尚未比对）")},
    )
    @action(detail=True, methods=["get"], url_path="checks/latest")
    def latest_checks(self, request, code=None):
        payout = self.get_object()
        run = latest_run(payout)
        if run is None:
            raise NotFound({"code": "no_run", "detail": "尚未进行数据比对。"})
        run = CheckRun.objects.select_related("payout", "started_by", "job").get(pk=run.pk)
        return Response(CheckRunSerializer(run).data)

    @extend_schema(
        summary="发放项目的比对疑点（可按状态、规则、级别筛选）",
        parameters=_FINDING_FILTERS,
        responses={200: FindingSerializer(many=True), 400: OpenApiResponse(description="code: invalid_filter")},
    )
    @action(detail=True, methods=["get"], url_path="findings")
    def findings(self, request, code=None):
        payout = self.get_object()
        filtered = FindingFilter(request.query_params, queryset=_findings(request.user).filter(payout=payout))
        if not filtered.is_valid():
            raise ApiValidationError({"code": "invalid_filter", "detail": filtered.errors})
        page = self.paginate_queryset(filtered.qs)
        return self.get_paginated_response(FindingSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        summary="提交审核（须已比对且阻断级疑点全部处理）",
        request=None,
        responses={200: PayoutSerializer, 400: SubmitRefusedSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="submit")
    def submit(self, request, code=None):
        payout = self.get_object()
        try:
            payout_submit(acting_user=request.user, payout=payout)
        except ValidationError as exc:
            codes = [error.code or "invalid" for error in exc.error_list]
            body = {
                "code": getattr(exc, "code", None) or "submission_blocked",
                "detail": exc.messages,
                "blockers": codes,
            }
            return Response(SubmitRefusedSerializer(body).data, status=status.HTTP_400_BAD_REQUEST)
        payout = (
            Payout.objects.select_related("policy", "department", "region")
            .annotate(payment_count=Count("payments"))
            .get(pk=payout.pk)
        )
        return Response(PayoutSerializer(payout).data)


# --- Findings: read one, decide, fetch the kept evidence --------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="比对疑点（本部门的；财政、审计可见全部）", parameters=_FINDING_FILTERS),
    retrieve=extend_schema(summary="一条比对疑点"),
)
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FindingSerializer
    filterset_class = FindingFilter

    def get_queryset(self):
        return _findings(self.request.user)

    def _decide(self, service, **kwargs):
        finding = self.get_object()
        try:
            finding = service(acting_user=self.request.user, finding=finding, **kwargs)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(
        summary="确认剔除：取消该发放明细，其上疑点一并关闭",
        request=RemoveSerializer,
        responses={
            200: FindingSerializer,
            400: OpenApiResponse(description="code: payout_not_draft / finding_closed / payment_gone"),
            **_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        form = RemoveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._decide(finding_remove, note=form.validated_data["note"])

    @extend_schema(
        summary="核实保留：须填写理由，可附佐证材料",
        request={"multipart/form-data": KeepSerializer, "application/json": KeepSerializer},
        responses={
            200: FindingSerializer,
            400: OpenApiResponse(
                description="code: reason_required / file_empty / file_too_large / payout_not_draft / finding_closed"
            ),
            **_ERRORS,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser],
    )
    def keep(self, request, pk=None):
        form = KeepSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data.get("attachment")
        attachment = (upload.name, upload.read()) if upload else None
        return self._decide(finding_keep, reason=form.validated_data["reason"], attachment=attachment)

    @extend_schema(
        summary="下载保留疑点的佐证材料",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(response=bytes),
            404: OpenApiResponse(description="code: not_found（无此疑点或无佐证材料）"),
        },
    )
    @action(detail=True, methods=["get"])
    def attachment(self, request, pk=None):
        finding = self.get_object()
        if not finding.attachment_file:
            raise NotFound({"code": "no_attachment", "detail": "该疑点没有佐证材料。"})
        response = HttpResponse(storage.load(finding.attachment_file), content_type="application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=finding.attachment_name or "attachment"
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
