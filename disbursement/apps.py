from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisbursementConfig(AppConfig):
    name = "disbursement"
    verbose_name = _("资金发放")

    def ready(self) -> None:
        from disbursement import bankfile  # noqa: F401  (registers the batch.generate job kind)
