"""Payouts in the admin: a clerk opens a round of their policy, uploads its roster watching the import, follows the
cross-checks (数据比对) and submits the payout once nothing blocks it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from checks.enums import RuleCode, RunStatus, Severity
from checks.evidence import rule_label, rules_run_rows
from checks.selectors import findings_summary, latest_run, submission_blockers
from checks.services import checks_start
from disbursement.enums import PayoutStatus
from disbursement.forms import PayoutCreateForm, RosterUploadForm
from disbursement.models import Payment, Payout
from disbursement.services import payout_create, payout_submit
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from recipients.models import Roster
from recipients.services import roster_upload


@admin.register(Payout)
class PayoutAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "title", "period", "region", "department", "budget_amount", "status", "created_at")
    list_filter = ("status", "department", "period")
    search_fields = ("code", "title")
    change_form_template = "admin/disbursement/payout/change_form.html"

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
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["rosters"] = Roster.objects.filter(payout=obj).select_related("job", "uploaded_by")[:20]
            context["upload_form"] = RosterUploadForm()
            context["can_upload"] = request.user.has_perm("recipients.add_roster") and obj.status == "draft"
            context["payment_count"] = obj.payments.count()
            context.update(checks_context(request.user, obj))
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


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("payout", "row", "recipient", "amount", "account_masked", "bank_name", "holder_name", "status")
    list_filter = ("status", "payout__department", "period")
    search_fields = ("payout__code", "recipient__name")
    list_select_related = ("payout", "recipient")
    exclude = ("account_hash", "account_cipher")
