"""投诉举报/咨询, the public pages (no login): the form, the status page by tracking number, and the page to type one.

The rules are disclosure.complaints'; these pages parse, count against the rate limits and render. Nothing personal
goes into a URL or back onto a page: the status page never shows the contact, and stars long numbers in the text.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from banks.models import Bank
from disclosure import throttle
from disclosure.complaints import (
    CONTACT_NAME_MAX,
    TEXT_MAX,
    TEXT_MIN,
    complaint_file,
    complaint_public,
    mask_long_numbers,
    public_policy_name,
)
from disclosure.enums import ComplaintKind, ComplaintStatus
from org.enums import RegionLevel
from org.models import Region
from policies.selectors import public_entries
from yikatong.domain.errors import DomainError
from yikatong.domain.masking import mask_phone
from yikatong.net import client_ip

NAV = "complaints"


class ComplaintForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=[("", gettext_lazy("请选择")), *ComplaintKind.choices])
    policy = forms.ChoiceField(
        label=gettext_lazy("涉及政策"),
        required=False,
        help_text=gettext_lazy("不清楚或与具体政策无关的，可不选"),
    )
    township = forms.ChoiceField(label=gettext_lazy("所在乡镇（街道）"), required=False)
    bank = forms.ChoiceField(
        label=gettext_lazy("涉及代发银行"), required=False, help_text=gettext_lazy("反映银行代发问题的，请选择银行")
    )
    text = forms.CharField(
        label=gettext_lazy("内容"),
        min_length=TEXT_MIN,
        max_length=TEXT_MAX,
        help_text=gettext_lazy("%(min)s 至 %(max)s 字。请勿填写身份证号、银行卡号等个人信息。")
        % {"min": TEXT_MIN, "max": TEXT_MAX},
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    contact_name = forms.CharField(
        label=gettext_lazy("联系人（选填）"),
        required=False,
        max_length=CONTACT_NAME_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    contact_phone = forms.CharField(
        label=gettext_lazy("联系电话（选填）"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("仅供承办部门联系您，不会公开"),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The current published list, never a secret entry; grouped by department as the public list is.
        self._entries = {entry.policy.code: entry for entry in public_entries()}
        groups: dict[str, list[tuple[str, str]]] = {}
        for code, entry in self._entries.items():
            groups.setdefault(entry.department.name, []).append((code, entry.name))
        self.fields["policy"].choices = [("", _("不清楚 / 其他")), *groups.items()]
        self._townships = {r.code: r for r in Region.objects.filter(level=RegionLevel.TOWNSHIP).order_by("code")}
        self.fields["township"].choices = [("", _("请选择")), *((c, r.name) for c, r in self._townships.items())]
        self._banks = {b.code: b for b in Bank.objects.filter(is_active=True).order_by("code")}
        self.fields["bank"].choices = [("", _("不涉及")), *((c, b.name) for c, b in self._banks.items())]

    def clean_policy(self):
        code = self.cleaned_data.get("policy")
        return self._entries[code].policy if code else None

    def clean_township(self):
        code = self.cleaned_data.get("township")
        return self._townships[code] if code else None

    def clean_bank(self):
        code = self.cleaned_data.get("bank")
        return self._banks[code] if code else None

    def clean_contact_phone(self):
        phone = self.cleaned_data.get("contact_phone", "").strip()
        if phone:
            try:
                mask_phone(phone)
            except DomainError as error:
                raise ValidationError(str(error.message), code=error.code) from None
        return phone


def _limited(request, template: str, context: dict, usage: throttle.Usage):
    minutes = max(1, (usage.retry_after + 59) // 60)
    context = {
        **context,
        "nav": NAV,
        "limited": _("操作过于频繁，请 %(minutes)s 分钟后再试。") % {"minutes": minutes},
    }
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(usage.retry_after)
    return response


@sensitive_post_parameters("text", "contact_name", "contact_phone")
@require_http_methods(["GET", "POST"])
def complaint_new(request):
    template = "disclosure/complaint_form.html"
    context = {"nav": NAV, "answer_days": settings.COMPLAINT_ANSWER_DAYS}
    if request.method == "GET":
        return render(request, template, {**context, "form": ComplaintForm()})
    form = ComplaintForm(request.POST)
    if not form.is_valid():
        return render(request, template, {**context, "form": form})
    usage = throttle.hit(request, group="complaint-file", rate=throttle.rate("complaint_ip"))
    if usage.exceeded:
        return _limited(request, template, {**context, "form": form}, usage)
    try:
        complaint = complaint_file(**form.cleaned_data, remote_addr=client_ip(request))
    except ValidationError as error:
        form.add_error(None, error)
        return render(request, template, {**context, "form": form})
    url = reverse("disclosure:complaint-status", args=[complaint.tracking_no])
    return _see_other(f"{url}?filed=1")


def _see_other(url: str):
    response = redirect(url)
    response.status_code = 303  # after a POST, the browser GETs the status page
    return response


def _not_found(request):
    # One page for a malformed number and an unknown one: it must not tell them apart.
    return render(request, "disclosure/complaint_not_found.html", {"nav": NAV}, status=404)


@require_http_methods(["GET", "POST"])
def complaint_find(request):
    """A typed tracking number is POSTed, so that whatever is typed (an ID number, by mistake) stays out of URLs."""
    template = "disclosure/complaint_find.html"
    if request.method != "POST":
        return render(request, template, {"nav": NAV})
    number = request.POST.get("no", "")[:40]
    # Echoed back into the box; should someone type an ID number here, it is not printed whole.
    typed = mask_long_numbers(number)
    usage = throttle.hit(request, group="complaint-status", rate=throttle.rate("complaint_status_ip"))
    if usage.exceeded:
        return _limited(request, template, {"typed": typed}, usage)
    complaint = complaint_public(number)
    if complaint is None:
        return render(request, template, {"nav": NAV, "typed": typed, "not_found": True}, status=404)
    return redirect("disclosure:complaint-status", complaint.tracking_no)


@require_GET
def complaint_status(request, tracking_no: str):
    usage = throttle.hit(request, group="complaint-status", rate=throttle.rate("complaint_status_ip"))
    if usage.exceeded:
        return _limited(request, "disclosure/complaint_find.html", {}, usage)
    complaint = complaint_public(tracking_no)
    if complaint is None:
        return _not_found(request)
    now = timezone.now()
    is_open = complaint.status == ComplaintStatus.OPEN
    return render(
        request,
        "disclosure/complaint_status.html",
        {
            "nav": NAV,
            "complaint": complaint,
            "filed": request.GET.get("filed") == "1",
            "policy_name": public_policy_name(complaint),
            "text": mask_long_numbers(complaint.text),
            "answer": mask_long_numbers(complaint.answer),
            "is_open": is_open,
            "overdue": is_open and complaint.due_at < now,
            "answered_late": not is_open and complaint.is_overdue,
        },
    )
