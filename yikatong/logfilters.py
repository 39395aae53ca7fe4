"""Log filters: keep the development server's console readable."""

from __future__ import annotations

import logging


class QuietBankPolls(logging.Filter):
    """Drops the development server's line for a bank's successful look for new batches (the demo's simulated bank
    asks every few seconds); every bank call is in the audit trail anyway, and failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", 500)
        return not (status < 400 and "GET /api/v1/bank/batches/?" in record.getMessage())
