from checks import (
    admin_findings,  # noqa: F401
    admin_reference,  # noqa: F401
)
