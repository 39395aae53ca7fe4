"""Admin forms for the policy list: entries edited by finance, proposals written by departments."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from policies.enums import ListStatus, ProposalKind
from policies.fields import ENTRY_FIELDS
from policies.models import Policy, PolicyEntry, PolicyList


class CommaListField(forms.CharField):
    """A JSON list of codes, typed as "a, b, c" (what finance staff would write in Excel too)."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace("，", ",").split(",") if item.strip()]


class PolicyEntryForm(forms.ModelForm):
    code = forms.SlugField(label=_("政策编码"), max_length=32)
    eligible_regions = CommaListField(label=_("限定区划代码"), required=False, help_text=_("逗号分隔；为空表示全县"))
    exclusive_with = CommaListField(label=_("不得同时享受的政策编码"), required=False, help_text=_("逗号分隔"))

    class Meta:
        model = PolicyEntry
        fields = ("policy_list", *ENTRY_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A read-only admin view renders without these fields.
        code, policy_list = self.fields.get("code"), self.fields.get("policy_list")
        if self.instance.pk:
            if code is not None:
                code.initial = self.instance.policy.code
                code.disabled = True
            if policy_list is not None:
                policy_list.disabled = True
        elif policy_list is not None:
            policy_list.queryset = PolicyList.objects.filter(status=ListStatus.DRAFT)


PROPOSAL_ENTRY_FIELDS = tuple(name for name in ENTRY_FIELDS if name not in ("department", "basis_file"))


class ProposalEntryForm(forms.ModelForm):
    """What a department proposes a policy should say: the entry's own fields, unsaved."""

    eligible_regions = CommaListField(label=_("限定区划代码"), required=False)
    exclusive_with = CommaListField(label=_("不得同时享受的政策编码"), required=False)

    class Meta:
        model = PolicyEntry
        fields = PROPOSAL_ENTRY_FIELDS


class ProposalForm(forms.Form):
    policy_list = forms.ModelChoiceField(label=_("年度清单"), queryset=PolicyList.objects.none())
    kind = forms.ChoiceField(label=_("申报类型"), choices=ProposalKind.choices)
    policy = forms.ModelChoiceField(label=_("政策"), queryset=Policy.objects.none(), required=False)
    proposed_code = forms.SlugField(label=_("新政策编码"), max_length=32, required=False)
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy_list"].queryset = PolicyList.objects.filter(status=ListStatus.DRAFT)
        self.fields["policy"].queryset = Policy.objects.visible_to(user)
