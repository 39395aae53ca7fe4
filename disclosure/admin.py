"""信息公开 in the admin: notices and documents (admin_notices), complaints (admin_complaints)."""

from disclosure import admin_complaints, admin_notices  # noqa: F401  (each registers its ModelAdmins)
