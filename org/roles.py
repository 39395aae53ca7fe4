"""What each role may do, as Django permission patterns — the one table the whole platform consults.

Patterns are ``app_label.codename`` with shell wildcards. Row-level limits (which department, which
township) are not here: they live in ``org.scoping``. Later issues extend this table as apps gain models.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from org.enums import Role

_READ_ALL = ("*.view_*",)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.FINANCE_ADMIN: (
        "org.*",
        # Finance drafts the list and decides proposals; a finance reviewer publishes it.
        "policies.add_*",
        "policies.change_*",
        "policies.delete_*",
        "banks.*",
        "disbursement.*",
        "checks.*",
        "disclosure.*",
        *_READ_ALL,
    ),
    Role.FINANCE_REVIEWER: (
        "policies.publish_policylist",
        "disbursement.view_*",
        "disbursement.review_*",
        *_READ_ALL,
    ),
    Role.DEPARTMENT_CLERK: (
        "org.view_department",
        "org.view_region",
        "policies.view_*",
        "policies.add_policyproposal",
        "recipients.*",
        "disbursement.view_*",
        "disbursement.add_*",
        "disbursement.change_*",
        # The default chain's second step (主管部门经办复核) is a department clerk's, for township payouts.
        "disbursement.review_payout",
        # Runs the checks on its payouts, clears what they find, loads the lists its department keeps.
        "checks.view_*",
        "checks.add_checkrun",
        "checks.change_finding",
        "checks.add_referenceload",
        "disclosure.view_*",
        # Publishes its payouts' notices and its own documents; answers the complaints it is given.
        "disclosure.add_notice",
        "disclosure.change_notice",
        "disclosure.add_publisheddocument",
        "disclosure.change_publisheddocument",
        "disclosure.change_complaint",
        "audit.view_auditevent",
        "jobs.view_job",
    ),
    Role.DEPARTMENT_REVIEWER: (
        "org.view_department",
        "org.view_region",
        "policies.view_*",
        "recipients.view_*",
        "disbursement.view_*",
        "disbursement.review_*",
        "checks.view_*",
        "disclosure.view_*",
        "audit.view_auditevent",
        "jobs.view_job",
    ),
    Role.TOWNSHIP_CLERK: (
        "org.view_region",
        "policies.view_*",
        "recipients.*",
        "disbursement.view_*",
        "disbursement.add_*",
        "disbursement.change_*",
        "checks.view_finding",
        "checks.view_checkrun",
        "checks.add_checkrun",
        "checks.change_finding",
        "jobs.view_job",
    ),
    Role.TOWNSHIP_REVIEWER: (
        "org.view_region",
        "policies.view_*",
        "recipients.view_*",
        "disbursement.view_*",
        "disbursement.review_*",
        "checks.view_finding",
        "checks.view_checkrun",
        "jobs.view_job",
    ),
    Role.AUDITOR: _READ_ALL,
    # Banks talk to the REST API with their own credentials; they hold no admin permission.
    Role.BANK: (),
}

# Roles that may sign into the browser admin.
STAFF_ROLES = frozenset(role for role in Role if role != Role.BANK)


def role_allows(role: str, perm: str) -> bool:
    return any(fnmatchcase(perm, pattern) for pattern in ROLE_PERMISSIONS.get(role, ()))


def role_allows_app(role: str, app_label: str) -> bool:
    return any(pattern.split(".", 1)[0] in (app_label, "*") for pattern in ROLE_PERMISSIONS.get(role, ()))
