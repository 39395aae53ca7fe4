"""Pure domain primitives shared by every app: citizen IDs, bank accounts, divisions, masking and money."""

from yikatong.domain.bank_account import BankAccount, normalize_account, parse_bank_account
from yikatong.domain.citizen_id import CitizenId, calc_check_char, normalize_id, parse_citizen_id
from yikatong.domain.divisions import (
    PROVINCES,
    DivisionCode,
    DivisionFileError,
    DivisionFileProblem,
    Level,
    parse_division_code,
    read_division_file,
)
from yikatong.domain.errors import DomainError, DomainWarning, Message
from yikatong.domain.masking import mask_account, mask_id, mask_name, mask_phone
from yikatong.domain.money import fen_to_yuan, format_yuan, parse_amount, yuan_to_fen

__all__ = [
    "PROVINCES",
    "BankAccount",
    "CitizenId",
    "DivisionCode",
    "DivisionFileError",
    "DivisionFileProblem",
    "DomainError",
    "DomainWarning",
    "Level",
    "Message",
    "calc_check_char",
    "fen_to_yuan",
    "format_yuan",
    "mask_account",
    "mask_id",
    "mask_name",
    "mask_phone",
    "normalize_account",
    "normalize_id",
    "parse_amount",
    "parse_bank_account",
    "parse_citizen_id",
    "parse_division_code",
    "read_division_file",
    "yuan_to_fen",
]
