"""个人补贴发放结果查询: a person's own payments, found by name and ID number, within the public rate limits.

One function, ``lookup_attempt``, is the whole rule for both doors (the page and the public API): count the request,
ask for a challenge past the soft limit, validate, count the ID, query. "No such person", "the name does not match"
and "nothing paid that year" give one and the same answer from one and the same query, so neither the answer nor
its timing tells them apart. The ID is never logged, put in a URL or a cache key (only its keyed hash, hashed again).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from banks.models import FailureReason
from disbursement.enums import PaymentStatus
from disbursement.ledger import MOVED
from disbursement.models import Payment, Payout
from disclosure import throttle
from disclosure.challenge import Challenge, challenge_new, challenge_passed
from org.models import Department
from policies.models import PolicyEntry
from recipients.models import Recipient
from yikatong import pii
from yikatong.domain.citizen_id import normalize_id, parse_citizen_id
from yikatong.domain.errors import DomainError

# What the public sees of a payment: what the ledger counts as money that moved, from approval on. Drafts and
# rosters under review are not yet anyone's money; a cancelled row never was.
PUBLIC_STATUSES = MOVED

# Plain words for a citizen, and what to do next. {department} is the payout's department.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    PaymentStatus.APPROVED: (_("已审核，待发放"), _("资金将按批次拨付到您的账户，请留意到账。")),
    PaymentStatus.BATCHED: (_("银行发放中"), _("银行正在办理，一般数个工作日内到账。")),
    PaymentStatus.SENT: (_("银行发放中"), _("银行正在办理，一般数个工作日内到账。")),
    PaymentStatus.PAID: (_("已发放到账"), ""),
    PaymentStatus.FAILED: (_("发放未成功"), ""),
    PaymentStatus.RETURNED: (_("资金被退回"), ""),
    PaymentStatus.REISSUED: (_("已更正后补发"), _("原发放未成功，已更正账户后重新发放，见本期另一条记录。")),
    PaymentStatus.STOPPED: (_("已停发"), _("如对停发有疑问，请联系{department}。")),
}
_BRING = _("请本人携带身份证和银行卡（折）到{department}或所在乡镇（街道）便民服务中心")
FAILURE_ADVICE: dict[str, str] = {
    "account_closed": _("您登记的银行卡（折）已注销。") + _BRING + _("登记新的本人账户，登记后将予以补发。"),
    "name_mismatch": _("银行账户户名与您的姓名不一致。") + _BRING + _("核实更正，更正后将予以补发。"),
    "account_frozen": _("您的账户被冻结。请先到开户银行了解原因并解除冻结，或到{department}登记其他本人账户。"),
    "card_limit": _("您的账户已达交易限额。请到开户银行调整限额，或到{department}更换账户。"),
    "account_not_found": _("登记的账号有误，银行查无此户。") + _BRING + _("核实账号，更正后将予以补发。"),
    "account_dormant": _("您的账户长期未使用已转为久悬户。请到开户银行办理激活，并告知{department}。"),
    "holder_deceased": _("银行登记该账户户主已身故，请家属联系{department}办理。"),
}
_ADVICE_CORRECTABLE = _("账户信息有误，资金未能到账。") + _BRING + _("核实账户信息，核实后将予以补发。")
_ADVICE_OTHER = _("请联系{department}咨询。")

EARLIEST_YEAR = 2015


def year_choices() -> list[tuple]:
    """全部年度, then this year back to EARLIEST_YEAR."""
    this_year = timezone.localdate().year
    return [("", _("全部年度")), *((y, y) for y in range(this_year, EARLIEST_YEAR - 1, -1))]


class LookupForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=32)
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=24,
        help_text=_("18 位，末位可为 X"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"}),
    )
    year = forms.TypedChoiceField(label=_("年度"), required=False, coerce=int, empty_value=None)
    challenge_token = forms.CharField(required=False, widget=forms.HiddenInput)
    challenge_answer = forms.CharField(label=_("验证问题"), required=False, max_length=4)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices()

    def clean_name(self) -> str:
        name = "".join(self.cleaned_data["name"].split())
        if not name or any(ch.isdigit() for ch in name):
            raise ValidationError(_("请填写本人姓名（与身份证一致）。"), code="name_invalid")
        return name

    def clean_id_number(self) -> str:
        try:
            number = normalize_id(self.cleaned_data["id_number"])
            if len(number) != 18:
                raise DomainError("id_format", _("请填写 18 位身份证号（末位可为 X）。"))
            return parse_citizen_id(number).number
        except DomainError as exc:
            raise ValidationError(exc.message, code=exc.code) from None


@dataclass(frozen=True)
class LookupRow:
    policy: str
    period: str
    amount: Decimal
    status: str
    status_label: str
    paid_at: dt.datetime | None
    failure_reason: str
    advice: str
    account_last4: str
    bank_name: str
    department: str
    department_phone: str
    is_reissue: bool


@dataclass
class LookupOutcome:
    """What one attempt came to. ``kind``: invalid | limited | challenge | answered."""

    kind: str
    form: LookupForm
    rows: list[LookupRow] = field(default_factory=list)
    year: int | None = None
    retry_after: int = 0
    challenge: Challenge | None = None
    # Whether this address's next lookup will need a challenge: known from the count this one just made.
    challenge_next: bool = False

    @property
    def found(self) -> bool:
        return bool(self.rows)


def _advice(status: str, code: str, correctable: bool | None, department: str) -> str:
    if status in (PaymentStatus.FAILED, PaymentStatus.RETURNED):
        text = FAILURE_ADVICE.get(code) or (_ADVICE_CORRECTABLE if correctable is not False else _ADVICE_OTHER)
    else:
        text = STATUS_WORDS[status][1]
    return str(text).format(department=department or _("主管部门"))


@functools.cache
def _person_sql() -> str:
    """The one statement of ``person_payments``, built once from the models' tables.

    A fixed statement rather than a queryset: the ORM compiles a query afresh on every call, which cost more than
    the query itself (0.65 ms against 0.12 ms per lookup, docs/benchmarks.md), on the busiest public page.
    """
    payment, payout = Payment._meta.db_table, Payout._meta.db_table
    return (
        f"SELECT e.name, p.period, p.amount, p.status, p.paid_at, p.result_code, p.account_masked, p.bank_name,"
        f" d.name, d.phone, p.attempt"
        f" FROM {payment} p"
        f" JOIN {Recipient._meta.db_table} r ON r.id = p.recipient_id"
        f" JOIN {payout} o ON o.id = p.payout_id"
        f" JOIN {PolicyEntry._meta.db_table} e ON e.id = o.policy_entry_id"
        f" JOIN {Department._meta.db_table} d ON d.id = o.department_id"
        f" WHERE r.id_hash = %s AND r.name = %s AND p.status IN ({', '.join(['%s'] * len(PUBLIC_STATUSES))})"
        f" AND p.period LIKE %s"
        f" ORDER BY p.period DESC, o.code, p.attempt"
    )


def person_payments(*, name: str, id_number: str, year: int | None = None) -> list[LookupRow]:
    """Every public payment of the person with exactly this ID and name, newest period first.

    One query whatever the case: an unknown ID and a known ID with another name both come back empty from it, and
    a year is a parameter, not another statement.
    """
    params = [
        pii.keyed_hash(id_number, purpose="id_number"),
        name,
        *map(str, PUBLIC_STATUSES),
        f"{year}%" if year is not None else "%",
    ]
    with connection.cursor() as cursor:
        cursor.execute(_person_sql(), params)
        rows = cursor.fetchall()
    reasons = {}
    if any(row[5] for row in rows):
        reasons = {code: (name, correctable) for code, name, correctable in FailureReason.objects.values_list(
            "code", "name", "correctable"
        )}  # fmt: skip
    answer = []
    for policy, period, amount, status, paid_at, code, masked, bank, department, phone, attempt in rows:
        reason_name, correctable = reasons.get(code, ("", None))
        answer.append(
            LookupRow(
                policy=policy,
                period=period,
                amount=amount,
                status=status,
                status_label=str(STATUS_WORDS[status][0]),
                paid_at=paid_at if status in (PaymentStatus.PAID, PaymentStatus.RETURNED) else None,
                failure_reason=str(reason_name) if status in (PaymentStatus.FAILED, PaymentStatus.RETURNED) else "",
                advice=_advice(status, code, correctable, department),
                account_last4=masked[-4:],
                bank_name=bank,
                department=department,
                department_phone=phone,
                is_reissue=attempt > 1,
            )
        )
    return answer


def challenge_due(request) -> Challenge | None:
    """A challenge to put on the next form, when this address's next lookup will need one."""
    recent = throttle.peek(request, group="lookup.challenge", rate=throttle.rate("lookup_challenge"))
    return challenge_new() if recent.count >= recent.limit else None


