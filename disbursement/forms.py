from django import forms
from django.utils.translation import gettext_lazy as _

from disbursement.models import PERIOD_PATTERN, Payout
from org.models import Region
from policies.models import Policy


class PayoutCreateForm(forms.ModelForm):
    period = forms.RegexField(label=_("发放期间"), regex=PERIOD_PATTERN, help_text=_("如 2026-11、2026-Q4 或 2026"))

    class Meta:
        model = Payout
        fields = (
            "policy",
            "period",
            "region",
            "title",
            "budget_document",
            "budget_amount",
            "roster_due",
            "review_due",
            "payment_due",
        )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and "policy" in self.fields:
            self.fields["policy"].queryset = Policy.objects.visible_to(user)
            regions = Region.objects.filter(level__in=["county", "township"])
            if user.region_id:
                regions = regions.filter(code__startswith=user.region.code)
            self.fields["region"].queryset = regions
        if "title" in self.fields:
            self.fields["title"].required = False


class RosterUploadForm(forms.Form):
    file = forms.FileField(label=_("名册文件"), help_text=_("支持 .xlsx、.xls、.csv（UTF-8 或 GBK）"))
