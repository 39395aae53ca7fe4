"""REST doors for releasing a payout (拨付) and following its batches (代发批次) and their bank files."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from disbursement.admin_batches import batch_file_response, yuan
from disbursement.bankfile import batch_download_record
from disbursement.batches import batches_visible_to, can_download_file, payout_release
from disbursement.models import Batch, Payout


class BatchSerializer(serializers.ModelSerializer):
    payout = serializers.CharField(source="payout.code", help_text="发放项目编号")
    bank = serializers.CharField(source="bank.code", help_text="代发金融机构代码")
    bank_name = serializers.CharField(source="bank.name")
    total_yuan = serializers.SerializerMethodField(help_text="金额（元），两位小数的字符串")
    job = serializers.IntegerField(source="job_id", allow_null=True, help_text="生成代发文件的后台任务")

    class Meta:
        model = Batch
        fields = (
            "batch_no", "payout", "bank", "bank_name", "attempt", "status", "payment_count", "total_fen",
            "total_yuan", "encoding", "file_sha256", "detail_sha256", "file_size", "created_at", "generated_at", "job",
        )  # fmt: skip

    def get_total_yuan(self, batch: Batch) -> str:
        return yuan(batch.total_fen).replace(",", "")


class ReleasedSerializer(serializers.Serializer):
    payout = serializers.CharField()
    status = serializers.CharField()
    batches = BatchSerializer(many=True)


_ERRORS = {
    403: OpenApiResponse(description="code: permission_denied（仅财政部门可拨付）"),
    404: OpenApiResponse(description="code: not_found（无此发放项目，或不在本人可见范围）"),
}


class PayoutReleaseViewSet(viewsets.GenericViewSet):
    lookup_field = "code"
    serializer_class = ReleasedSerializer
    filter_backends = ()

    def get_queryset(self):
        return Payout.objects.visible_to(self.request.user)

    @extend_schema(
        summary="拨付：按代发银行生成代发批次（异步生成代发文件）",
        request=None,
        responses={
            202: ReleasedSerializer,
            400: OpenApiResponse(
                description="code: payout_not_approved（不是已审核待拨付）/ bank_unknown（有未登记的开户银行，"
                "params.banks 为各银行名称及笔数）/ payout_empty"
            ),
            **_ERRORS,
        },
    )
    @action(detail=True, methods=["post"], url_path="release")
    def release(self, request, code=None):
        payout = self.get_object()
        try:
            batches = payout_release(acting_user=request.user, payout=payout)
        except ValidationError as exc:
            body = {"code": exc.code or "invalid", "detail": exc.messages}
            if exc.code == "bank_unknown":
                body["banks"] = exc.params["banks"]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        batches = list(batches_visible_to(request.user).filter(pk__in=[b.pk for b in batches]))
        body = {"payout": payout.code, "status": "released", "batches": batches}
        return Response(ReleasedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="代发批次列表（财政部门可见全部，主管部门可见本部门）"),
    retrieve=extend_schema(summary="代发批次详情：笔数、金额、文件 SHA-256、生成状态"),
)
class BatchViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BatchSerializer
    lookup_field = "batch_no"
    filterset_fields = ("status", "bank__code", "payout__code")

    def get_queryset(self):
        return batches_visible_to(self.request.user)

    @extend_schema(
        summary="下载代发文件（含完整银行账号，仅财政部门）；响应头 X-Content-SHA256 为文件的 SHA-256",
        responses={
            (200, "text/plain"): OpenApiResponse(description="代发文件，格式见 docs/bank-file-format.md"),
            404: OpenApiResponse(description="code: not_found / not_generated（文件尚未生成）"),
            403: OpenApiResponse(description="code: permission_denied"),
        },
    )
    @action(detail=True, methods=["get"], url_path="file")
    def file(self, request, batch_no=None):
        batch = self.get_object()
        if not can_download_file(request.user):
            raise PermissionDenied({"code": "permission_denied", "detail": "仅财政部门可下载代发文件。"})
        if batch.generated_at is None:
            raise NotFound({"code": "not_generated", "detail": "代发文件尚未生成。"})
        response = batch_file_response(batch)
        batch_download_record(acting_user=request.user, batch=batch)
        return response
