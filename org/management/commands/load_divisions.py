"""Load administrative divisions (GB/T 2260 codes with names) from a CSV file with a code,name header."""

from django.core.management.base import BaseCommand, CommandError

from org.services import regions_load
from yikatong.domain.divisions import DivisionFileError, read_division_file


class Command(BaseCommand):
    help = "导入行政区划（CSV，表头 code,name；县 6 位、乡镇 9 位、村 12 位代码）。出错时逐行报告且不导入任何一行。"

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, header code,name")

    def handle(self, *args, **options):
        try:
            with open(options["file"], encoding="utf-8-sig", newline="") as stream:
                rows = read_division_file(stream)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        except DivisionFileError as exc:
            for problem in exc.errors:
                self.stderr.write(f"line {problem.line}: {problem.code}: {problem.message}")
            raise CommandError(f"{len(exc.errors)} bad line(s); nothing was loaded.") from exc
        counts = regions_load(acting_user=None, rows=rows)
        self.stdout.write(
            self.style.SUCCESS(
                f"Divisions: {counts['rows']} read, {counts['created']} created, {counts['renamed']} renamed."
            )
        )
