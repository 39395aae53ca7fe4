from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BanksConfig(AppConfig):
    name = "banks"
    verbose_name = _("代发金融机构")

    def ready(self) -> None:
        from banks import results  # noqa: F401  (registers the results.apply job kind)
