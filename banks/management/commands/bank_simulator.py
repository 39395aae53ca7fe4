"""Play a bank against the bank API over HTTP (banks/simulator.py): fetch, verify, acknowledge, answer."""

import os
import signal

from django.core.management.base import BaseCommand, CommandError

from banks.simulator import APIError, BankAPI, ServerUnreachable, Simulator, serve, wait_for_server

TOKEN_ENV = "YIKATONG_BANK_TOKEN"  # noqa: S105 — the variable's name, not a token


class Command(BaseCommand):
    help = (
        "模拟代发银行 / Play a bank over HTTP: list the bank's waiting batches (ready, and acknowledged ones still "
        "missing results), download and verify each file (SHA-256, encoding, counts, totals, detail hash), "
        "acknowledge it, and send results with failures at --fail-rate (JSON, or a result file above 20,000 "
        "payments). One line per batch. Loops every --interval seconds until Ctrl-C, or until the server has gone "
        f"away; --once answers what waits and exits (1 if a batch had a problem). The token: --token or ${TOKEN_ENV}."
    )
    # It talks HTTP only; the project's checks (and their database) are the server's business.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the platform's address, e.g. http://127.0.0.1:8000")
        parser.add_argument("--token", default="", help=f"the bank's API token (better: the {TOKEN_ENV} variable)")
        parser.add_argument("--fail-rate", type=float, default=0.05, help="share of payments that fail (0–1)")
        parser.add_argument("--once", action="store_true", help="answer what waits now, then exit")
        parser.add_argument("--interval", type=float, default=5, help="seconds between two looks (default 5)")
        parser.add_argument("--seed", type=int, default=None, help="make the outcomes repeatable")
        parser.add_argument("--sign", action="store_true", help="sign every request (docs/bank-api.md, Signing)")
        parser.add_argument(
            "--wait-for-server",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait up to this long for the server to answer before starting",
        )

    def handle(self, *args, **options):
        token = options["token"] or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise CommandError(f"No token: pass --token or set {TOKEN_ENV} (python manage.py bank_token BANK_CODE).")
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate is a share between 0 and 1, e.g. 0.05.")
        try:
            api = BankAPI(options["url"], token, signed=options["sign"])
        except ValueError as error:
            raise CommandError(f"--url: {error}") from None
        sim = Simulator(
            api,
            fail_rate=options["fail_rate"],
            seed=options["seed"],
            say=self.stdout.write,
            warn=lambda text: self.stderr.write(text),
        )
        previous = signal.getsignal(signal.SIGTERM)
        try:
            # SIGTERM (make run's trap, a process manager) stops it like Ctrl-C: quietly, exit status 0.
            signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread (called from a test's thread): Ctrl-C is not ours to catch there
            previous = None
        try:
            if options["wait_for_server"] and not wait_for_server(api, options["wait_for_server"]):
                raise CommandError(f"No answer from {api.root} within {options['wait_for_server']:g} s.")
            if options["once"]:
                self._once(sim)
            else:
                self.stdout.write(f"Playing the bank at {api.root} every {options['interval']:g} s (Ctrl-C stops).")
                self.stdout.write(serve(sim, interval=options["interval"]) + "; stopping.")
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        except APIError as error:
            raise CommandError(str(error)) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _once(self, sim: Simulator) -> None:
        try:
            reports, problems = sim.run_once()
        except ServerUnreachable as error:
            raise CommandError(f"No answer: {error}") from None
        if problems:
            raise CommandError(f"{problems} batch(es) not answered; see above.")
        if not reports:
            self.stdout.write("Nothing waiting.")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
