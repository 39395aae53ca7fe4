"""REST doors for 失败更正 and 补发: the correction queue, correcting or stopping one failed payment
(/api/v1/corrections/…), and reissuing a payout's corrected failures (POST /api/v1/payouts/{code}/reissue/).
Accounts are masked in every answer; another department's payment or payout is 404."""

from __future__ import annotations

import django_filters
from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from disbursement.api_batches import BatchSerializer
from disbursement.batches import batches_visible_to
from disbursement.corrections import (
    OPEN_STATUSES,
    QUEUE_STATES,
    correction_payments,
    correction_queue,
    payment_correct,
    payment_stop,
    queue_filter,
)
from disbursement.models import Correction, Payment, Payout, payment_ref
from disbursement.reissue import payout_reissue


class CorrectionSerializer(serializers.ModelSerializer):
    corrected_by = serializers.CharField(source="corrected_by.get_username")
    account_masked = serializers.CharField(help_text="更正后银行账号（脱敏，仅后四位）")

    class Meta:
        model = Correction
        fields = ("kind", "account_masked", "bank_name", "holder_name", "reason", "corrected_by", "corrected_at")


class QueueItemSerializer(serializers.ModelSerializer):
    payment_id = serializers.IntegerField(source="pk")
    payment_ref = serializers.SerializerMethodField(help_text="明细编号，如 MZ-04-2026-11-000002（补发为 …-R2）")
    payout = serializers.CharField(source="payout.code", help_text="发放项目编号")
    recipient = serializers.CharField(source="recipient.name")
    recipient_id_masked = serializers.CharField(source="recipient.id_masked", help_text="身份证号（脱敏）")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="金额（元）")
    account_masked = serializers.CharField(help_text="原银行账号（脱敏，仅后四位）")
    batch_no = serializers.CharField(source="batch.batch_no", allow_null=True, default=None)
    reason_name = serializers.CharField(allow_null=True, help_text="失败原因（发放失败原因目录中的名称）")
    correctable = serializers.BooleanField(help_text="false：该原因只能停发，不能更正后补发")
    pending = serializers.BooleanField(help_text="true：尚未更正或停发")
    correction = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = (
            "payment_id", "payment_ref", "payout", "row", "attempt", "recipient", "recipient_id_masked", "amount",
            "account_masked", "bank_name", "holder_name", "status", "result", "result_code", "reason_name",
            "result_reason", "correctable", "result_at", "returned_at", "batch_no", "pending", "correction",
        )  # fmt: skip

    def get_payment_ref(self, payment: Payment) -> str:
        return payment_ref(payment.payout.code, payment.row, payment.attempt)

    @extend_schema_field(CorrectionSerializer(allow_null=True))
    def get_correction(self, payment: Payment) -> dict | None:
        correction = getattr(payment, "correction", None)
        return CorrectionSerializer(correction).data if correction is not None else None


class CorrectSerializer(serializers.Serializer):
    # Optional here so that what is missing or malformed is answered with the service's own codes.
    account = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=60, help_text="更正后的银行账号（12–30 位数字）"
    )
    holder_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="户名；不填沿用原户名"
    )
    bank_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="开户银行；不填沿用原开户银行"
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="核实情况（可不填）"
    )


class StopSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="停发理由（必填）"
    )


class ReissuedSerializer(serializers.Serializer):
    payout = serializers.CharField()
    payments = serializers.IntegerField(help_text="补发笔数")
    batches = BatchSerializer(many=True)


class QueueFilter(django_filters.FilterSet):
    payout = django_filters.CharFilter(method="narrow", help_text="发放项目编号")
    status = django_filters.ChoiceFilter(
        method="narrow",
        choices=[(s.value, s.label) for s in OPEN_STATUSES],
        help_text="failed（失败）或 returned（退回）",
    )
    state = django_filters.ChoiceFilter(
        method="narrow", choices=QUEUE_STATES, help_text="pending 待更正 / corrected 已更正待补发"
    )
    reason = django_filters.CharFilter(method="narrow", help_text="失败原因代码，如 account_closed")

    class Meta:
        model = Payment
        fields = ("payout", "status", "state", "reason")

    def narrow(self, queryset, name, value):
        return queue_filter(queryset, **{name: value})


def _refused(exc: Exception):
    if isinstance(exc, PermissionDenied):
        code = getattr(exc, "code", None) or "permission_denied"
        return ApiPermissionDenied({"code": code, "detail": str(exc) or "无此操作权限。"})
    code = getattr(exc, "code", None) or "invalid"
    return ApiValidationError({"code": code, "detail": exc.messages})


