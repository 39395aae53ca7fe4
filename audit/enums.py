from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """Event types; later issues add theirs here so that every action has a stable name."""

    LOGIN = "auth.login", _("登录")
    LOGIN_FAILED = "auth.login_failed", _("登录失败")
    LOCKED_OUT = "auth.locked_out", _("账号锁定")
    LOGOUT = "auth.logout", _("退出")
    ACCESS_DENIED = "access.denied", _("拒绝访问")
    USER_CREATE = "user.create", _("创建用户")
    USER_UPDATE = "user.update", _("修改用户")
    DEPARTMENT_CREATE = "department.create", _("创建部门")
    DEPARTMENT_UPDATE = "department.update", _("修改部门")
    REGION_LOAD = "region.load", _("导入行政区划")
    JOB_ENQUEUE = "job.enqueue", _("提交后台任务")
    JOB_FINISH = "job.finish", _("后台任务完成")
    JOB_FAIL = "job.fail", _("后台任务失败")
    AUDIT_VERIFY = "audit.verify", _("校验审计链")
    DEMO_SEED = "demo.seed", _("载入演示数据")
