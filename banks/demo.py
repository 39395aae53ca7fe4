"""Demo disbursing banks, named as the synthetic rosters (bench/synth.py BANKS, county 二七区) write them."""

from __future__ import annotations

from django.db import transaction

from banks.models import Bank, FileEncoding

DEMO_BANKS = (
    ("ccb-erqi", "中国建设银行郑州二七支行", FileEncoding.GBK,
     ["建设银行", "建行", "中国建设银行", "中国建设银行二七区支行"]),
    ("icbc-erqi", "中国工商银行郑州二七支行", FileEncoding.GBK,
     ["工商银行", "工行", "中国工商银行", "中国工商银行二七区支行"]),
    ("rcb-zz", "郑州农村商业银行二七支行", FileEncoding.UTF8,
     ["郑州农商银行", "农商银行", "二七区农村商业银行", "二七区农商银行"]),
    # The synthetic rosters also bank with these two; without them a demo payout could not be released.
    ("psbc-erqi", "中国邮政储蓄银行郑州二七区支行", FileEncoding.GBK,
     ["邮储银行", "中国邮政储蓄银行", "中国邮政储蓄银行二七区支行"]),
    ("abc-erqi", "中国农业银行郑州二七支行", FileEncoding.GBK,
     ["农业银行", "农行", "中国农业银行", "中国农业银行二七区支行"]),
)  # fmt: skip


def seed_banks() -> None:
    """Create the demo banks that do not exist yet (by code); never changes one that does."""
    with transaction.atomic():
        for code, name, encoding, aliases in DEMO_BANKS:
            Bank.objects.get_or_create(
                code=code, defaults={"name": name, "aliases": aliases, "file_encoding": encoding, "is_active": True}
            )


def seed_agreements() -> None:
    """A 2026 代发协议 for each demo bank that has none (the evaluation measures batches against its time limits)."""
    import datetime as dt

    from banks.models import Agreement

    with transaction.atomic():
        for number, (code, *_rest) in enumerate(DEMO_BANKS, start=1):
            bank = Bank.objects.get(code=code)
            if bank.agreements.exists():
                continue
            Agreement.objects.create(
                bank=bank, number=f"二七财代〔2026〕{number}号", signed_on=dt.date(2025, 12, 20),
                valid_from=dt.date(2026, 1, 1), valid_until=dt.date(2026, 12, 31),
                ack_hours=24, result_hours=48 if code == "rcb-zz" else 72,
                notes="免费开卡激活、到账短信通知、村（社区）便民取款点、数据加密传输与保密。",
            )  # fmt: skip
