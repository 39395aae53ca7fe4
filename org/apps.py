from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = _("组织与用户")

    def ready(self) -> None:
        from yikatong import checks  # noqa: F401  (registers the project's deploy checks)
