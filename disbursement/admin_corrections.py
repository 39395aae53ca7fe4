"""失败更正 in the admin: the queue of failed and returned payments a clerk works through, the page of one payment
with its correct and stop forms, and finance's 补发 of a payout's corrected failures. Every act goes through
disbursement.corrections and disbursement.reissue."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _

from banks.models import FailureReason
from disbursement.batches import can_release
from disbursement.corrections import (
    OPEN_STATUSES,
    QUEUE_STATES,
    can_correct,
    correction_payments,
    correction_queue,
    payment_correct,
    payment_stop,
    payouts_to_reissue,
    queue_filter,
    reissue_candidates,
)
from disbursement.models import Correction, Payout, payment_ref
from disbursement.reissue import payout_reissue

PER_PAGE = 100


class QueueFilterForm(forms.Form):
    payout = forms.ChoiceField(label=_("发放项目"), required=False)
    status = forms.ChoiceField(
        label=_("银行回盘"), required=False, choices=[("", _("全部")), *((s.value, s.label) for s in OPEN_STATUSES)]
    )
    state = forms.ChoiceField(label=_("处理情况"), required=False, choices=[("", _("全部")), *QUEUE_STATES])
    reason = forms.ChoiceField(label=_("失败原因"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        codes = (
            Payout.objects.visible_to(user)
            .filter(payments__status__in=OPEN_STATUSES)
            .order_by("code")
            .values_list("code", flat=True)
            .distinct()
        )
        self.fields["payout"].choices = [("", _("全部")), *((code, code) for code in codes)]
        reasons = FailureReason.objects.order_by("position", "code").values_list("code", "name")
        self.fields["reason"].choices = [("", _("全部")), *reasons]


class CorrectForm(forms.Form):
    account = forms.CharField(label=_("更正后银行账号"), max_length=60, help_text=_("12 至 30 位数字"))
    holder_name = forms.CharField(label=_("户名"), max_length=64, required=False, help_text=_("不填沿用原户名"))
    bank_name = forms.CharField(
        label=_("开户银行"), max_length=64, required=False, help_text=_("须为已启用的代发金融机构；不填沿用原开户银行")
    )
    reason = forms.CharField(label=_("核实情况"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StopForm(forms.Form):
    # Optional in the form: an empty reason is answered by the service (reason_required), as over REST.
    reason = forms.CharField(label=_("停发理由"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _messages(exc: Exception) -> str:
    return "；".join(getattr(exc, "messages", None) or [str(exc) or str(_("无权办理。"))])


def reissue_context(user, payout: Payout) -> dict:
    """For the payout page (补发 section, templates/admin/disbursement/corrections/payout_section.html): how many
    corrected failures wait for a reissue, and whether this user may press the button."""
    waiting = reissue_candidates(payout).count()
    queue = reverse("admin:disbursement_correction_changelist")
    return {
        "reissue_waiting": waiting,
        "can_reissue": waiting > 0 and can_release(user),
        "reissue_url": reverse("admin:disbursement_correction_reissue", args=[payout.pk]),
        "corrections_url": f"{queue}?{urlencode({'payout': payout.code})}",
    }


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    """The model's list is the queue of payments (not of corrections): a failed payment waits there until its
    department corrects or stops it; one page per payment; the reissue for finance."""

    exclude = ("account_hash", "account_cipher")
    list_select_related = ("payment__payout", "corrected_by")

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("payment/<int:payment_id>/", wrap(self.payment_view), name="disbursement_correction_payment"),
            path("reissue/<int:payout_id>/", wrap(self.reissue_view), name="disbursement_correction_reissue"),
            *super().get_urls(),
        ]

    def _context(self, request, title) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta}

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = QueueFilterForm(request.GET or None, user=request.user)
        payments = correction_queue(request.user)
        if form.is_valid():
            payments = queue_filter(payments, **{k: v for k, v in form.cleaned_data.items() if v})
        page = Paginator(payments, PER_PAGE).get_page(request.GET.get("page"))
        rows = [
            {
                "payment": payment,
                "ref": payment_ref(payment.payout.code, payment.row, payment.attempt),
                "url": reverse("admin:disbursement_correction_payment", args=[payment.pk]),
                "correction": getattr(payment, "correction", None),
            }
            for payment in page
        ]
        query = request.GET.copy()
        query.pop("page", None)
        return TemplateResponse(
            request,
            "admin/disbursement/corrections/queue.html",
            {
                **self._context(request, _("失败更正")),
                "filter_form": form,
                "rows": rows,
                "page": page,
                "query": query.urlencode(),
                "can_correct": can_correct(request.user),
                "can_reissue": can_release(request.user),
                "to_reissue": payouts_to_reissue(request.user),
                **(extra_context or {}),
            },
        )

    def payment_view(self, request, payment_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(correction_payments(request.user), pk=payment_id)
        correct_form, stop_form = CorrectForm(), StopForm()
        if request.method == "POST":
            act = request.POST.get("do")
            if act == "correct":
                correct_form = CorrectForm(request.POST)
                if correct_form.is_valid():
                    try:
                        payment_correct(acting_user=request.user, payment=payment, **correct_form.cleaned_data)
                    except (ValidationError, PermissionDenied) as exc:
                        correct_form.add_error(None, _messages(exc))
                    else:
                        self.message_user(request, _("已更正，等待财政部门补发。"), messages.SUCCESS)
                        return redirect(reverse("admin:disbursement_correction_payment", args=[payment.pk]))
            elif act == "stop":
                stop_form = StopForm(request.POST)
                if stop_form.is_valid():
                    try:
                        payment_stop(acting_user=request.user, payment=payment, reason=stop_form.cleaned_data["reason"])
                    except (ValidationError, PermissionDenied) as exc:
                        stop_form.add_error(None, _messages(exc))
                    else:
                        self.message_user(request, _("已停发。"), messages.SUCCESS)
                        return redirect(reverse("admin:disbursement_correction_payment", args=[payment.pk]))
        is_open = payment.status in OPEN_STATUSES
        may_act = is_open and can_correct(request.user, payment)
        ref = payment_ref(payment.payout.code, payment.row, payment.attempt)
        return TemplateResponse(
            request,
            "admin/disbursement/corrections/payment.html",
            {
                **self._context(request, _("失败更正：%(ref)s") % {"ref": ref}),
                "payment": payment,
                "ref": ref,
                "correction": getattr(payment, "correction", None),
                "child": getattr(payment, "reissue", None),
                "is_open": is_open,
                "can_correct": may_act and payment.correctable,
                "can_stop": may_act,
                "correct_form": correct_form,
                "stop_form": stop_form,
                "queue_url": reverse("admin:disbursement_correction_changelist"),
                "payout_url": reverse("admin:disbursement_payout_change", args=[payment.payout_id]),
            },
        )

    def reissue_view(self, request, payout_id: int):
        payout = get_object_or_404(Payout.objects.visible_to(request.user), pk=payout_id)
        back = request.POST.get("next") or reverse("admin:disbursement_correction_changelist")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:disbursement_correction_changelist")
        if request.method != "POST":
            return redirect(back)
        if not can_release(request.user):
            raise PermissionDenied
        try:
            batches = payout_reissue(acting_user=request.user, payout=payout)
        except ValidationError as exc:
            self.message_user(request, _("未能补发：%(why)s") % {"why": _messages(exc)}, messages.ERROR)
        else:
            numbers = "、".join(b.batch_no for b in batches)
            count = sum(b.payment_count for b in batches)
            done = _("已补发 %(count)s 笔，生成代发批次 %(batches)s，代发文件正在生成。")
            self.message_user(request, done % {"count": count, "batches": numbers}, messages.SUCCESS)
        return redirect(back)
