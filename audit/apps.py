from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("审计留痕")

    def ready(self) -> None:
        from audit import jobs, receivers  # noqa: F401  (registers the job kind, connects receivers)
