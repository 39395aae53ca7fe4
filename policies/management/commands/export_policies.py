"""Export one year's policy list to .xlsx or .csv (safe against formula injection)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from policies.enums import ListStatus
from policies.exchange import EXPORT_FORMATS, export_entries
from policies.models import PolicyEntry, PolicyList
from policies.selectors import public_entries


class Command(BaseCommand):
    help = (
        "导出某年度政策清单为 Excel（.xlsx）或 CSV（UTF-8 带 BOM）。--public 只导出已公布清单中的非涉密政策，"
        "与公开网页一致；不加 --public 时包含涉密政策，仅供内部使用。"
        " / Export one year's policy list as .xlsx or .csv. --public: only a published list, without secret entries."
    )

    def add_arguments(self, parser):
        parser.add_argument("year", type=int, help="年度 / list year")
        parser.add_argument("file", help="输出文件，扩展名 .xlsx 或 .csv / output file (.xlsx or .csv)")
        parser.add_argument(
            "--public",
            action="store_true",
            help="只导出公开内容：已公布清单、不含涉密政策 / public content only: published list, no secret entries",
        )
        parser.add_argument(
            "--format",
            choices=EXPORT_FORMATS,
            help="文件格式，默认按扩展名 / file format; by default from the file's extension",
        )

    def handle(self, *args, **options):
        year, path = options["year"], Path(options["file"])
        fmt = options["format"] or path.suffix.lower().lstrip(".")
        if fmt not in EXPORT_FORMATS:
            raise CommandError(f"Unknown format {fmt!r}: name the file .xlsx or .csv, or pass --format.")
        policy_list = PolicyList.objects.filter(year=year).first()
        if policy_list is None:
            raise CommandError(f"No policy list for {year}. / {year} 年清单不存在。")
        if options["public"]:
            if policy_list.status != ListStatus.PUBLISHED:
                raise CommandError(f"The {year} list is not published. / {year} 年清单尚未公布，不能公开导出。")
            entries = public_entries(year=year)
        else:
            entries = (
                PolicyEntry.objects.filter(policy_list=policy_list)
                .select_related("policy", "department")
                .order_by("department__code", "policy__code")
            )
        count = entries.count()
        try:
            path.write_bytes(export_entries(entries, fmt, public=options["public"]))
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{year}: {count} entries written to {path}. / 已导出 {count} 条。"))
