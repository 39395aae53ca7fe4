"""The bank's REST doors, under /api/v1/bank/: its batches, their frozen files, acknowledgement, results (回盘)
and the state read back. Authenticated by the bank's token (banks/auth.py); a bank sees only its own batches —
any other batch number is 404. Every call is audited by ``BankAPIMixin``. Described in docs/bank-api.md."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from banks.auth import CONTENT_SHA256_HEADER, SIGNATURE_PARAMETERS, BankAPIMixin
from banks.exchange import ChecksumMismatch, bank_batch, bank_batches, batch_acknowledge
from banks.models import ResultSubmission
from banks.results import (
    JSON_MAX_ITEMS,
    IdempotencyKeyReused,
    result_file_receive,
    results_submit_file,
    results_submit_json,
    submission_answer,
)
from disbursement.admin_batches import batch_file_response
from disbursement.bankfile import batch_download_record
from disbursement.enums import BatchStatus, PaymentStatus
from disbursement.ledger import yuan
from disbursement.models import Batch, Payment, payment_ref

FILE_CHUNK = 1024 * 1024
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="幂等键（最长 100 字符）：同一键、同一请求体 → 返回首次的处理结果；同一键、不同请求体 → 422",
)


def _error(status: int, code: str, detail: str, **extra) -> Response:
    return Response({"code": code, "detail": detail, **extra}, status=status)


class BankBatchSerializer(serializers.ModelSerializer):
    payout = serializers.CharField(source="payout.code", help_text="发放项目编号")
    total_yuan = serializers.SerializerMethodField(help_text="金额（元），两位小数的字符串")

    class Meta:
        model = Batch
        fields = (
            "batch_no", "payout", "attempt", "status", "payment_count", "total_fen", "total_yuan", "encoding",
            "file_sha256", "detail_sha256", "file_size", "created_at", "generated_at", "acknowledged_at",
            "first_result_at", "closed_at",
        )  # fmt: skip

    def get_total_yuan(self, batch: Batch) -> str:
        return yuan(batch.total_fen)


class AckRequestSerializer(serializers.Serializer):
    file_sha256 = serializers.CharField(required=False, help_text="银行对收到文件计算的 SHA-256（可选；给出则须一致）")


class AckSerializer(serializers.Serializer):
    batch_no = serializers.CharField()
    status = serializers.CharField()
    acknowledged_at = serializers.DateTimeField()
    already_acknowledged = serializers.BooleanField(help_text="此前已确认接收：本次未做任何更改")


class ResultItemSerializer(serializers.Serializer):
    payment_ref = serializers.CharField(help_text="发放明细编号，取自代发文件")
    status = serializers.ChoiceField(choices=["paid", "failed", "returned"])
    reason_code = serializers.CharField(required=False, help_text="失败或退回原因代码（失败原因目录）；failed 必填")
    reason = serializers.CharField(required=False, help_text="原因说明，最多 200 字")
    bank_txn_id = serializers.CharField(required=False, help_text="银行流水号")
    paid_at = serializers.DateTimeField(required=False, help_text="到账时间（ISO 8601；无时区按北京时间）")
    amount_fen = serializers.IntegerField(required=False, help_text="金额（分）；给出则须与代发文件一致")


class ResultsRequestSerializer(serializers.Serializer):
    results = ResultItemSerializer(many=True)
    count = serializers.IntegerField(required=False, help_text="本次回盘条数；给出则须一致")
    total_fen = serializers.IntegerField(required=False, help_text="本次回盘涉及发放明细的金额之和（分）；给出则须一致")


class ResultErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    line = serializers.IntegerField(required=False, help_text="JSON 中的第几条（从 1 起）或回盘文件的行号")
    payment_ref = serializers.CharField(required=False)


class ResultAnswerSerializer(serializers.Serializer):
    submission = serializers.IntegerField(help_text="回盘记录编号：GET /api/v1/bank/results/{submission}/ 可再次查询")
    batch_no = serializers.CharField()
    status = serializers.ChoiceField(choices=["received", "applied", "rejected"])
    results = serializers.IntegerField(help_text="本次回盘条数")
    applied = serializers.DictField(child=serializers.IntegerField(), required=False, help_text="按结果的处理条数")
    unchanged = serializers.IntegerField(required=False, help_text="此前已处理、本次未更改的条数")
    code = serializers.CharField(required=False)
    errors = ResultErrorSerializer(many=True, required=False, help_text="最多列出 100 处")
    job = serializers.IntegerField(required=False)
    detail = serializers.CharField()


class BankPaymentSerializer(serializers.Serializer):
    payment_ref = serializers.CharField()
    account = serializers.CharField(help_text="银行账号（脱敏）")
    amount = serializers.CharField(help_text="金额（元）")
    amount_fen = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    result = serializers.CharField(help_text="银行回盘：paid / failed / returned，未回盘为空")
    reason_code = serializers.CharField()
    reason = serializers.CharField()
    bank_txn_id = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    result_at = serializers.DateTimeField(allow_null=True)


_RESULT_EXAMPLE = OpenApiExample(
    "部分回盘（一笔成功、一笔失败）",
    value={
        "results": [
            {
                "payment_ref": "MZ-04-2026-11-000002",
                "status": "paid",
                "bank_txn_id": "CCB20261124000001",
                "paid_at": "2026-11-24T09:30:00+08:00",
            },
            {
                "payment_ref": "MZ-04-2026-11-000003",
                "status": "failed",
                "reason_code": "account_closed",
                "reason": "卡号已注销",
            },
        ],
        "count": 2,
        "total_fen": 116000,
    },
    request_only=True,
)
_NOT_FOUND = OpenApiResponse(description="code: not_found（无此批次，或不是本行的批次）")


@extend_schema_view(
    list=extend_schema(
        summary="本行的代发批次（文件已生成的）",
        parameters=[
            OpenApiParameter("status", str, enum=BatchStatus.values, description="按状态筛选，如 ready（待接收）"),
            *SIGNATURE_PARAMETERS,
        ],
        responses={200: BankBatchSerializer(many=True), 400: OpenApiResponse(description="code: invalid_status")},
    ),
    retrieve=extend_schema(
        summary="本行的一个代发批次",
        parameters=SIGNATURE_PARAMETERS,
        responses={200: BankBatchSerializer, 404: _NOT_FOUND},
    ),
)
class BankBatchViewSet(BankAPIMixin, viewsets.GenericViewSet):
    """代发批次（银行接口）：仅本行的批次；其他批次一律 404。以银行接口令牌认证，每次调用留痕。"""

    serializer_class = BankBatchSerializer
    lookup_field = "batch_no"
    filter_backends = ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is drawn without a bank
            return Batch.objects.none()
        return bank_batches(self.bank)

    def get_object(self) -> Batch:
        return bank_batch(self.bank, self.kwargs["batch_no"])

    def list(self, request):
        batches = self.get_queryset()
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in BatchStatus.values:
                return _error(400, "invalid_status", f"status 须为 {', '.join(BatchStatus.values)} 之一。")
            batches = batches.filter(status=wanted)
        page = self.paginate_queryset(batches)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, batch_no=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="下载代发文件（冻结的原文件；响应头 X-Content-SHA256 为其 SHA-256）",
        parameters=SIGNATURE_PARAMETERS,
        responses={
            (200, "text/plain"): OpenApiResponse(description="格式见 docs/bank-file-format.md"),
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], url_path="file")
    def file(self, request, batch_no=None):
        batch = self.get_object()
        response = batch_file_response(batch)
        batch_download_record(acting_user=request.user, batch=batch)
        return response

    @extend_schema(
        summary="确认接收并已校验代发文件（幂等：重复确认不做更改）",
        parameters=SIGNATURE_PARAMETERS,
        request=AckRequestSerializer,
        responses={
            200: AckSerializer,
            404: _NOT_FOUND,
            422: OpenApiResponse(description="code: sha256_mismatch（所报 SHA-256 与文件不符，未确认）"),
        },
    )
    @action(detail=True, methods=["post"], url_path="ack")
    def ack(self, request, batch_no=None):
        batch = self.get_object()
        data = request.data if isinstance(request.data, dict) else {}
        quoted = data.get("file_sha256") or ""
        if not isinstance(quoted, str):
            return _error(400, "invalid_body", "file_sha256 须为字符串。")
        try:
            batch, new = batch_acknowledge(bank=self.bank, batch=batch, file_sha256=quoted)
        except ChecksumMismatch:
            return _error(
                422,
                "sha256_mismatch",
                "所报 SHA-256 与代发文件不符：请重新下载后再确认。",
                file_sha256=batch.file_sha256,
            )
        body = {
            "batch_no": batch.batch_no,
            "status": batch.status,
            "acknowledged_at": batch.acknowledged_at,
            "already_acknowledged": not new,
        }
        return Response(AckSerializer(body).data)

    @extend_schema(
        summary="回盘：提交逐笔发放结果（JSON 或回盘文件）；整批校验，有错整体拒绝；重复提交不重复处理",
        description=(
            f"JSON（application/json，最多 {JSON_MAX_ITEMS} 条）当场处理；回盘文件（text/plain，格式见"
            " docs/bank-file-format.md）由后台任务处理，先返回 202，再以 GET /api/v1/bank/results/{submission}/ 查询。"
            " 同一结果再次提交：不做更改，并在 unchanged 中说明。"
        ),
        parameters=[IDEMPOTENCY_KEY, *SIGNATURE_PARAMETERS],
        request={"application/json": ResultsRequestSerializer, "text/plain": OpenApiTypes.BINARY},
        examples=[_RESULT_EXAMPLE],
        responses={
            200: ResultAnswerSerializer,
            202: ResultAnswerSerializer,
            404: _NOT_FOUND,
            413: OpenApiResponse(description="code: body_too_large / file_too_large"),
            415: OpenApiResponse(description="code: unsupported_media_type"),
            422: OpenApiResponse(
                ResultAnswerSerializer,
                description=(
                    "整体拒绝，未做任何更改。code: payment_not_in_batch / unknown_status / unknown_reason_code /"
                    " reason_code_required / amount_mismatch / total_mismatch / count_mismatch /"
                    " duplicate_payment / result_conflict / batch_mismatch / …；"
                    "或 idempotency_key_reused（同一幂等键用于不同请求）"
                ),
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="results")
    def results(self, request, batch_no=None):
        batch = self.get_object()
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            return _error(400, "invalid_idempotency_key", "Idempotency-Key 最长 100 个字符。")
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json":
                submission, new = self._json_results(request, batch, key)
            elif content_type in ("text/plain", "application/octet-stream"):
                submission, new = self._file_results(request, batch, key)
            else:
                return _error(415, "unsupported_media_type", "回盘须为 application/json 或 text/plain（回盘文件）。")
        except IdempotencyKeyReused:
            return _error(422, "idempotency_key_reused", "此幂等键已用于另一请求（请求体或批次不同）。")
        except RequestDataTooBig:
            return _error(413, "body_too_large", "JSON 请求体过大：大批量回盘请用回盘文件（text/plain）。")
        except ValidationError as exc:
            status = 413 if exc.code == "file_too_large" else 400
            return _error(status, exc.code or "invalid", " ".join(exc.messages))
        except json.JSONDecodeError:
            return _error(400, "invalid_json", "请求体不是合法的 JSON。")
        status, body = submission_answer(submission)
        response = Response(body, status=status)
        if not new:
            response["Idempotent-Replayed"] = "true"
        return response

    def _json_results(self, request, batch: Batch, key: str):
        raw = request._request.body
        body = json.loads(raw.decode("utf-8") if raw else "null")
        return results_submit_json(
            bank=self.bank, batch=batch, body=body, body_sha256=hashlib.sha256(raw).hexdigest(), idempotency_key=key
        )

    def _file_results(self, request, batch: Batch, key: str):
        stream = request._request
        path, digest, _size = result_file_receive(
            iter(lambda: stream.read(FILE_CHUNK), b""), max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024
        )
        declared = request.headers.get(CONTENT_SHA256_HEADER, "").strip().lower()
        if declared and declared != digest:
            path.unlink(missing_ok=True)
            raise ValidationError(
                "请求体的 SHA-256 与 X-Content-SHA256 不符：文件未完整送达。", code="content_sha256_mismatch"
            )
        return results_submit_file(bank=self.bank, batch=batch, path=path, body_sha256=digest, idempotency_key=key)

    @extend_schema(
        summary="批次内发放明细的当前状态（账号脱敏）",
        parameters=[
            OpenApiParameter("status", str, enum=PaymentStatus.values, description="按状态筛选，如 failed"),
            *SIGNATURE_PARAMETERS,
        ],
        responses={
            200: BankPaymentSerializer(many=True),
            400: OpenApiResponse(description="code: invalid_status"),
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], url_path="payments")
    def payments(self, request, batch_no=None):
        batch = self.get_object()
        rows = Payment.objects.filter(batch_id=batch.pk).order_by("row")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in PaymentStatus.values:
                return _error(400, "invalid_status", f"status 须为 {', '.join(PaymentStatus.values)} 之一。")
            rows = rows.filter(status=wanted)
        rows = rows.values(
            "row", "attempt", "account_masked", "amount", "status", "result", "result_code", "result_reason",
            "bank_txn_id", "paid_at", "result_at",
        )  # fmt: skip
        page = self.paginate_queryset(rows)
        code = batch.payout.code
        items = [
            {
                "payment_ref": payment_ref(code, r["row"], r["attempt"]),
                "account": r["account_masked"],
                "amount": f"{r['amount']:.2f}",
                "amount_fen": round(r["amount"] * 100),
                "status": r["status"],
                "result": r["result"],
                "reason_code": r["result_code"],
                "reason": r["result_reason"],
                "bank_txn_id": r["bank_txn_id"],
                "paid_at": r["paid_at"],
                "result_at": r["result_at"],
            }
            for r in page
        ]
        return self.get_paginated_response(BankPaymentSerializer(items, many=True).data)


class BankResultViewSet(BankAPIMixin, viewsets.GenericViewSet):
    """回盘记录（银行接口）：本行提交的回盘及其处理结果。"""

    serializer_class = ResultAnswerSerializer
    queryset = ResultSubmission.objects.none()  # for the schema; retrieve() looks up the bank's own
    filter_backends = ()
    pagination_class = None

    @extend_schema(
        summary="查询一次回盘的处理结果（回盘文件处理中为 202）",
        parameters=SIGNATURE_PARAMETERS,
        responses={
            200: ResultAnswerSerializer,
            202: ResultAnswerSerializer,
            404: _NOT_FOUND,
            422: ResultAnswerSerializer,
        },
    )
    def retrieve(self, request, pk=None):
        submission = (
            ResultSubmission.objects.filter(bank=self.bank, pk=pk if str(pk).isdigit() else None)
            .select_related("batch")
            .first()
        )
        if submission is None:
            raise Http404
        status, body = submission_answer(submission)
        return Response(body, status=status)
