import pytest

from gateway.settings import Settings, SettingsError


def test_production_without_secret_fails_at_start(tmp_path):
    with pytest.raises(SettingsError, match="INLET_SECRET_KEY"):
        Settings.from_env({"INLET_ENV": "production", "INLET_DATA_DIR": str(tmp_path)})


def test_development_keeps_a_generated_secret(tmp_path):
    env = {"INLET_DATA_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    assert len(first.secret_key) > 40
    assert Settings.from_env(env).secret_key == first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_embedded_defaults(tmp_path):
    s = Settings.from_env({"INLET_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'inlet.sqlite3'}"
    assert s.embedded_queue and s.smtp_url is None
    assert s.outbox_dir == tmp_path / "outbox"


def test_bad_values_fail(tmp_path):
    with pytest.raises(SettingsError):
        Settings.from_env({"INLET_ENV": "staging", "INLET_DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError):
        Settings.from_env({"INLET_SECRET_KEY": "short", "INLET_DATA_DIR": str(tmp_path)})
