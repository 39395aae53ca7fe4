"""REST door for following a job (an import, a check run, a batch file) by its id."""

from rest_framework import serializers
from rest_framework.viewsets import ReadOnlyModelViewSet

from jobs.models import Job
from jobs.selectors import jobs_visible_to


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = (
            "id",
            "kind",
            "status",
            "target_type",
            "target_id",
            "progress_done",
            "progress_total",
            "percent",
            "counts",
            "error_code",
            "error_message",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        )


class JobViewSet(ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    filterset_fields = ("kind", "status")

    def get_queryset(self):
        return jobs_visible_to(self.request.user)
