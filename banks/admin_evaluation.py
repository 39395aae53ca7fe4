"""代发机构考评 in the admin: the evaluation of every bank for a period, finance's manual score beside it, and the
same table as .xlsx or .csv. Finance and auditors see it; only finance scores (banks.scoring)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from fractions import Fraction
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from banks import evaluation as ev
from banks.evaluation import BankEvaluation, bank_evaluation, default_period, last_month
from banks.models import Bank, BankScore
from banks.scoring import bank_score_save, can_score
from disbursement.ledger import yuan
from disbursement.periods import period_range
from org.scoping import scope_of
from yikatong.spreadsheet import escape_formula

EXPORT_FORMATS = ("xlsx", "csv")
NO_BUSINESS = _("无代发业务")
PENDING = _("待定")
AWAITING_MANUAL = _("待财政评分")


def _percent(rate: Fraction | None) -> Decimal | None:
    return None if rate is None else ev.one_decimal(rate * 100)


def _computed(row: BankEvaluation):
    if not row.has_business:
        return str(NO_BUSINESS)
    return row.computed_score if row.computed_score is not None else str(PENDING)


def _total(row: BankEvaluation):
    if not row.has_business:
        return str(NO_BUSINESS)
    if row.computed_score is None:
        return str(PENDING)
    return row.total_score if row.total_score is not None else str(AWAITING_MANUAL)


def _note(row: BankEvaluation) -> str:
    notes = []
    if row.agreement is None:
        notes.append(str(_("无有效代发协议，按默认时限计")))
    if row.ack_pending or row.result_pending:
        notes.append(
            str(
                _("未到时限、暂不计入：待确认 %(a)s 批，待回盘 %(r)s 批")
                % {"a": row.ack_pending, "r": row.result_pending}
            )
        )
    if row.pending:
        notes.append(str(_("尚无可计分的数据，计算得分待定")))
    return "；".join(notes)


# One table for the page and both exports, so that they can never disagree: (header, cell of a BankEvaluation).
COLUMNS = (
    (_("机构代码"), lambda r: r.bank.code),
    (_("代发金融机构"), lambda r: r.bank.name),
    (_("代发协议"), lambda r: r.agreement.number if r.agreement else "—"),
    (_("接收确认时限（小时）"), lambda r: r.ack_hours),
    (_("回盘时限（小时）"), lambda r: r.result_hours),
    (_("批次数"), lambda r: r.batches),
    (_("笔数"), lambda r: r.payments),
    (_("金额（元）"), lambda r: Decimal(yuan(r.amount_fen))),
    (_("按时确认批次"), lambda r: r.ack_on_time),
    (_("超时确认批次"), lambda r: r.ack_late),
    (_("接收确认及时率（%）"), lambda r: _percent(r.ack_rate)),
    (_("按时回盘批次"), lambda r: r.result_on_time),
    (_("超时回盘批次"), lambda r: r.result_late),
    (_("回盘及时率（%）"), lambda r: _percent(r.result_rate)),
    (_("首次发放已回盘笔数"), lambda r: r.first_answered),
    (_("发放成功笔数"), lambda r: r.first_paid),
    (_("其中后被退回笔数"), lambda r: r.first_returned),
    (_("发放成功率（%）"), lambda r: _percent(r.success_rate)),
    (_("平均确认用时（小时）"), lambda r: r.mean_ack_hours),
    (_("平均回盘用时（小时）"), lambda r: r.mean_close_hours),
    (_("投诉数"), lambda r: r.complaints),
    (_("计算得分（满分80）"), _computed),
    (_("财政评分（满分20）"), lambda r: r.manual_score),
    (_("总分（满分100）"), _total),
    (_("说明"), _note),
)


def evaluation_table(rows: list[BankEvaluation]) -> tuple[list[str], list[list]]:
    """Headers and cells (int, Decimal, text, or None for "nothing to show")."""
    return [str(header) for header, _cell in COLUMNS], [[cell(row) for _header, cell in COLUMNS] for row in rows]


def display(value) -> str:
    """A cell as the page and the .csv show it."""
    return "—" if value is None else str(value)


def export_bytes(period: str, rows: list[BankEvaluation], fmt: str) -> bytes:
    headers, cells = evaluation_table(rows)
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = f"考评{period}"
        sheet.append(headers)
        for line in cells:
            # Numbers stay numbers; text is made inert (a bank's name is typed by a person).
            sheet.append([escape_formula(v) if isinstance(v, str) else v for v in line])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for line in cells:
        writer.writerow([escape_formula(display(v)) for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


class PeriodForm(forms.Form):
    period = forms.CharField(label=_("考评期间"), max_length=7, help_text=_("如 2026-11、2026-Q4 或 2026"))

    def clean_period(self) -> str:
        period = self.cleaned_data["period"].strip()
        try:
            period_range(period)
        except ValueError:
            raise forms.ValidationError(_("考评期间格式不正确（应如 2026-11、2026-Q4 或 2026）。")) from None
        return period


class ScoreForm(forms.Form):
    bank = forms.ModelChoiceField(queryset=Bank.objects.all())
    period = forms.CharField(max_length=7)
    # The range is the service's to check (and the database's): the form only reads a number.
    manual_score = forms.DecimalField(label=_("财政评分"))
    note = forms.CharField(label=_("评分说明"), required=False, max_length=500)


def can_view(user) -> bool:
    return scope_of(user).everything and user.has_perm("banks.view_bankscore")


def recent_periods(latest: str) -> list[str]:
    """Choices for the period field: the last twelve months, four quarters and two years up to ``latest``."""
    year, month = int(latest[:4]), int(latest[5:7])
    months = [f"{year - (month - i <= 0)}-{(month - i - 1) % 12 + 1:02d}" for i in range(12)]
    quarter = (month - 1) // 3 + 1
    quarters = [f"{year - (quarter - i <= 0)}-Q{(quarter - i - 1) % 4 + 1}" for i in range(4)]
    return [*months, *quarters, str(year), str(year - 1)]


class BankScoreAdmin(admin.ModelAdmin):
    """The model's list is the evaluation page; a score is only written through the page's form."""

    list_display = ("bank", "period", "manual_score", "scored_by", "scored_at")

    def has_module_permission(self, request) -> bool:
        return can_view(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_view(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/<str:fmt>/", wrap(self.export_view), name="banks_bankscore_export"),
            path("score/", wrap(self.score_view), name="banks_bankscore_score"),
            *super().get_urls(),
        ]

    def _period(self, request) -> tuple[str, PeriodForm]:
        default = default_period()
        form = PeriodForm(request.GET if "period" in request.GET else {"period": default})
        return (form.cleaned_data["period"] if form.is_valid() else default), form

    def changelist_view(self, request, extra_context=None):
        if not can_view(request.user):
            raise PermissionDenied
        period, form = self._period(request)
        rows = bank_evaluation(period)
        headers, cells = evaluation_table(rows)
        editable = can_score(request.user)
        table = [
            {
                "row": row,
                "cells": [display(v) for v in line],
                "form": ScoreForm(
                    initial={"bank": row.bank.pk, "period": period, "manual_score": row.manual_score,
                             "note": row.manual.note if row.manual else ""},
                    auto_id=f"id_b{row.bank.pk}_%s",
                ) if editable else None,
            }
            for row, line in zip(rows, cells, strict=True)
        ]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": _("代发机构考评（%(period)s）") % {"period": period},
            "opts": self.model._meta,
            "period": period,
            "period_form": form,
            "period_choices": recent_periods(last_month()),
            "headers": headers,
            "table": table,
            "editable": editable,
            "weights": {
                "ack": ev.ACK_POINTS, "result": ev.RESULT_POINTS, "success": ev.SUCCESS_POINTS,
                "complaint": ev.COMPLAINT_PENALTY, "computed": ev.COMPUTED_MAX, "manual": ev.MANUAL_MAX,
                "ack_hours": ev.DEFAULT_ACK_HOURS, "result_hours": ev.DEFAULT_RESULT_HOURS,
            },
            "export_query": urlencode({"period": period}),
        }  # fmt: skip
        return TemplateResponse(request, "admin/banks/evaluation/page.html", context)

    def export_view(self, request, fmt: str):
        if not can_view(request.user) or fmt not in EXPORT_FORMATS:
            raise PermissionDenied
        period, form = self._period(request)
        if form.errors:
            # Never hand over another period's figures under the name of the one asked for.
            return HttpResponseBadRequest("；".join(form.errors["period"]))
        content_type = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response = HttpResponse(export_bytes(period, bank_evaluation(period), fmt), content_type=content_type)
        name = f"代发机构考评-{period}.{fmt}"
        response["Content-Disposition"] = (
            f"attachment; filename=\"bank-evaluation-{period}.{fmt}\"; filename*=UTF-8''{quote(name)}"
        )
        return response

    def score_view(self, request):
        if request.method != "POST":
            return redirect(reverse("admin:banks_bankscore_changelist"))
        if not can_score(request.user):
            raise PermissionDenied
        form = ScoreForm(request.POST)
        back = request.POST.get("period", "").strip()
        if not form.is_valid():
            self.message_user(request, _("评分未保存：请填写 0 到 20 之间的分数。"), messages.ERROR)
        else:
            data = form.cleaned_data
            try:
                bank_score_save(
                    acting_user=request.user, bank=data["bank"], period=data["period"],
                    manual_score=data["manual_score"], note=data["note"],
                )  # fmt: skip
            except ValidationError as exc:
                self.message_user(request, _("评分未保存：%(why)s") % {"why": "；".join(exc.messages)}, messages.ERROR)
            else:
                self.message_user(
                    request, _("已保存 %(bank)s %(period)s 的财政评分。") % {"bank": data["bank"], "period": back},
                    messages.SUCCESS,
                )  # fmt: skip
        url = reverse("admin:banks_bankscore_changelist")
        return redirect(f"{url}?{urlencode({'period': back})}" if back else url)


admin.site.register(BankScore, BankScoreAdmin)
