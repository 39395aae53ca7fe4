"""Payouts in the admin: a clerk opens a round of their policy, uploads its roster watching the import, follows the
cross-checks (数据比对) and submits the payout once nothing blocks it; each step of its review chain (审核) then
approves, returns or withdraws on the same page. Finance keeps the chains (审核环节)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from checks.enums import RuleCode, RunStatus, Severity
from checks.evidence import rule_label, rules_run_rows
from checks.selectors import findings_summary, latest_run, submission_blockers
from checks.services import checks_start
from disbursement.admin_corrections import reissue_context
from disbursement.enums import REVIEW_ROLES, PayoutStatus
from disbursement.forms import PayoutCreateForm, RosterUploadForm
from disbursement.models import Payment, Payout, ReviewStep
from disbursement.review import (
    chain_for,
    decision_refusal,
    payout_submit,
    review_approve,
    review_return,
    review_step_delete,
    review_step_save,
    review_withdraw,
    standing_approvals,
    withdraw_refusal,
)
from disbursement.selectors import (
    awaiting_me,
    overdue,
    overdue_counts_by_department,
    review_history,
    with_current_step,
)
from disbursement.services import payout_create
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from org.enums import Role
from recipients.models import Roster
from recipients.services import roster_upload


class HandlingFilter(admin.SimpleListFilter):
    """办理状态: what is waiting, and what waits too long (限时办理)."""

    title = _("办理状态")
    parameter_name = "handling"

    def lookups(self, request, model_admin):
        return (("mine", _("待我审核")), ("overdue", _("超时未办")), ("in_review", _("审核中")))

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(pk__in=awaiting_me(request.user).values("pk"))
        if self.value() == "overdue":
            return overdue(queryset)
        if self.value() == "in_review":
            return queryset.filter(status=PayoutStatus.SUBMITTED)
        return queryset


@admin.register(Payout)
class PayoutAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "code", "title", "period", "region", "department", "budget_amount", "status", "current_step", "created_at",
    )  # fmt: skip
    list_filter = (HandlingFilter, "status", "department", "period")
    search_fields = ("code", "title")
    change_form_template = "admin/disbursement/payout/change_form.html"
    change_list_template = "admin/disbursement/payout/change_list.html"

    def get_queryset(self, request):
        return with_current_step(super().get_queryset(request))

    @admin.display(description=_("当前环节（办理时限）"), ordering="step_due_at")
    def current_step(self, obj):
        if obj.status != PayoutStatus.SUBMITTED:
            return "—"
        due = timezone.localtime(obj.step_due_at).strftime("%Y-%m-%d %H:%M") if obj.step_due_at else ""
        late = obj.step_due_at is not None and obj.step_due_at < timezone.now()
        return f"{obj.current_step_name or obj.review_step}（{due}{' ' + str(_('超时')) if late else ''}）"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "overdue_counts": overdue_counts_by_department(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = PayoutCreateForm

            class Bound(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, user=request.user, **inner)

            kwargs["form"] = Bound
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in Payout._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = payout_create(
            acting_user=request.user, policy=data["policy"], period=data["period"], region=data["region"],
            budget_document=data["budget_document"], budget_amount=data["budget_amount"], title=data["title"],
            roster_due=data["roster_due"], review_due=data["review_due"], payment_due=data["payment_due"],
        )  # fmt: skip
        obj.pk = created.pk

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/upload/", wrap(self.upload_view), name="disbursement_payout_upload"),
            path("<int:pk>/checks/", wrap(self.checks_view), name="disbursement_payout_checks"),
            path("<int:pk>/submit/", wrap(self.submit_view), name="disbursement_payout_submit"),
            path("<int:pk>/review/<str:act>/", wrap(self.review_view), name="disbursement_payout_review"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["rosters"] = Roster.objects.filter(payout=obj).select_related("job", "uploaded_by")[:20]
            context["upload_form"] = RosterUploadForm()
            context["can_upload"] = request.user.has_perm("recipients.add_roster") and obj.status == "draft"
            context["payment_count"] = obj.payments.count()
            context.update(checks_context(request.user, obj))
            context.update(review_context(request.user, obj))
            context.update(reissue_context(request.user, obj))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def upload_view(self, request, pk: int):
        payout = get_object_or_404(Payout.objects.visible_to(request.user), pk=pk)
        form = RosterUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                roster_upload(acting_user=request.user, payout=payout, filename=upload.name, data=upload.read())
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, "；".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
            else:
                self.message_user(request, _("名册已上传，正在导入。"), messages.SUCCESS)
        return redirect(reverse("admin:disbursement_payout_change", args=[payout.pk]))

    def _post_only(self, request, pk: int, perm: str) -> Payout | None:
        """The payout for an action by someone allowed to take it: 404 outside their scope, 403 without the
        permission, None (go back) for anything but a POST."""
        payout = get_object_or_404(Payout.objects.visible_to(request.user), pk=pk)
        if request.method != "POST":
            return None
        if not request.user.has_perm(perm):
            raise PermissionDenied
        return payout

    def checks_view(self, request, pk: int):
        payout = self._post_only(request, pk, "checks.add_checkrun")
        if payout is not None:
            try:
                checks_start(acting_user=request.user, payout=payout)
            except ValidationError as exc:
                self.message_user(request, "；".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, _("已开始重新比对。"), messages.SUCCESS)
        return redirect(reverse("admin:disbursement_payout_change", args=[pk]) + "#checks")

    def submit_view(self, request, pk: int):
        payout = self._post_only(request, pk, "disbursement.change_payout")
        if payout is not None:
            try:
                payout_submit(acting_user=request.user, payout=payout)
            except ValidationError as exc:
                self.message_user(
                    request, _("不能提交审核：%(why)s") % {"why": "；".join(exc.messages)}, messages.ERROR
                )
            else:
                self.message_user(request, _("已提交审核。"), messages.SUCCESS)
        return redirect(reverse("admin:disbursement_payout_change", args=[pk]) + "#checks")

    def review_view(self, request, pk: int, act: str):
        services = {"approve": review_approve, "return": review_return, "withdraw": review_withdraw}
        if act not in services:
            raise Http404
        payout = get_object_or_404(Payout.objects.visible_to(request.user), pk=pk)
        if request.method == "POST":
            reason = request.POST.get("reason", "")
            try:
                services[act](acting_user=request.user, payout=payout, reason=reason)
            except (ValidationError, PermissionDenied) as exc:
                why = "；".join(getattr(exc, "messages", None) or [str(exc) or str(_("无权办理。"))])
                self.message_user(request, _("未能办理：%(why)s") % {"why": why}, messages.ERROR)
            else:
                done = {"approve": _("已审核通过。"), "return": _("已退回。"), "withdraw": _("已撤回。")}[act]
                self.message_user(request, done, messages.SUCCESS)
        return redirect(reverse("admin:disbursement_payout_change", args=[pk]) + "#review")


def review_context(user, payout: Payout) -> dict:
    """The payout page's 审核 section: the chain with who acted at each step and when, the history, and the
    forms for the user whose turn it is."""
    now = timezone.now()
    # A draft shows the chain it would take if this user submitted it now.
    draft = payout.status == PayoutStatus.DRAFT
    chain = chain_for(payout, submitter=user) if draft else chain_for(payout)
    history = list(review_history(payout))
    standing = standing_approvals(payout)
    standing_ids = {s.action_id for s in standing}
    approvals = {a.step: a for a in history if a.pk in standing_ids}
    in_review = payout.status == PayoutStatus.SUBMITTED
    steps = []
    for step in chain:
        current = in_review and step.position == payout.review_step
        act = approvals.get(step.position)
        due = payout.step_due_at if current else (act.due_at if act else None)
        steps.append(
            {
                "step": step,
                "role_label": Role(step.role).label,
                "current": current,
                "action": act,
                "due": due,
                "overdue": (act.overdue if act else current and due is not None and now > due),
            }
        )
    return {
        "review_steps": steps,
        "review_history": history,
        "can_decide": decision_refusal(user, payout, chain, standing) is None if in_review else False,
        "can_withdraw": payout.status in (PayoutStatus.SUBMITTED, PayoutStatus.APPROVED)
        and withdraw_refusal(user, payout, standing) is None,
    }


def checks_context(user, payout: Payout) -> dict:
    """What the payout page shows about cross-checks, and which of its buttons this user may press."""
    draft = payout.status == PayoutStatus.DRAFT
    run = latest_run(payout)
    findings_url = reverse("admin:checks_finding_changelist")
    summary = []
    order = {code: index for index, code in enumerate(RuleCode.values)}  # the documented order, as in the run
    for row in sorted(findings_summary(payout), key=lambda row: (order.get(row["rule"], len(order)), row["rule"])):
        query = {"payout__id__exact": payout.pk, "rule": row["rule"]}
        summary.append(
            {
                **row,
                "name": rule_label(row["rule"]),
                "severity_label": Severity(row["severity"]).label if row["severity"] in Severity.values else "",
                "url": f"{findings_url}?{urlencode(query)}",
                "open_url": f"{findings_url}?{urlencode({**query, 'status__exact': 'open'})}",
            }
        )
    return {
        "check_run": run,
        "check_rules": rules_run_rows(run.rules_run) if run else [],
        "check_in_progress": run is not None and run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        "findings_summary": summary,
        "findings_url": f"{findings_url}?{urlencode({'payout__id__exact': payout.pk})}",
        "blockers": [message for _code, message in submission_blockers(payout)] if draft else [],
        "can_check": draft and user.has_perm("checks.add_checkrun"),
        "can_submit": draft and user.has_perm("disbursement.change_payout"),
    }


class ReviewStepForm(forms.ModelForm):
    role = forms.ChoiceField(label=_("审核角色"), choices=[(role, Role(role).label) for role in REVIEW_ROLES])

    class Meta:
        model = ReviewStep
        fields = ("policy", "position", "role", "name", "hours_allowed")


@admin.register(ReviewStep)
class ReviewStepAdmin(admin.ModelAdmin):
    """Finance keeps the review chains: the default one (no policy) and any policy's own."""

    form = ReviewStepForm
    list_display = ("policy_label", "position", "name", "role_label", "hours_allowed")
    list_filter = ("policy",)
    list_select_related = ("policy",)
    ordering = ("policy", "position")

    @admin.display(description=_("补贴政策"), ordering="policy")
    def policy_label(self, obj):
        return obj.policy or _("默认审核流程")

    @admin.display(description=_("审核角色"), ordering="role")
    def role_label(self, obj):
        return Role(obj.role).label if obj.role in Role.values else obj.role

    def _finance(self, request) -> bool:
        return request.user.is_superuser or request.user.role == Role.FINANCE_ADMIN

    def has_add_permission(self, request) -> bool:
        return self._finance(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._finance(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._finance(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        review_step_save(acting_user=request.user, step=obj)

    def delete_model(self, request, obj):
        review_step_delete(acting_user=request.user, step=obj)

    def delete_queryset(self, request, queryset):
        for step in queryset.order_by("pk"):
            review_step_delete(acting_user=request.user, step=step)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("payout", "row", "recipient", "amount", "account_masked", "bank_name", "holder_name", "status")
    list_filter = ("status", "payout__department", "period")
    search_fields = ("payout__code", "recipient__name")
    list_select_related = ("payout", "recipient")
    exclude = ("account_hash", "account_cipher")


from disbursement import admin_batches, admin_corrections  # noqa: E402, F401
