"""Read-only public REST doors to the published policy list: no login, never a secret entry, never a draft."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny

from org.models import Department
from policies.enums import PolicyLevel
from policies.models import PolicyEntry, PolicyList
from policies.selectors import public_entries, published_lists

TAG = "公开：政策清单"


# --- Serializers -------------------------------------------------------------------------------


class PublicPolicyListSerializer(serializers.ModelSerializer):
    entry_count = serializers.IntegerField(read_only=True, help_text="公开政策数（不含涉密政策）")

    class Meta:
        model = PolicyList
        fields = ("year", "title", "published_at", "entry_count")


class PublicDepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ("code", "name")


class PublicBasisSerializer(serializers.Serializer):
    title = serializers.CharField(source="basis_title")
    number = serializers.CharField(source="basis_number")
    issuer = serializers.CharField(source="basis_issuer")
    date = serializers.DateField(source="basis_date", allow_null=True)


class PublicPolicySerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="policy.code")
    year = serializers.IntegerField(source="policy_list.year")
    department = PublicDepartmentSerializer()
    standard_amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    basis = PublicBasisSerializer(source="*")

    class Meta:
        model = PolicyEntry
        fields = (
            "code",
            "year",
            "name",
            "short_name",
            "department",
            "level",
            "beneficiary",
            "target_group",
            "standard_kind",
            "standard_amount",
            "standard_unit",
            "quantity_unit",
            "frequency",
            "min_age",
            "max_age",
            "excludes_public_employees",
            "valid_from",
            "valid_to",
            "status",
            "contact_office",
            "contact_phone",
            "basis",
        )


class PublicPolicyFilterSerializer(serializers.Serializer):
    """The query string, checked before anything is read: a bad value is a 400, never an empty answer."""

    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)
    department = serializers.SlugField(required=False, max_length=32)
    level = serializers.ChoiceField(required=False, choices=PolicyLevel.choices)
    target = serializers.CharField(required=False, max_length=50, allow_blank=True)
    q = serializers.CharField(required=False, max_length=50, allow_blank=True)

    def validate_department(self, value: str) -> str:
        if not Department.objects.filter(code=value).exists():
            raise serializers.ValidationError("未知的主管部门编码。", code="unknown_department")
        return value


ERROR_RESPONSE = inline_serializer(
    name="PublicError",
    fields={
        "code": serializers.CharField(help_text="机器可读的错误代码，如 invalid_filter、not_found"),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(required=False, help_text="按查询参数列出的错误"),
    },
)


def _filters(request, *, allowed: tuple[str, ...]) -> dict:
    params = {name: request.query_params[name] for name in allowed if name in request.query_params}
    checked = PublicPolicyFilterSerializer(data=params)
    if not checked.is_valid():
        raise ValidationError(
            {"code": "invalid_filter", "detail": "查询参数无效。", "errors": checked.errors},
        )
    return {name: value for name, value in checked.validated_data.items() if value not in ("", None)}


def _require_published_year(year: int | None) -> None:
    # A draft or unknown year is simply not there for the public, exactly like an unknown policy.
    if year is not None and not published_lists().filter(year=year).exists():
        raise NotFound("未找到该年度已公布的政策清单。", code="not_found")


YEAR_PARAMETER = OpenApiParameter(
    "year", OpenApiTypes.INT, description="清单年度；不填为最新公布的年度。未公布的年度返回 404。"
)
FILTER_PARAMETERS = [
    YEAR_PARAMETER,
    OpenApiParameter("department", OpenApiTypes.STR, description="主管部门编码，如 mz"),
    OpenApiParameter("level", OpenApiTypes.STR, enum=PolicyLevel.values, description="政策层级"),
    OpenApiParameter("target", OpenApiTypes.STR, description="补贴对象包含的文字"),
    OpenApiParameter("q", OpenApiTypes.STR, description="关键词：政策名称、简称、编码、补贴对象或依据文件"),
]


# --- Views -------------------------------------------------------------------------------------


class PublicAPIView:
    # No sign-in, so no session and no CSRF: anyone may read, and there is nothing to write.
    permission_classes = [AllowAny]
    authentication_classes = []
    filter_backends = []


class PublicPolicyListsView(PublicAPIView, ListAPIView):
    serializer_class = PublicPolicyListSerializer
    pagination_class = None

    def get_queryset(self):
        return published_lists().annotate(entry_count=Count("entries", filter=Q(entries__is_secret=False)))

    @extend_schema(
        summary="已公布的年度政策清单",
        description="按年度从新到旧列出已公布的清单；entry_count 为公开政策数，不含涉密政策。"
        "草稿和待审核的清单不在其中。",
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublicPolicyEntriesView(PublicAPIView, ListAPIView):
    serializer_class = PublicPolicySerializer

    def get_queryset(self):
        filters = _filters(self.request, allowed=("year", "department", "level", "target", "q"))
        _require_published_year(filters.get("year"))
        return public_entries(**filters)

    @extend_schema(
        summary="公开的补贴政策列表（可按年度、部门、层级、对象、关键词筛选）",
        description="无需登录。只含已公布清单中的非涉密政策；未知的筛选值返回 400（code 为 invalid_filter）。",
        tags=[TAG],
        parameters=FILTER_PARAMETERS,
        responses={
            200: PublicPolicySerializer(many=True),
            400: OpenApiResponse(ERROR_RESPONSE, description="查询参数无效"),
            404: OpenApiResponse(ERROR_RESPONSE, description="该年度清单不存在或未公布"),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublicPolicyDetailView(PublicAPIView, RetrieveAPIView):
    serializer_class = PublicPolicySerializer
    lookup_field = "policy__code"
    lookup_url_kwarg = "code"

    def get_queryset(self):
        filters = _filters(self.request, allowed=("year",))
        _require_published_year(filters.get("year"))
        return public_entries(**filters)

    def get_object(self):
        # An unknown code and a secret one get the same answer, so the API cannot confirm a secret exists.
        entry = self.get_queryset().filter(policy__code=self.kwargs["code"]).first()
        if entry is None:
            raise NotFound("未找到该政策。", code="not_found")
        return entry

    @extend_schema(
        summary="一项公开的补贴政策",
        description="无需登录。政策编码不存在、该年度未公布或政策涉密时，一律返回同样的 404。",
        tags=[TAG],
        parameters=[YEAR_PARAMETER, OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={
            200: PublicPolicySerializer,
            400: OpenApiResponse(ERROR_RESPONSE, description="查询参数无效"),
            404: OpenApiResponse(ERROR_RESPONSE, description="政策不存在、未公布或不公开"),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
