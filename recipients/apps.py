from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecipientsConfig(AppConfig):
    name = "recipients"
    verbose_name = _("补贴对象")

    def ready(self) -> None:
        from recipients import importing  # noqa: F401  (registers the roster.import job kind)