_NOT_FOUND = OpenApiResponse(description="code: not_found（无此发放明细，或不属于本部门、本乡镇）")
_REFUSED = OpenApiResponse(description="code: not_clerk（仅主管部门经办人可以更正、停发）/ out_of_scope")


@extend_schema_view(
    list=extend_schema(
        summary="失败更正队列：银行回盘失败或退回、待本部门处理的发放明细（账号脱敏）",
        responses={200: QueueItemSerializer(many=True), 400: OpenApiResponse(description="code: invalid（筛选条件）")},
    ),
    retrieve=extend_schema(
        summary="一条发放明细的失败原因与更正、停发情况（账号脱敏）",
        responses={200: QueueItemSerializer, 404: _NOT_FOUND},
    ),
)
class CorrectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = QueueItemSerializer
    lookup_url_kwarg = "payment_id"
    lookup_value_regex = r"[0-9]+"
    filterset_class = QueueFilter

    def get_queryset(self):
        if self.action == "list":
            return correction_queue(self.request.user)
        return correction_payments(self.request.user)

    def _answer(self, request, payment_id) -> Response:
        payment = correction_payments(request.user).get(pk=payment_id)
        return Response(QueueItemSerializer(payment).data)

    @extend_schema(
        summary="更正失败明细的银行账号（户名、开户银行可不填沿用原值），待财政部门补发",
        request=CorrectSerializer,
        examples=[
            OpenApiExample(
                "更正账号",
                value={
                    "account": "6217002430012345678",
                    "holder_name": "",
                    "bank_name": "建设银行",
                    "reason": "已电话核实",
                },
                request_only=True,
            )
        ],
        responses={
            200: QueueItemSerializer,
            400: OpenApiResponse(
                description="code: account_missing / account_format / account_not_text（账号不正确）/ bank_unknown"
                "（不是已启用的代发金融机构）/ holder_too_long / not_correctable（已补发、已停发或不是失败明细）/ "
                "reason_not_correctable（该失败原因只能停发）"
            ),
            403: _REFUSED,
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], url_path="correct")
    def correct(self, request, payment_id=None):
        payment = self.get_object()
        form = CorrectSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            payment_correct(acting_user=request.user, payment=payment, **form.validated_data)
        except (PermissionDenied, ValidationError) as exc:
            raise _refused(exc) from None
        return self._answer(request, payment.pk)

    @extend_schema(
        summary="停发失败明细（须填写理由）",
        request=StopSerializer,
        responses={
            200: QueueItemSerializer,
            400: OpenApiResponse(description="code: reason_required（须填写理由）/ not_correctable"),
            403: _REFUSED,
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], url_path="stop")
    def stop(self, request, payment_id=None):
        payment = self.get_object()
        form = StopSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            payment_stop(acting_user=request.user, payment=payment, reason=form.validated_data["reason"])
        except (PermissionDenied, ValidationError) as exc:
            raise _refused(exc) from None
        return self._answer(request, payment.pk)


class PayoutReissueViewSet(viewsets.GenericViewSet):
    lookup_field = "code"
    serializer_class = ReissuedSerializer
    filter_backends = ()

    def get_queryset(self):
        return Payout.objects.visible_to(self.request.user)

    @extend_schema(
        summary="补发：已更正的失败明细按代发银行生成新的代发批次（异步生成代发文件）",
        request=None,
        responses={
            202: ReissuedSerializer,
            400: OpenApiResponse(
                description="code: nothing_to_reissue（没有已更正待补发的明细）/ bank_unknown（更正后的开户银行"
                "已不是启用的代发金融机构，banks 为各银行名称及笔数）"
            ),
            403: OpenApiResponse(description="code: permission_denied（仅财政部门可补发）"),
            404: OpenApiResponse(description="code: not_found（无此发放项目，或不在本人可见范围）"),
        },
    )
    @action(detail=True, methods=["post"], url_path="reissue")
    def reissue(self, request, code=None):
        payout = self.get_object()
        try:
            batches = payout_reissue(acting_user=request.user, payout=payout)
        except PermissionDenied as exc:
            raise ApiPermissionDenied({"code": "permission_denied", "detail": str(exc)}) from None
        except ValidationError as exc:
            body = {"code": exc.code or "invalid", "detail": exc.messages}
            if exc.code == "bank_unknown":
                body["banks"] = exc.params["banks"]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        batches = list(batches_visible_to(request.user).filter(pk__in=[b.pk for b in batches]))
        body = {"payout": payout.code, "payments": sum(b.payment_count for b in batches), "batches": batches}
        return Response(ReissuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
