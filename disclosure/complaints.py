"""投诉举报/咨询: the public files a complaint or question and follows it by its tracking number; finance assigns it
to the responsible department, which answers within COMPLAINT_ANSWER_DAYS. Services write (audited), selectors read."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disclosure.enums import ComplaintKind, ComplaintStatus
from disclosure.models import TRACKING_PATTERN, Complaint
from org.enums import DEPARTMENT_ROLES, RegionLevel
from org.scoping import scope_of
from policies.enums import ListStatus
from policies.models import PolicyEntry
from yikatong import pii
from yikatong.domain.errors import DomainError, Refused
from yikatong.domain.masking import mask_phone

CHANGE_PERMISSION = "disclosure.change_complaint"
TEXT_MIN = 10
TEXT_MAX = 2000
ANSWER_MAX = 4000
CONTACT_NAME_MAX = Complaint._meta.get_field("contact_name").max_length
# Who filed, in the trail: the public has no account.
PUBLIC_ACTOR = "公众"

# Crockford's base32 without I, L, O and U: nothing a person could misread when typing it back.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_CHARS = 8
_TRACKING = re.compile(TRACKING_PATTERN)
# The letters a person may type for a digit (Crockford's decoding rules), and the dashes a phone keyboard offers.
_TYPED_FOR_DIGIT = str.maketrans({"O": "0", "I": "1", "L": "1"})
_DASHES = re.compile(r"[\s\u2010-\u2015\u2212\uff0d_]+")
_ATTEMPTS = 5

# A run of 12 or more digits (full-width too, spaces or dashes between them), optionally ending in X: an ID number
# (18) or a bank account (12–30) a citizen typed into the text. Shorter numbers — dates, amounts, phones — stay.
_DIGIT = r"[0-9\uff10-\uff19]"
_LONG_NUMBER = re.compile(rf"{_DIGIT}(?:[ \-\u3000]?{_DIGIT}){{11,}}(?:[ \-\u3000]?[XxＸｘ])?")
_KEEP_LAST = 4


class ComplaintRefused(Refused):
    """An act on a complaint this user may not take, with a machine-readable code."""


# --- Masking and tracking numbers -----------------------------------------------------------------------------


def mask_long_numbers(text: str) -> str:
    """The text with every long number starred but its last 4 characters: what a public page may show."""

    def starred(match: re.Match) -> str:
        chars = [c for c in match.group(0) if not c.isspace() and c not in "-\u3000"]
        return "*" * (len(chars) - _KEEP_LAST) + "".join(chars[-_KEEP_LAST:])

    return _LONG_NUMBER.sub(starred, text or "")


def new_tracking_no(on: dt.date) -> str:
    """TS-YYYYMMDD- and 8 random Crockford characters (40 bits from ``secrets``): unguessable, easy to read out."""
    tail = "".join(secrets.choice(CROCKFORD) for _ in range(_RANDOM_CHARS))
    return f"TS-{on:%Y%m%d}-{tail}"


def normalize_tracking_no(raw: object) -> str | None:
    """A tracking number as a person may type it (lower case, spaces, full-width, O for 0) in its one written form,
    or None when it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    text = _DASHES.sub("-", unicodedata.normalize("NFKC", raw).strip().upper())
    text = text.strip("-")
    if not text.startswith("TS-"):
        text = "TS-" + text.removeprefix("TS")
    parts = text.split("-")
    if len(parts) == 3:
        text = f"{parts[0]}-{parts[1]}-{parts[2].translate(_TYPED_FOR_DIGIT)}"
    elif len(parts) == 2 and len(parts[1]) == 8 + _RANDOM_CHARS:
        text = f"TS-{parts[1][:8]}-{parts[1][8:].translate(_TYPED_FOR_DIGIT)}"
    return text if _TRACKING.match(text) else None


# --- Reading ----------------------------------------------------------------------------------------------------


def complaints_overdue(complaints: QuerySet | None = None, *, now: dt.datetime | None = None) -> QuerySet:
    """Open complaints past their time limit (of ``complaints`` when given, e.g. a user's ``visible_to``), oldest
    limit first."""
    base = complaints if complaints is not None else Complaint.objects.all()
    return base.filter(status=ComplaintStatus.OPEN, due_at__lt=now or timezone.now()).order_by("due_at", "pk")


def complaints_answered_late(complaints: QuerySet | None = None) -> QuerySet:
    base = complaints if complaints is not None else Complaint.objects.all()
    return base.filter(status=ComplaintStatus.ANSWERED, answered_at__gt=F("due_at"))


def complaints_on_time(complaints: QuerySet | None = None, *, now: dt.datetime | None = None) -> QuerySet:
    """Open and still within the limit, or answered within it."""
    base = complaints if complaints is not None else Complaint.objects.all()
    return base.filter(
        Q(status=ComplaintStatus.OPEN, due_at__gte=now or timezone.now())
        | Q(status=ComplaintStatus.ANSWERED, answered_at__lte=F("due_at"))
    )


