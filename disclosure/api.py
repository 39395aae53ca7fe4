"""The public read-only API beside the pages (no login): payout notices, masked, and the personal lookup.

Mounted under /api/v1/public/ with the policy list's routes (policies/urls.py). The lookup is a POST for the same
reason as on the page: nothing personal in a URL. Its rules are disclosure.lookup's, shared with the page.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from disclosure.lookup import lookup_attempt
from disclosure.notices import ROWS_PER_PAGE, notice_page, public_notices


class PublicNoticeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    policy = serializers.CharField(source="payout.policy_entry.name")
    period = serializers.CharField(source="payout.period")
    department = serializers.CharField(source="payout.department.name")
    region = serializers.CharField(source="payout.region.name")
    region_code = serializers.CharField(source="payout.region.code")
    published_from = serializers.DateField()
    published_to = serializers.DateField()
    objection_line = serializers.CharField()


class NoticeRowSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="脱敏姓名，如 张*三")
    id_number = serializers.CharField(help_text="脱敏身份证号，如 410103********1234")
    township = serializers.CharField()
    village = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class LookupRequestSerializer(serializers.Serializer):
    name = serializers.CharField()
    id_number = serializers.CharField(help_text="18 位身份证号")
    year = serializers.IntegerField(required=False)
    challenge_token = serializers.CharField(required=False)
    challenge_answer = serializers.CharField(required=False)


class LookupPaymentSerializer(serializers.Serializer):
    policy = serializers.CharField()
    period = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField()
    status_label = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    failure_reason = serializers.CharField()
    advice = serializers.CharField()
    account_last4 = serializers.CharField()
    bank_name = serializers.CharField()
    department = serializers.CharField()
    department_phone = serializers.CharField()
    is_reissue = serializers.BooleanField()


_ERROR = inline_serializer(
    "PublicDisclosureError", {"code": serializers.CharField(), "detail": serializers.CharField()}
)


class PublicAPIView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []  # no session: no CSRF either, and nothing to steal


class PublicNoticesView(PublicAPIView):
    @extend_schema(tags=["public"], summary="发放公示列表", responses=PublicNoticeSerializer(many=True))
    def get(self, request):
        return Response(PublicNoticeSerializer(public_notices(), many=True).data)


class PublicNoticeRowsView(PublicAPIView):
    @extend_schema(
        tags=["public"],
        summary="一个公示的名单（脱敏，分页）",
        parameters=[
            OpenApiParameter("area", OpenApiTypes.STR, description="乡镇（9 位）或村（12 位）区划代码"),
            OpenApiParameter("page", OpenApiTypes.INT, description=f"页码，每页 {ROWS_PER_PAGE} 人"),
        ],
        responses={
            200: inline_serializer(
                "PublicNoticeRows",
                {
                    "notice": PublicNoticeSerializer(),
                    "count": serializers.IntegerField(),
                    "total": serializers.DecimalField(max_digits=16, decimal_places=2),
                    "page": serializers.IntegerField(),
                    "pages": serializers.IntegerField(),
                    "rows": NoticeRowSerializer(many=True),
                },
            ),
            400: OpenApiResponse(_ERROR),
            404: OpenApiResponse(_ERROR),
        },
    )
    def get(self, request, pk: int):
        notice = public_notices().filter(pk=pk).first()
        if notice is None:
            raise Http404
        area = request.query_params.get("area", "")
        page = request.query_params.get("page", "1")
        if (area and (not area.isascii() or not area.isdigit() or len(area) not in (9, 12))) or not page.isdigit():
            return Response(
                {"code": "invalid_filter", "detail": "area 须为 9 或 12 位区划代码，page 须为正整数。"}, 400
            )
        result = notice_page(notice, area=area, page=int(page))
        return Response(
            {
                "notice": PublicNoticeSerializer(notice).data,
                "count": result.count,
                "total": f"{result.total:.2f}",
                "page": result.page,
                "pages": result.pages,
                "rows": NoticeRowSerializer(result.rows, many=True).data,
            }
        )


@method_decorator(sensitive_post_parameters("name", "id_number"), name="dispatch")
class PublicLookupView(PublicAPIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=["public"],
        summary="个人补贴发放结果查询",
        description=(
            "姓名 + 18 位身份证号（+ 可选年度）查询本人的发放记录。查无此人与姓名不符的回答完全相同（found=false）。"
            "同一地址查询较多时返回 403 challenge_required 和一个验证问题，带 challenge_token 与 challenge_answer "
            "重新提交；超过限额返回 429 rate_limited 和 Retry-After。"
        ),
        request=LookupRequestSerializer,
        responses={
            200: inline_serializer(
                "PublicLookupAnswer",
                {
                    "found": serializers.BooleanField(),
                    "year": serializers.IntegerField(allow_null=True),
                    "payments": LookupPaymentSerializer(many=True),
                },
            ),
            400: OpenApiResponse(description="invalid: errors 给出各字段的 code 与 message"),
            403: OpenApiResponse(description="challenge_required: challenge = {question, token}"),
            429: OpenApiResponse(description="rate_limited: retry_after 秒"),
        },
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        outcome = lookup_attempt(request, data)
        if outcome.kind == "limited":
            response = Response(
                {"code": "rate_limited", "detail": "查询过于频繁，请稍后再试。", "retry_after": outcome.retry_after},
                status=429,
            )
            response["Retry-After"] = str(outcome.retry_after)
            return response
        if outcome.kind == "challenge":
            return Response(
                {
                    "code": "challenge_required",
                    "detail": "请回答验证问题后重新提交。",
                    "challenge": {"question": outcome.challenge.question, "token": outcome.challenge.token},
                },
                status=403,
            )
        if outcome.kind == "invalid":
            errors = {
                field: [{"code": error.code or "invalid", "message": str(error.message)} for error in items.as_data()]
                for field, items in outcome.form.errors.items()
            }
            return Response({"code": "invalid", "detail": "请检查填写的内容。", "errors": errors}, status=400)
        return Response(
            {
                "found": outcome.found,
                "year": outcome.year,
                "payments": LookupPaymentSerializer(outcome.rows, many=True).data,
            }
        )