def lookup_attempt(request, data) -> LookupOutcome:
    """Apply the public rules to one submitted lookup (``data``: the POSTed form or JSON body)."""
    form = LookupForm(data)
    per_address = throttle.hit(request, group="lookup.ip", rate=throttle.rate("lookup_ip"))
    if per_address.exceeded:
        return LookupOutcome("limited", form, retry_after=per_address.retry_after)
    recent = throttle.hit(request, group="lookup.challenge", rate=throttle.rate("lookup_challenge"))
    if recent.exceeded and not challenge_passed(
        str(form.data.get("challenge_token") or ""), str(form.data.get("challenge_answer") or "")
    ):
        return LookupOutcome("challenge", form, challenge=challenge_new())
    if not form.is_valid():
        return LookupOutcome("invalid", form, challenge_next=recent.count >= recent.limit)
    id_number = form.cleaned_data["id_number"]
    # Keyed twice over: the cache sees a hash of this purpose-bound hash, never the number.
    per_id = throttle.hit(
        request, group="lookup.id", rate=throttle.rate("lookup_id"), key=pii.keyed_hash(id_number, purpose="lookup")
    )
    if per_id.exceeded:
        return LookupOutcome(
            "limited", form, retry_after=per_id.retry_after, challenge_next=recent.count >= recent.limit
        )
    year = form.cleaned_data.get("year")
    rows = person_payments(name=form.cleaned_data["name"], id_number=id_number, year=year)
    return LookupOutcome("answered", form, rows=rows, year=year, challenge_next=recent.count >= recent.limit)
