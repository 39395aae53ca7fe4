"""Long work as a database row: whoever looks can see its state, and a dead worker cannot hide it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jobs.enums import JobStatus
from org.scoping import ScopedQuerySet


class Job(models.Model):
    kind = models.CharField(_("类型"), max_length=64, db_index=True)
    status = models.CharField(_("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    target_type = models.CharField(_("对象类型"), max_length=64, blank=True)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("部门"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    progress_done = models.PositiveBigIntegerField(_("已处理"), default=0)
    progress_total = models.PositiveBigIntegerField(_("总量"), null=True, blank=True)
    counts = models.JSONField(_("结果计数"), default=dict, blank=True)
    error_code = models.CharField(_("错误代码"), max_length=64, blank=True)
    error_message = models.TextField(_("错误信息"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("执行次数"), default=0)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(name="job_status_known", condition=Q(status__in=JobStatus.values)),
            models.CheckConstraint(
                name="job_progress_within_total",
                condition=Q(progress_total__isnull=True) | Q(progress_done__lte=models.F("progress_total")),
            ),
            models.CheckConstraint(
                name="job_running_has_heartbeat",
                condition=~Q(status=JobStatus.RUNNING) | Q(heartbeat_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(self.progress_done * 100 / self.progress_total))
