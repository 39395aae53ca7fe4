"""REST doors for a payout's review (审核): approve, return, withdraw, and its history, under /api/v1/payouts/{code}/.
Another department's payout is 404; an act that is not this user's is 403 with a code; a refused act is 400."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from disbursement.models import Payout, ReviewAction
from disbursement.review import review_approve, review_return, review_withdraw
from disbursement.selectors import review_history


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReviewActionSerializer(serializers.ModelSerializer):
    acted_by = serializers.CharField(source="acted_by.get_username")
    action_label = serializers.CharField(source="get_action_display")

    class Meta:
        model = ReviewAction
        fields = ("step", "role", "action", "action_label", "acted_by", "reason", "acted_at", "due_at", "overdue")


class ReviewStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payout
        fields = ("code", "status", "review_step", "step_due_at", "submitted_at", "approved_total", "approved_at")


_REFUSED = {
    403: OpenApiResponse(
        description="code: not_your_turn（当前环节不是本角色）/ maker_is_checker（不能审核自己提交的）/ "
        "same_person_twice（本轮已审核过）/ out_of_scope / permission_denied"
    ),
    404: OpenApiResponse(description="code: not_found（无此发放项目，或不属于本部门、本乡镇）"),
}


class PayoutReviewViewSet(viewsets.GenericViewSet):
    lookup_field = "code"
    serializer_class = ReviewStateSerializer
    filter_backends = ()
    pagination_class = None

    def get_queryset(self):
        return Payout.objects.visible_to(self.request.user).select_related("region")

    def _act(self, service, request, **kwargs):
        payout = self.get_object()
        try:
            payout = service(acting_user=request.user, payout=payout, **kwargs)
        except PermissionDenied as exc:
            code = getattr(exc, "code", None) or "permission_denied"
            raise ApiPermissionDenied({"code": code, "detail": str(exc) or "无此操作权限。"}) from None
        except ValidationError as exc:
            code = getattr(exc, "code", None) or "invalid"
            raise ApiValidationError({"code": code, "detail": exc.messages}) from None
        return Response(ReviewStateSerializer(payout).data)

    def _reason(self, request) -> str:
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return form.validated_data["reason"]

    @extend_schema(
        summary="审核通过（当前环节；可附审核意见）",
        request=ReasonSerializer,
        responses={
            200: ReviewStateSerializer,
            400: OpenApiResponse(description="code: payout_not_in_review / over_budget（超过预算指标）/ already_acted"),
            **_REFUSED,
        },
    )
    @action(detail=True, methods=["post"], url_path="approve")
    def approve(self, request, code=None):
        return self._act(review_approve, request, reason=self._reason(request))

    @extend_schema(
        summary="退回上一环节（须填写理由；第一环节退回经办人）",
        request=ReasonSerializer,
        responses={
            200: ReviewStateSerializer,
            400: OpenApiResponse(description="code: reason_required（须填写理由）/ payout_not_in_review"),
            **_REFUSED,
        },
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, code=None):
        return self._act(review_return, request, reason=self._reason(request))

    @extend_schema(
        summary="撤回本人上一环节的审核意见（或提交），限下一环节办理前",
        request=ReasonSerializer,
        responses={
            200: ReviewStateSerializer,
            400: OpenApiResponse(description="code: nothing_to_withdraw / already_acted"),
            403: OpenApiResponse(description="code: not_yours_to_withdraw / out_of_scope"),
            404: _REFUSED[404],
        },
    )
    @action(detail=True, methods=["post"], url_path="withdraw")
    def withdraw(self, request, code=None):
        return self._act(review_withdraw, request, reason=self._reason(request))

    @extend_schema(
        summary="审核记录（提交、通过、退回、撤回，按时间先后）",
        responses={200: ReviewActionSerializer(many=True), 404: _REFUSED[404]},
    )
    @action(detail=True, methods=["get"], url_path="reviews")
    def reviews(self, request, code=None):
        payout = self.get_object()
        return Response(ReviewActionSerializer(review_history(payout), many=True).data)
