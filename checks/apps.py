from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChecksConfig(AppConfig):
    name = "checks"
    verbose_name = _("数据比对")

    def ready(self) -> None:
        from checks import engine, importing  # noqa: F401  (register the checks.run and reference.import job kinds)
