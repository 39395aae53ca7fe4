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
    POLICY_LIST_START = "policy_list.start", _("新建年度政策清单")
    POLICY_LIST_SUBMIT = "policy_list.submit", _("提交政策清单审核")
    POLICY_LIST_RETURN = "policy_list.return", _("退回政策清单")
    POLICY_LIST_PUBLISH = "policy_list.publish", _("公布政策清单")
    POLICY_LIST_IMPORT = "policy_list.import", _("导入政策清单")
    POLICY_ENTRY_CREATE = "policy_entry.create", _("新增清单政策")
    POLICY_ENTRY_UPDATE = "policy_entry.update", _("修改清单政策")
    POLICY_ENTRY_REMOVE = "policy_entry.remove", _("移出清单政策")
    POLICY_PROPOSAL_CREATE = "policy_proposal.create", _("申报政策调整")
    POLICY_PROPOSAL_APPROVE = "policy_proposal.approve", _("同意政策调整")
    POLICY_PROPOSAL_REJECT = "policy_proposal.reject", _("退回政策调整")
    PAYOUT_CREATE = "payout.create", _("创建发放项目")
    ROSTER_UPLOAD = "roster.upload", _("上传名册")
    ROSTER_IMPORT = "roster.import", _("导入名册")
    ROSTER_REJECT = "roster.reject", _("名册文件被拒绝")
