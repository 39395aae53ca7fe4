"""Configuration from the environment: strict helpers, and the settings module as a whole.

The whole-settings tests start fresh Python processes with a clean environment, because settings are
read once at import; YIKATONG_VAR_DIR points into tmp_path so generated dev keys never touch var/.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from yikatong.env import env_bool, env_choice, env_int, env_list, env_str

PROJECT_DIR = Path(__file__).resolve().parent.parent
NAME = "YIKATONG_TEST_SETTING"

# The Makefile's DEPLOY_ENV: throwaway production-like values.
DEPLOY_ENV = {
    "DJANGO_SECRET_KEY": "deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ",
    "PII_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZg==",
    "PII_HASH_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "DATABASE_URL": "postgres://yikatong@db.invalid:5432/yikatong",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
    "CACHE_URL": "redis://redis.invalid:6379/1",
    "DJANGO_ALLOWED_HOSTS": "yikatong.example.gov.cn",
}
SECRET_VARIABLES = ("DJANGO_SECRET_KEY", "PII_ENCRYPTION_KEYS", "PII_HASH_KEY")

# Prints what a newcomer's process ends up with, as JSON on the last line of stdout.
PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.db import connection
from yikatong.celery import app
connection.ensure_connection()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "always_eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "celery_eager": app.conf.task_always_eager,
    "debug": settings.DEBUG,
    "using_dev_keys": settings.USING_DEV_KEYS,
    "secret_key": settings.SECRET_KEY,
    "pii_encryption_keys": settings.PII_ENCRYPTION_KEYS,
    "pii_hash_key": settings.PII_HASH_KEY,
}))
"""

SETUP_ONLY = (
    "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
)


@pytest.fixture
def clean_env(monkeypatch):
    """The helpers read os.environ directly: make sure the test variable and its _FILE twin are unset."""
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.delenv(f"{NAME}_FILE", raising=False)
    return monkeypatch


# --- env_bool ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("TRUE", True),
        (" Off ", False),
    ],
)
def test_it_reads_every_spelling_of_a_boolean(clean_env, raw, expected):
    clean_env.setenv(NAME, raw)
    assert env_bool(NAME, not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_it_refuses_a_malformed_boolean(clean_env, raw):
    clean_env.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=f"{NAME}=.* is not a boolean"):
        env_bool(NAME, False)


def test_an_unset_or_blank_boolean_takes_its_default(clean_env):
    assert env_bool(NAME, True) is True
    clean_env.setenv(NAME, "   ")
    assert env_bool(NAME, True) is True
    assert env_bool(NAME, False) is False


# --- env_int -----------------------------------------------------------------------------------


def test_it_reads_an_integer_with_surrounding_spaces(clean_env):
    clean_env.setenv(NAME, " 42 ")
    assert env_int(NAME, 7, minimum=1, maximum=100) == 42


def test_an_unset_integer_takes_its_default(clean_env):
    assert env_int(NAME, 7, minimum=1) == 7


@pytest.mark.parametrize("raw", ["12a", "1.5", "ten", "0x10"])
def test_it_refuses_a_malformed_integer(clean_env, raw):
    clean_env.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match="is not an integer"):
        env_int(NAME, 7)


