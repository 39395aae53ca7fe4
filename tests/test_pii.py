"""Personal numbers at rest: SM4-GCM with key ids and rotation, and the HMAC-SM3 lookup hash."""

from __future__ import annotations

import base64
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from yikatong import pii

ID_NUMBER = "41010319900101123X"
ID_PURPOSE = "recipients.id_number"
ACCOUNT_PURPOSE = "banks.account_number"

OLD_KEY = base64.b64encode(bytes(range(16))).decode()
NEW_KEY = base64.b64encode(bytes(range(100, 116))).decode()
HASH_KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_HASH_KEY = base64.b64encode(bytes(range(50, 82))).decode()


def _b64(length: int) -> str:
    return base64.b64encode(b"k" * length).decode()


# --- Encryption --------------------------------------------------------------------------------


@given(st.text())
def test_any_text_comes_back_unchanged_after_encryption(value):
    assert pii.decrypt(pii.encrypt(value, purpose=ID_PURPOSE), purpose=ID_PURPOSE) == value


def test_two_encryptions_of_the_same_number_differ():
    first = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    second = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    assert first != second
    assert pii.decrypt(first, purpose=ID_PURPOSE) == pii.decrypt(second, purpose=ID_PURPOSE) == ID_NUMBER


@given(st.text(alphabet="0123456789X", min_size=12, max_size=40))
def test_the_ciphertext_never_contains_the_plaintext(value):
    blob = pii.encrypt(value, purpose=ID_PURPOSE)
    assert value.encode("utf-8") not in blob


def test_a_chinese_name_does_not_show_in_the_ciphertext_either():
    blob = pii.encrypt("张三丰", purpose="recipients.name")
    assert "张三丰".encode() not in blob
    assert pii.decrypt(blob, purpose="recipients.name") == "张三丰"


def test_a_value_from_one_column_cannot_be_read_as_another_column():
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    with pytest.raises(pii.PiiDecryptError, match="does not authenticate"):
        pii.decrypt(blob, purpose=ACCOUNT_PURPOSE)


def test_flipping_any_single_bit_of_the_ciphertext_makes_it_unreadable():
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    for index in range(len(blob)):
        for bit in (0x01, 0x80):
            altered = bytearray(blob)
            altered[index] ^= bit
            with pytest.raises(pii.PiiDecryptError):
                pii.decrypt(bytes(altered), purpose=ID_PURPOSE)


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02\x04dev1" + b"\x00" * 40, b"\x01\x02k1" + b"\x00" * 10])
def test_garbage_is_refused_as_unreadable_rather_than_crashing(blob):
    with pytest.raises(pii.PiiDecryptError):
        pii.decrypt(blob, purpose=ID_PURPOSE)


# --- Key rotation ------------------------------------------------------------------------------


def test_a_value_under_the_old_key_still_decrypts_after_rotation(settings):
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    assert pii.key_id_of(blob) == "old"

    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY},old:{OLD_KEY}"

    assert pii.decrypt(blob, purpose=ID_PURPOSE) == ID_NUMBER
    assert pii.key_id_of(pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)) == "new"


def test_reencrypt_moves_an_old_value_to_the_new_key_and_then_has_nothing_to_do(settings):
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    old_blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY},old:{OLD_KEY}"

    new_blob = pii.reencrypt(old_blob, purpose=ID_PURPOSE)

    assert new_blob is not None
    assert pii.key_id_of(new_blob) == "new"
    assert pii.decrypt(new_blob, purpose=ID_PURPOSE) == ID_NUMBER
    assert pii.reencrypt(new_blob, purpose=ID_PURPOSE) is None
    # Once every value is re-encrypted the old key can leave the ring.
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY}"
    assert pii.decrypt(new_blob, purpose=ID_PURPOSE) == ID_NUMBER


def test_a_value_whose_key_left_the_ring_fails_naming_the_key(settings):
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY}"

    with pytest.raises(pii.PiiDecryptError, match="no key 'old' in PII_ENCRYPTION_KEYS"):
        pii.decrypt(blob, purpose=ID_PURPOSE)
    with pytest.raises(pii.PiiDecryptError, match="no key 'old'"):
        pii.reencrypt(blob, purpose=ID_PURPOSE)


def test_a_key_with_the_same_id_but_other_bytes_cannot_read_old_values(settings):
    settings.PII_ENCRYPTION_KEYS = f"k1:{OLD_KEY}"
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_ENCRYPTION_KEYS = f"k1:{NEW_KEY}"
    with pytest.raises(pii.PiiDecryptError, match="does not authenticate"):
        pii.decrypt(blob, purpose=ID_PURPOSE)


# --- Keyed hash --------------------------------------------------------------------------------


def test_the_keyed_hash_is_the_same_for_the_same_value_and_64_hex_characters():
    first = pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    assert first == pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert ID_NUMBER not in first


