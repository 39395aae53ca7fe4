"""Moving validated roster rows into the database in bulk: COPY into the staging table on PostgreSQL
(executemany on SQLite), then set-based SQL from staging into the registry and the payout's payments.

Nothing here loops over rows with a query each; every statement handles the whole roster at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.db import connection

from checks.models import Finding
from disbursement.models import Payment
from org.models import Region
from recipients.models import Recipient, RecipientAccount, RecipientChange, RosterStage

STAGE_COLUMNS = (
    "roster_id", "row", "id_hash", "id_cipher", "id_masked", "name", "sex", "birth_date", "birthplace_code", "phone",
    "account_hash", "account_cipher", "account_masked", "bank_name", "holder_name", "amount", "quantity",
    "township_name", "village_name",
)  # fmt: skip
_BINARY = {"id_cipher", "account_cipher"}
_REGISTRY_LOCK_KEY = 0x59_4B_54_52  # "YKTR"
_NULLABLE = ("id_cipher", "account_cipher", "quantity")

STAGE = RosterStage._meta.db_table
RECIPIENT = Recipient._meta.db_table
ACCOUNT = RecipientAccount._meta.db_table
CHANGE = RecipientChange._meta.db_table
PAYMENT = Payment._meta.db_table
FINDING = Finding._meta.db_table
REGION = Region._meta.db_table


def stage_rows(rows: Sequence[tuple]) -> None:
    """Append rows (tuples in STAGE_COLUMNS order) to the staging table."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _copy(rows)
    else:
        columns = ", ".join(STAGE_COLUMNS)
        marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {STAGE} ({columns}) VALUES ({marks})", rows)


def _copy(rows: Iterable[tuple]) -> None:
    buffer = io.StringIO()
    # Strings are quoted, so an empty string stays a string; the nullable columns read "" as NULL.
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    binary_positions = [i for i, name in enumerate(STAGE_COLUMNS) if name in _BINARY]
    for row in rows:
        values = list(row)
        for i in binary_positions:
            values[i] = None if values[i] is None else "\\x" + bytes(values[i]).hex()
        writer.writerow(values)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
            f" WITH (FORMAT csv, FORCE_NULL ({', '.join(_NULLABLE)}))",
            buffer,
        )