def complaint_public(tracking_no: object) -> Complaint | None:
    """The complaint with this tracking number (typed in any of the forms ``normalize_tracking_no`` reads), with
    what its public page shows; None for a malformed number and an unknown one alike."""
    number = normalize_tracking_no(tracking_no)
    if number is None:
        return None
    return (
        Complaint.objects.select_related("policy", "township", "department", "bank").filter(tracking_no=number).first()
    )


def public_policy_name(complaint: Complaint) -> str:
    """The name the public policy list gives the complaint's policy (its latest published, public entry); empty when
    the policy is no longer public, so that a secret policy is never named."""
    if complaint.policy_id is None:
        return ""
    entry = (
        PolicyEntry.objects.filter(
            policy_id=complaint.policy_id, policy_list__status=ListStatus.PUBLISHED, is_secret=False
        )
        .order_by("-policy_list__year")
        .values_list("name", flat=True)
        .first()
    )
    return entry or ""


def is_finance(user) -> bool:
    """Finance (county-wide, with the change permission) assigns complaints and may answer any of them."""
    return user is not None and user.is_authenticated and user.has_perm(CHANGE_PERMISSION) and scope_of(user).everything


def can_assign(user, complaint: Complaint | None = None) -> bool:
    return is_finance(user) and (complaint is None or complaint.status == ComplaintStatus.OPEN)


def answer_refusal(user, complaint: Complaint) -> ComplaintRefused | None:
    """Why ``user`` may not answer ``complaint`` as it stands, or None when they may."""
    if is_finance(user):
        return None
    if (
        user is None
        or not user.is_authenticated
        or user.role not in DEPARTMENT_ROLES
        or not user.has_perm(CHANGE_PERMISSION)
    ):
        return ComplaintRefused(_("只有承办部门的经办人或财政局可以答复投诉咨询。"), "not_answerer")
    if complaint.department_id is None or complaint.department_id != user.department_id:
        return ComplaintRefused(_("只能答复分办给本部门的投诉咨询。"), "out_of_scope")
    return None


def can_answer(user, complaint: Complaint) -> bool:
    return complaint.status == ComplaintStatus.OPEN and answer_refusal(user, complaint) is None


# --- Acts ---------------------------------------------------------------------------------------------------------


def _ref(obj) -> dict | None:
    return None if obj is None else {"id": obj.pk, "name": str(getattr(obj, "name", obj))}


def _state(complaint: Complaint) -> dict:
    return {
        "status": complaint.status,
        "department": _ref(complaint.department),
        "bank": _ref(complaint.bank),
        "due_at": complaint.due_at,
    }


def _check_township(township) -> None:
    if township is not None and township.level != RegionLevel.TOWNSHIP:
        raise ValidationError(_("所在乡镇（街道）须为乡镇或街道。"), code="township_level")


def complaint_file(
    *,
    kind: str,
    text: str,
    policy=None,
    township=None,
    bank=None,
    contact_name: str = "",
    contact_phone: str = "",
    remote_addr: str | None = None,
) -> Complaint:
    """受理: the public files a complaint, report or question. It goes to the policy's department when a policy is
    named, else to finance to assign; it is due COMPLAINT_ANSWER_DAYS after filing. The contact phone is kept
    encrypted and masked; the trail records neither it in full nor the name."""
    if kind not in ComplaintKind.values:
        raise ValidationError(_("请选择类型：投诉、举报或咨询。"), code="kind_unknown")
    text = (text or "").strip()
    if len(text) < TEXT_MIN:
        raise ValidationError(_("内容至少 %(n)s 个字。") % {"n": TEXT_MIN}, code="text_too_short")
    if len(text) > TEXT_MAX:
        raise ValidationError(_("内容不能超过 %(n)s 个字。") % {"n": TEXT_MAX}, code="text_too_long")
    _check_township(township)
    if bank is not None and not bank.is_active:
        raise ValidationError(_("所选代发银行已停用。"), code="bank_inactive")
    contact_name = (contact_name or "").strip()
    if len(contact_name) > CONTACT_NAME_MAX:
        raise ValidationError(_("联系人不能超过 %(n)s 个字。") % {"n": CONTACT_NAME_MAX}, code="contact_name_too_long")
    contact_phone = (contact_phone or "").strip()
    contact_masked, contact_cipher = "", None
    if contact_phone:
        try:
            contact_masked = mask_phone(contact_phone)
        except DomainError as error:
            raise ValidationError(str(error.message), code=error.code) from None
        contact_cipher = pii.encrypt(contact_phone, purpose="contact")

    now = timezone.now()
    due_at = now + dt.timedelta(days=settings.COMPLAINT_ANSWER_DAYS)
    department = policy.department if policy is not None else None
    fields = {
        "kind": kind,
        "policy": policy,
        "township": township,
        "bank": bank,
        "text": text,
        "contact_name": contact_name,
        "contact_cipher": contact_cipher,
        "contact_masked": contact_masked,
        "department": department,
        "assigned_at": now if department is not None else None,
        "created_at": now,
        "due_at": due_at,
    }
    with transaction.atomic():
        complaint = _create_with_unique_number(fields, on=timezone.localdate(now))
        audit_record(
            action=AuditAction.COMPLAINT_FILE,
            obj=complaint,
            actor_label=PUBLIC_ACTOR,
            remote_addr=remote_addr,
            department_id=complaint.department_id,
            region_code=township.code if township is not None else "",
            after={
                "kind": kind,
                "policy": policy.code if policy is not None else None,
                "township": township.code if township is not None else None,
                "bank": _ref(bank),
                "department": _ref(department),
                "due_at": due_at,
                "text_chars": len(text),
                "has_contact_name": bool(contact_name),
                "contact_phone": contact_masked,
            },
        )
    return complaint


