"""REST doors for who-am-I and the list of departments."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from org.models import Department
from org.scoping import scope_of


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ("code", "name", "short_name", "phone")


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    role = serializers.CharField()
    role_display = serializers.CharField()
    department = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    sees_everything = serializers.BooleanField()


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer, summary="当前用户及其数据范围")
    def get(self, request):
        user = request.user
        return Response(
            MeSerializer(
                {
                    "username": user.get_username(),
                    "full_name": user.full_name,
                    "role": user.role,
                    "role_display": user.get_role_display(),
                    "department": user.department.code if user.department_id else None,
                    "region": user.region.code if user.region_id else None,
                    "sees_everything": scope_of(user).everything,
                }
            ).data
        )


class DepartmentViewSet(ReadOnlyModelViewSet):
    """Departments are public facts (who answers for a policy), so every signed-in user may list them."""

    serializer_class = DepartmentSerializer
    queryset = Department.objects.filter(is_active=True).order_by("code")
    lookup_field = "code"