def test_the_keyed_hash_differs_per_value_and_per_purpose():
    by_id = pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    assert by_id != pii.keyed_hash(ID_NUMBER, purpose=ACCOUNT_PURPOSE)
    assert by_id != pii.keyed_hash("410103199001011234", purpose=ID_PURPOSE)


def test_the_keyed_hash_differs_per_hash_key(settings):
    settings.PII_HASH_KEY = HASH_KEY
    first = pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_HASH_KEY = OTHER_HASH_KEY
    second = pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_HASH_KEY = HASH_KEY
    assert first != second
    assert pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE) == first


def test_the_keyed_hash_does_not_depend_on_the_encryption_keys(settings):
    settings.PII_HASH_KEY = HASH_KEY
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    before = pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY},old:{OLD_KEY}"
    assert pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE) == before


# --- Bad configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encryption_keys", "message"),
    [
        (f"k1:{_b64(15)}", "must be 16 bytes"),
        (f"k1:{_b64(32)}", "must be 16 bytes"),
        ("k1:not*base64!", "not valid base64"),
        (f"k1:{OLD_KEY},k1:{NEW_KEY}", "appears twice"),
        (OLD_KEY, "kid:base64key"),
        (f":{OLD_KEY}", "kid:base64key"),
        (f"{'k' * 17}:{OLD_KEY}", "kid:base64key"),
        (f"密钥:{OLD_KEY}", "kid:base64key"),
        ("", "kid:base64key"),
    ],
)
def test_it_refuses_a_malformed_encryption_key_list(settings, encryption_keys, message):
    settings.PII_HASH_KEY = HASH_KEY
    settings.PII_ENCRYPTION_KEYS = encryption_keys
    with pytest.raises(ImproperlyConfigured, match=message):
        pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)


@pytest.mark.parametrize(
    ("hash_key", "message"),
    [
        (_b64(31), "at least 32 bytes"),
        ("", "at least 32 bytes"),
        ("not base64 at all!", "not valid base64"),
    ],
)
def test_it_refuses_a_weak_or_malformed_hash_key(settings, hash_key, message):
    settings.PII_ENCRYPTION_KEYS = f"k1:{OLD_KEY}"
    settings.PII_HASH_KEY = hash_key
    with pytest.raises(ImproperlyConfigured, match=message):
        pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE)


def test_a_long_hash_key_is_accepted(settings):
    settings.PII_ENCRYPTION_KEYS = f"k1:{OLD_KEY}"
    settings.PII_HASH_KEY = _b64(64)
    assert re.fullmatch(r"[0-9a-f]{64}", pii.keyed_hash(ID_NUMBER, purpose=ID_PURPOSE))


def test_a_fixed_configuration_works_again_after_a_bad_one(settings):
    settings.PII_HASH_KEY = HASH_KEY
    settings.PII_ENCRYPTION_KEYS = "k1:not*base64!"
    with pytest.raises(ImproperlyConfigured):
        pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    settings.PII_ENCRYPTION_KEYS = f"k1:{OLD_KEY}"
    blob = pii.encrypt(ID_NUMBER, purpose=ID_PURPOSE)
    assert pii.decrypt(blob, purpose=ID_PURPOSE) == ID_NUMBER


def test_bulk_decrypter_and_sealed_stream_round_trip(tmp_path):
    blobs = [pii.encrypt(f"62170000{i:011d}", purpose="account") for i in range(3)]
    open_one = pii.decrypter(purpose="account")
    assert [open_one(blob) for blob in blobs] == [f"62170000{i:011d}" for i in range(3)]
    with pytest.raises(pii.PiiDecryptError):
        pii.decrypter(purpose="id_number")(blobs[0])  # bound to its column, as decrypt is

    sealed = pii.SealedWriter(tmp_path / "f.bin", purpose="batch_file")
    sealed.write(b"H|1\r\n")
    sealed.write(b"T|1\r\n")
    sealed.close()
    assert pii.decrypt_bytes((tmp_path / "f.bin").read_bytes(), purpose="batch_file") == b"H|1\r\nT|1\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # the temporary name is gone


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02\x04dev1" + b"\x00" * 40, b"\x01\x02k1" + b"\x00" * 10])
def test_the_bulk_decrypter_refuses_garbage_as_decrypt_does(blob):
    with pytest.raises(pii.PiiDecryptError):
        pii.decrypter(purpose="account")(blob)


def test_the_bulk_decrypter_refuses_a_flipped_bit_and_a_key_that_left_the_ring(settings):
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    blob = pii.encrypt("6217000012345678901", purpose="account")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(pii.PiiDecryptError, match="does not authenticate"):
        pii.decrypter(purpose="account")(tampered)
    assert pii.decrypter(purpose="account")(memoryview(blob)) == "6217000012345678901"  # as psycopg2 hands bytea
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY}"
    with pytest.raises(pii.PiiDecryptError, match="no key 'old' in PII_ENCRYPTION_KEYS"):
        pii.decrypter(purpose="account")(blob)