def known_people_and_accounts(pairs: Sequence[tuple[str, str]]) -> tuple[set[str], set[tuple[str, str]]]:
    """Of these (person hash, account hash) pairs: which people and which pairs the registry holds already.

    One query per batch of rows, never one per row.
    """
    if not pairs:
        return set(), set()
    id_hashes = [person for person, _account in pairs]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Joining an unnested array makes PostgreSQL walk the unique index once per hash (about 45 ms for
            # 5,000 against 10^6 people), where "= ANY(…)" tempts it into a full scan.
            cursor.execute(
                f"SELECT r.id_hash, a.account_hash FROM unnest(%s::varchar[]) AS u(h)"
                f" JOIN {RECIPIENT} r ON r.id_hash = u.h LEFT JOIN {ACCOUNT} a ON a.recipient_id = r.id",
                [id_hashes],
            )
        else:
            cursor.execute(
                f"SELECT r.id_hash, a.account_hash FROM {RECIPIENT} r LEFT JOIN {ACCOUNT} a ON a.recipient_id = r.id"
                f" WHERE r.id_hash IN ({', '.join(['%s'] * len(id_hashes))})",
                id_hashes,
            )
        found = cursor.fetchall()
    people = {person for person, _account in found}
    return people, {(person, account) for person, account in found if account is not None} & set(pairs)


def clear_stage(roster_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STAGE} WHERE roster_id = %s", [roster_id])


def apply_stage(*, roster_id: int, payout, now) -> dict[str, int]:
    """Registry and payments from the staged rows of one roster, in the caller's transaction."""
    true = "TRUE" if connection.vendor == "postgresql" else "1"
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One import at a time changes the registry: two rosters naming the same person with two new
            # accounts would otherwise both make theirs "current" (SQLite serialises writers anyway).
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REGISTRY_LOCK_KEY])
            # The staging table was just filled: without statistics the planner guesses the joins blind.
            cursor.execute(f"ANALYZE {STAGE}")

        def run(key: str, sql: str, params: list) -> None:
            cursor.execute(sql, params)
            counts[key] = max(cursor.rowcount, 0)

        run("recipients_created", f"""
            INSERT INTO {RECIPIENT} (id_hash, id_cipher, id_masked, name, sex, birth_date, birthplace_code, phone,
                                     created_at, updated_at)
            SELECT s.id_hash, s.id_cipher, s.id_masked, s.name, s.sex, s.birth_date, s.birthplace_code, s.phone, %s, %s
              FROM {STAGE} s WHERE s.roster_id = %s AND s.id_cipher IS NOT NULL
            ON CONFLICT (id_hash) DO NOTHING""", [now, now, roster_id])  # fmt: skip
        run("names_changed", f"""
            INSERT INTO {CHANGE} (recipient_id, field, before, after, roster_id, changed_at)
            SELECT r.id, 'name', r.name, s.name, s.roster_id, %s
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
             WHERE s.roster_id = %s AND r.name <> s.name""", [now, roster_id])  # fmt: skip
        # UPDATE … FROM joins once (PostgreSQL, and SQLite since 3.33) instead of a subquery per row.
        if counts["names_changed"]:
            cursor.execute(f"""
                UPDATE {RECIPIENT} SET name = s.name, updated_at = %s FROM {STAGE} s
                 WHERE s.roster_id = %s AND s.id_hash = {RECIPIENT}.id_hash AND {RECIPIENT}.name <> s.name""",
                           [now, roster_id])  # fmt: skip
        run("accounts_changed", f"""
            INSERT INTO {CHANGE} (recipient_id, field, before, after, roster_id, changed_at)
            SELECT r.id, 'account', a.account_masked, s.account_masked, s.roster_id, %s
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
              JOIN {ACCOUNT} a ON a.recipient_id = r.id AND a.is_current = {true}
             WHERE s.roster_id = %s AND a.account_hash <> s.account_hash""", [now, roster_id])  # fmt: skip
        if counts["accounts_changed"]:
            cursor.execute(f"""
                UPDATE {ACCOUNT} SET is_current = {false}
                  FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
                 WHERE s.roster_id = %s AND r.id = {ACCOUNT}.recipient_id AND {ACCOUNT}.is_current = {true}
                   AND s.account_hash <> {ACCOUNT}.account_hash""", [roster_id])  # fmt: skip
        run("accounts_created", f"""
            INSERT INTO {ACCOUNT} (recipient_id, account_hash, account_cipher, account_masked, bank_name, holder_name,
                                   is_current, first_seen_at, last_used_at)
            SELECT r.id, s.account_hash, s.account_cipher, s.account_masked, s.bank_name, s.holder_name, {true}, %s, %s
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
             WHERE s.roster_id = %s AND s.account_cipher IS NOT NULL
            ON CONFLICT (recipient_id, account_hash) DO NOTHING""", [now, now, roster_id])  # fmt: skip
        # Accounts already known become current again (a person may switch back to an old card).
        cursor.execute(f"""
            UPDATE {ACCOUNT} SET is_current = {true}, last_used_at = %s
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
             WHERE s.roster_id = %s AND r.id = {ACCOUNT}.recipient_id AND {ACCOUNT}.is_current = {false}
               AND s.account_hash = {ACCOUNT}.account_hash""", [now, roster_id])  # fmt: skip
        # Where the roster names a village of the payout's region, the person is placed there
        # (the township column tells apart villages of the same name).
        placed = f"""
            SELECT r.id AS recipient_id, MIN(v.id) AS village_id
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
              JOIN {REGION} v ON v.level = 'village' AND v.name = s.village_name AND v.code LIKE %s
              JOIN {REGION} t ON t.id = v.parent_id
             WHERE s.roster_id = %s AND s.village_name <> '' AND (s.township_name = '' OR t.name = s.township_name)
             GROUP BY r.id"""
        region_prefix = payout.region.code + "%"
        run("villages_changed", f"""
            INSERT INTO {CHANGE} (recipient_id, field, before, after, roster_id, changed_at)
            SELECT r.id, 'village', old.name, new.name, %s, %s
              FROM ({placed}) m JOIN {RECIPIENT} r ON r.id = m.recipient_id
              JOIN {REGION} old ON old.id = r.village_id JOIN {REGION} new ON new.id = m.village_id
             WHERE m.village_id <> r.village_id""", [roster_id, now, region_prefix, roster_id])  # fmt: skip
        cursor.execute(f"""
            UPDATE {RECIPIENT} SET village_id = m.village_id FROM ({placed}) m
             WHERE {RECIPIENT}.id = m.recipient_id
               AND ({RECIPIENT}.village_id IS NULL OR {RECIPIENT}.village_id <> m.village_id)""",
                       [region_prefix, roster_id])  # fmt: skip
        # A new roster replaces every payment of the draft payout, the ones a clerk removed after a check included.
        # Findings stay (keyed by person, with the clerk's decisions) and are re-attached by the next check run.
        replaced = f"SELECT id FROM {PAYMENT} WHERE payout_id = %s AND status IN ('draft', 'checked', 'cancelled')"
        cursor.execute(f"UPDATE {FINDING} SET payment_id = NULL WHERE payment_id IN ({replaced})", [payout.pk])
        run("drafts_replaced", f"DELETE FROM {PAYMENT} WHERE id IN ({replaced})", [payout.pk])
        # The payment keeps its own copy of the account ciphertext: the snapshot the bank file is built from.
        run("payments_created", f"""
            INSERT INTO {PAYMENT} (payout_id, policy_id, period, recipient_id, roster_id, row, amount, quantity,
                                   account_hash, account_cipher, account_masked, bank_name, holder_name, status,
                                   created_at)
            SELECT %s, %s, %s, r.id, s.roster_id, s.row, s.amount, s.quantity, s.account_hash, a.account_cipher,
                   s.account_masked, s.bank_name, s.holder_name, 'draft', %s
              FROM {STAGE} s JOIN {RECIPIENT} r ON r.id_hash = s.id_hash
              JOIN {ACCOUNT} a ON a.recipient_id = r.id AND a.account_hash = s.account_hash
             WHERE s.roster_id = %s""", [payout.pk, payout.policy_id, payout.period, now, roster_id])  # fmt: skip
    if connection.vendor == "postgresql" and counts["recipients_created"] + counts["accounts_created"] > 10_000:
        # A large first import changes the registry's size by orders of magnitude; refresh its statistics now
        # rather than when autovacuum gets round to it, or the next import plans its look-ups on stale numbers.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RECIPIENT}")
            cursor.execute(f"ANALYZE {ACCOUNT}")
    clear_stage(roster_id)
    return counts
