"""Settings from the environment: one clear line for each kind of mistake."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubelab.env import SettingError, env_bool, env_int, env_str, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_missing_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBELAB_X", raising=False)
    with pytest.raises(SettingError, match="KUBELAB_X is not set"):
        env_str("KUBELAB_X")


@pytest.mark.parametrize("raw", ["maybe", "2", "truthy"])
def test_bad_boolean_is_rejected(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("KUBELAB_FLAG", raw)
    with pytest.raises(SettingError, match=r"KUBELAB_FLAG must be true or false"):
        env_bool("KUBELAB_FLAG", False)


def test_int_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELAB_N", "500")
    with pytest.raises(SettingError, match="between 1 and 120, got 500"):
        env_int("KUBELAB_N", 5, minimum=1, maximum=120)
    monkeypatch.setenv("KUBELAB_N", "ten")
    with pytest.raises(SettingError, match="whole number"):
        env_int("KUBELAB_N", 5)


def test_database_urls() -> None:
    pg = parse_database_url("DB", "postgres://u:p%40ss@127.0.0.1:5439/kubelab")
    assert (pg.engine, pg.name, pg.user, pg.password, pg.host, pg.port) == (
        "django.db.backends.postgresql",
        "kubelab",
        "u",
        "p@ss",
        "127.0.0.1",
        "5439",
    )
    assert parse_database_url("DB", "sqlite:////tmp/x.db").name == "/tmp/x.db"
    with pytest.raises(SettingError, match="DB must start with sqlite:// or postgres://"):
        parse_database_url("DB", "mysql://x/y")
    with pytest.raises(SettingError, match="DB must look like postgres://"):
        parse_database_url("DB", "postgres://127.0.0.1")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KUBELAB_DEBUG", "perhaps", "kubelab: KUBELAB_DEBUG must be true or false"),
        ("KUBELAB_DATABASE_URL", "oracle://x", "kubelab: KUBELAB_DATABASE_URL must start with"),
        ("KUBELAB_REDIS_URL", "http://x", "kubelab: KUBELAB_REDIS_URL must look like redis://"),
        ("KUBELAB_SECRET_KEY", "", "kubelab: KUBELAB_SECRET_KEY is not set"),
    ],
)
def test_manage_py_prints_one_line(variable: str, value: str, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBELAB_")}
    env.update({"DJANGO_SETTINGS_MODULE": "kubelab.settings", "KUBELAB_SECRET_KEY": "x"})
    env[variable] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
