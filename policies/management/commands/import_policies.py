"""Import a policy list file (.xlsx or .csv) into that year's draft list, all or nothing."""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from policies.exchange import ImportReport, RowError, policy_list_import
from policies.models import PolicyList


class Command(BaseCommand):
    help = (
        "把政策清单文件（Excel .xlsx 或 CSV）导入该年度的草稿清单：新编码新增，已有编码更新；"
        "任何一行有错则整批不导入，并逐行报告（行号、列名、错误代码）。"
        " / Import a policy list file into the year's draft list; all or nothing, every bad row reported. "
        "Exits non-zero when anything is wrong. Columns: docs/policy-list-format.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("year", type=int, help="年度（该年度清单须为草稿）/ list year; the list must be a draft")
        parser.add_argument("file", help="导入文件 .xlsx 或 .csv（UTF-8 或 GBK）/ the file to import")
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="导入人用户名，须有新增清单政策的权限，记入审计日志 / who imports (needs policies.add_policyentry)",
        )
        parser.add_argument(
            "--json", action="store_true", help="以 JSON 输出导入报告 / print the report as JSON on stdout"
        )

    def handle(self, *args, **options):
        year, path = options["year"], Path(options["file"])
        try:
            report = self._import(year, path, options["user"])
        except _Refused as refusal:
            report = ImportReport(errors=[RowError(0, "", refusal.code, refusal.message)])
        if options["json"]:
            self.stdout.write(json.dumps({"year": year, **report.as_dict()}, ensure_ascii=False, indent=2))
        else:
            for error in report.errors:
                where = f"第 {error.row} 行" if error.row else "文件"
                column = f" [{error.column}]" if error.column else ""
                self.stderr.write(f"{where}{column} {error.code}: {error.message}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} error(s); nothing was imported. / 有错误，未导入任何数据。")
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{year}: {report.rows_read} rows read, {report.created} created, {report.updated} updated, "
                    f"{report.unchanged} unchanged. / 读取 {report.rows_read} 行，新增 {report.created}，"
                    f"更新 {report.updated}，未变 {report.unchanged}。"
                )
            )

    def _import(self, year: int, path: Path, username: str) -> ImportReport:
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise _Refused("user_unknown", f"用户 {username} 不存在或已停用。") from None
        try:
            policy_list = PolicyList.objects.get(year=year)
        except PolicyList.DoesNotExist:
            raise _Refused("list_missing", f"{year} 年清单不存在，请先新建该年度清单。") from None
        try:
            file_bytes = path.read_bytes()
        except OSError as exc:
            raise _Refused("file_unreadable", f"无法读取文件 {path}：{exc}") from None
        try:
            return policy_list_import(
                acting_user=user, policy_list=policy_list, file_bytes=file_bytes, filename=path.name
            )
        except PermissionDenied as exc:
            raise _Refused("permission_denied", str(exc) or "无权执行此操作。") from None
        except ValidationError as exc:
            raise _Refused(exc.code or "invalid", " ".join(exc.messages)) from None


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)
        self.code = code
        self.message = message