def test_it_refuses_an_integer_below_its_minimum(clean_env):
    clean_env.setenv(NAME, "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env_int(NAME, 7, minimum=1, maximum=10)


def test_it_refuses_an_integer_above_its_maximum(clean_env):
    clean_env.setenv(NAME, "11")
    with pytest.raises(ImproperlyConfigured, match="above the maximum 10"):
        env_int(NAME, 7, minimum=1, maximum=10)


def test_the_bounds_themselves_are_allowed(clean_env):
    clean_env.setenv(NAME, "1")
    assert env_int(NAME, 7, minimum=1, maximum=10) == 1
    clean_env.setenv(NAME, "10")
    assert env_int(NAME, 7, minimum=1, maximum=10) == 10


# --- env_list ----------------------------------------------------------------------------------


def test_it_splits_a_list_and_trims_each_item(clean_env):
    clean_env.setenv(NAME, " yikatong.example.gov.cn , 127.0.0.1,, localhost ,")
    assert env_list(NAME, ["default"]) == ["yikatong.example.gov.cn", "127.0.0.1", "localhost"]


def test_an_unset_list_takes_a_copy_of_its_default(clean_env):
    default = ["127.0.0.1"]
    result = env_list(NAME, default)
    assert result == ["127.0.0.1"]
    result.append("evil.example")
    assert default == ["127.0.0.1"]


# --- env_choice --------------------------------------------------------------------------------


def test_it_accepts_a_known_choice_and_defaults_when_unset(clean_env):
    assert env_choice(NAME, "INFO", {"DEBUG", "INFO"}) == "INFO"
    clean_env.setenv(NAME, "DEBUG")
    assert env_choice(NAME, "INFO", {"DEBUG", "INFO"}) == "DEBUG"


def test_it_refuses_an_unknown_choice(clean_env):
    clean_env.setenv(NAME, "VERBOSE")
    with pytest.raises(ImproperlyConfigured, match="is not one of"):
        env_choice(NAME, "INFO", {"DEBUG", "INFO"})


# --- NAME_FILE ---------------------------------------------------------------------------------


def test_it_reads_a_secret_from_the_file_named_by_name_file(clean_env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-a-file\n", encoding="utf-8")
    clean_env.setenv(f"{NAME}_FILE", str(secret))
    assert env_str(NAME) == "s3cret-from-a-file"


def test_the_other_helpers_read_from_a_file_too(clean_env, tmp_path):
    value = tmp_path / "value"
    value.write_text("25\n", encoding="utf-8")
    clean_env.setenv(f"{NAME}_FILE", str(value))
    assert env_int(NAME, 7, maximum=30) == 25


def test_it_refuses_an_empty_secret_file_instead_of_falling_back(clean_env, tmp_path):
    empty = tmp_path / "secret"
    empty.write_text("\n", encoding="utf-8")
    clean_env.setenv(f"{NAME}_FILE", str(empty))
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        env_str(NAME)


def test_two_processes_creating_dev_keys_at_once_share_one_key_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from yikatong import devkeys

    path = tmp_path / "keys" / "dev-keys.json"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: devkeys.load_or_create(path), range(16)))
    assert all(result == results[0] for result in results)
    assert json.loads(path.read_text(encoding="utf-8")) == results[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["dev-keys.json"]


def test_it_refuses_a_value_given_both_directly_and_in_a_file(clean_env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-file", encoding="utf-8")
    clean_env.setenv(NAME, "direct")
    clean_env.setenv(f"{NAME}_FILE", str(secret))
    with pytest.raises(ImproperlyConfigured, match=f"Set either {NAME} or {NAME}_FILE, not both"):
        env_str(NAME)


@pytest.mark.parametrize("target", ["missing-file", "a-directory"])
def test_it_refuses_a_secret_file_that_cannot_be_read(clean_env, tmp_path, target):
    (tmp_path / "a-directory").mkdir()
    clean_env.setenv(f"{NAME}_FILE", str(tmp_path / target))
    with pytest.raises(ImproperlyConfigured, match=f"{NAME}_FILE=.* cannot be read"):
        env_str(NAME)


# --- The settings module as a whole ------------------------------------------------------------


def _run(tmp_path: Path, args: list[str], extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run Python in the project with only what a newcomer's shell would have, plus ``extra``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "yikatong.settings",
        "YIKATONG_VAR_DIR": str(tmp_path / "var"),
        **(extra or {}),
    }
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _probe(tmp_path: Path, extra: dict[str, str] | None = None) -> dict:
    result = _run(tmp_path, ["-c", PROBE], extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_nothing_set_it_starts_on_sqlite_with_eager_tasks_and_dev_keys(tmp_path):
    seen = _probe(tmp_path)

    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(tmp_path / "var" / "db.sqlite3")
    assert (tmp_path / "var" / "db.sqlite3").exists()
    assert seen["always_eager"] is True
    assert seen["celery_eager"] is True
    assert seen["debug"] is False
    assert seen["using_dev_keys"] is True


def test_the_dev_key_file_is_private_and_the_same_keys_come_back_on_the_next_start(tmp_path):
    first = _probe(tmp_path)
    key_file = tmp_path / "var" / "dev-keys.json"

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = json.loads(key_file.read_text(encoding="utf-8"))
    assert stored == {
        "SECRET_KEY": first["secret_key"],
        "PII_ENCRYPTION_KEYS": first["pii_encryption_keys"],
        "PII_HASH_KEY": first["pii_hash_key"],
    }

    second = _probe(tmp_path)
    assert (second["secret_key"], second["pii_encryption_keys"], second["pii_hash_key"]) == (
        first["secret_key"],
        first["pii_encryption_keys"],
        first["pii_hash_key"],
    )


def test_two_fresh_setups_get_different_dev_keys(tmp_path):
    first = _probe(tmp_path / "one")
    second = _probe(tmp_path / "two")
    assert first["secret_key"] != second["secret_key"]
    assert first["pii_encryption_keys"] != second["pii_encryption_keys"]
    assert first["pii_hash_key"] != second["pii_hash_key"]


def test_database_and_broker_urls_switch_to_postgresql_and_a_real_queue(tmp_path):
    result = _run(
        tmp_path,
        [
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER, "
            "settings.CACHES['default']['BACKEND'])",
        ],
        {
            "DATABASE_URL": DEPLOY_ENV["DATABASE_URL"],
            "CELERY_BROKER_URL": DEPLOY_ENV["CELERY_BROKER_URL"],
            "CACHE_URL": DEPLOY_ENV["CACHE_URL"],
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "False",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_secrets_from_files_replace_the_dev_keys(tmp_path):
    files = {}
    for name in SECRET_VARIABLES:
        path = tmp_path / name.lower()
        path.write_text(DEPLOY_ENV[name] + "\n", encoding="utf-8")
        files[f"{name}_FILE"] = str(path)

    seen = _probe(tmp_path, files)

    assert seen["using_dev_keys"] is False
    assert seen["secret_key"] == DEPLOY_ENV["DJANGO_SECRET_KEY"]
    assert seen["pii_encryption_keys"] == DEPLOY_ENV["PII_ENCRYPTION_KEYS"]
    assert seen["pii_hash_key"] == DEPLOY_ENV["PII_HASH_KEY"]
    assert not (tmp_path / "var" / "dev-keys.json").exists()


@pytest.mark.parametrize("given", SECRET_VARIABLES)
def test_it_refuses_to_start_with_only_one_secret_set_and_names_the_missing_ones(tmp_path, given):
    result = _run(tmp_path, ["-c", SETUP_ONLY], {given: DEPLOY_ENV[given]})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Secrets are set only in part" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    missing = [name for name in SECRET_VARIABLES if name != given]
    for name in missing:
        assert name in message
    assert given not in message.split("also set:")[1]
    assert not (tmp_path / "var" / "dev-keys.json").exists()


def test_the_partial_secrets_error_names_the_django_secret_key_variable(tmp_path):
    result = _run(
        tmp_path,
        ["-c", SETUP_ONLY],
        {"PII_ENCRYPTION_KEYS": DEPLOY_ENV["PII_ENCRYPTION_KEYS"], "PII_HASH_KEY": DEPLOY_ENV["PII_HASH_KEY"]},
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_it_refuses_to_start_with_a_malformed_debug_flag(tmp_path):
    result = _run(tmp_path, ["-c", SETUP_ONLY], {"DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_it_refuses_to_start_with_a_cache_url_that_is_not_redis(tmp_path):
    result = _run(tmp_path, ["-c", SETUP_ONLY], {"CACHE_URL": "memcached://127.0.0.1:11211"})
    assert result.returncode != 0
    assert "CACHE_URL must be a redis:// URL" in result.stderr


def test_the_deploy_check_refuses_the_dev_keys(tmp_path):
    result = _run(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "yikatong.E001" in output
    assert "yikatong.E002" in output  # and SQLite


def test_the_deploy_check_passes_with_production_like_variables(tmp_path):
    result = _run(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], DEPLOY_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_still_refuses_sqlite_when_the_secrets_are_real(tmp_path):
    secrets_only = {name: DEPLOY_ENV[name] for name in SECRET_VARIABLES}
    result = _run(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], secrets_only)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "yikatong.E002" in output
    assert "yikatong.E001" not in output