def _create_with_unique_number(fields: dict, *, on: dt.date) -> Complaint:
    """Insert with a fresh tracking number; on the rare clash with an existing one, draw again."""
    for attempt in range(_ATTEMPTS):
        number = new_tracking_no(on)
        try:
            with transaction.atomic():
                return Complaint.objects.create(tracking_no=number, **fields)
        except IntegrityError:
            # Only a clash on the number is retried; any other broken rule is a bug and is raised as it is.
            if attempt == _ATTEMPTS - 1 or not Complaint.objects.filter(tracking_no=number).exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


_UNCHANGED = object()


def complaint_assign(*, complaint: Complaint, department, bank=_UNCHANGED, acting_user) -> Complaint:
    """分办: finance names the department that must answer (and, if it concerns one, the bank), while the complaint
    is open. The time limit stays the one set at filing."""
    if not is_finance(acting_user):
        raise ComplaintRefused(_("只有财政局可以分办投诉咨询。"), "not_finance")
    if department is None:
        raise ValidationError(_("请选择承办部门。"), code="department_required")
    if not department.is_active:
        raise ValidationError(_("所选承办部门已停用。"), code="department_inactive")
    if bank is not _UNCHANGED and bank is not None and not bank.is_active:
        raise ValidationError(_("所选代发银行已停用。"), code="bank_inactive")
    with transaction.atomic():
        current = (
            Complaint.objects.select_for_update(of=("self",)).select_related("department", "bank").get(pk=complaint.pk)
        )
        if current.status != ComplaintStatus.OPEN:
            raise ValidationError(_("该投诉咨询已答复，不能再分办。"), code="not_open")
        new_bank_id = current.bank_id if bank is _UNCHANGED else (bank.pk if bank is not None else None)
        if current.department_id == department.pk and current.bank_id == new_bank_id:
            return current
        before = _state(current)
        now = timezone.now()
        moved = Complaint.objects.filter(pk=current.pk, status=ComplaintStatus.OPEN).update(
            department=department, bank_id=new_bank_id, assigned_at=now
        )
        if moved != 1:  # the row is locked: only a change outside the services gets here
            raise ValidationError(_("该投诉咨询已被他人处理，请刷新后重试。"), code="already_acted")
        current.refresh_from_db()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.COMPLAINT_ASSIGN,
            obj=current,
            department_id=current.department_id,
            region_code=current.township.code if current.township_id else "",
            before=before,
            after=_state(current),
        )
    return current


def already_answered(complaint: Complaint) -> ValidationError:
    when = timezone.localtime(complaint.answered_at).strftime("%Y-%m-%d %H:%M") if complaint.answered_at else ""
    return ValidationError(_("该投诉咨询已于 %(when)s 答复，不能再次答复。") % {"when": when}, code="already_answered")


def complaint_answer(*, complaint: Complaint, answer: str, acting_user) -> Complaint:
    """答复: the responsible department (or finance) answers, once. Answering after the limit is allowed and is
    recorded as late; a second answer is refused."""
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError(_("请填写答复内容。"), code="answer_required")
    if len(answer) > ANSWER_MAX:
        raise ValidationError(_("答复内容不能超过 %(n)s 个字。") % {"n": ANSWER_MAX}, code="answer_too_long")
    refusal = answer_refusal(acting_user, complaint)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        now = timezone.now()
        open_rows = Complaint.objects.filter(pk=complaint.pk, status=ComplaintStatus.OPEN)
        if not is_finance(acting_user):
            # Reassigned since the page was read: the department check must hold at the moment of the write.
            open_rows = open_rows.filter(department_id=acting_user.department_id)
        moved = open_rows.update(
            status=ComplaintStatus.ANSWERED, answer=answer, answered_by=acting_user, answered_at=now
        )
        current = Complaint.objects.select_related("department", "bank", "township").get(pk=complaint.pk)
        if moved != 1:
            if current.status != ComplaintStatus.OPEN:
                raise already_answered(current)
            raise ComplaintRefused(_("只能答复分办给本部门的投诉咨询。"), "out_of_scope")
        late = now > current.due_at
        audit_record(
            acting_user=acting_user,
            action=AuditAction.COMPLAINT_ANSWER,
            obj=current,
            department_id=current.department_id,
            region_code=current.township.code if current.township_id else "",
            before={"status": ComplaintStatus.OPEN, "due_at": current.due_at},
            after={
                "status": current.status,
                "answered_at": now,
                "late": late,
                "answer": mask_long_numbers(answer),
                "answer_sha256": hashlib.sha256(answer.encode("utf-8")).hexdigest(),
            },
        )
    return current
