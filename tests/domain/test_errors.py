import pickle

import pytest
from django.utils.translation import gettext_lazy as _

from yikatong.domain import DomainError, DomainWarning


def test_a_domain_error_is_a_value_error_with_a_code_and_a_readable_message():
    error = DomainError("id_missing", _("身份证号码为空。"))
    assert isinstance(error, ValueError)
    assert error.code == "id_missing"
    assert str(error) == "身份证号码为空。"
    assert repr(error) == "DomainError('id_missing', '身份证号码为空。')"


def test_a_domain_error_survives_pickling_as_a_task_queue_would_send_it():
    copy = pickle.loads(pickle.dumps(DomainError("id_format", _("格式不对。"))))  # noqa: S301 - our own bytes
    assert (copy.code, str(copy)) == ("id_format", "格式不对。")


def test_a_domain_warning_is_a_frozen_value_that_reads_as_its_message():
    warning = DomainWarning("account_checksum", _("请核对。"))
    assert str(warning) == "请核对。"
    assert warning == DomainWarning("account_checksum", _("请核对。"))
    assert repr(warning) == "DomainWarning(code='account_checksum')"
    with pytest.raises(AttributeError):
        warning.code = "other"
