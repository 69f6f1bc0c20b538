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


def test_session_lifetimes_and_trusted_proxies(tmp_path):
    s = Settings.from_env({"INLET_DATA_DIR": str(tmp_path)})
    assert (s.session_idle_seconds, s.session_max_seconds) == (7200, 43200)
    assert s.trusted_proxies == ()  # trust no proxy unless told
    s = Settings.from_env({"INLET_DATA_DIR": str(tmp_path), "INLET_SESSION_IDLE_SECONDS": "600",
                           "INLET_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,,::1 "})
    assert s.session_idle_seconds == 600
    assert [str(n) for n in s.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    for name, value in (("INLET_TRUSTED_PROXIES", "proxy.internal"),
                        ("INLET_SESSION_MAX_SECONDS", "0")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({"INLET_DATA_DIR": str(tmp_path), name: value})


def test_cookies_are_secure_over_https_and_in_production(tmp_path):
    def secure(**env):
        return Settings.from_env({"INLET_DATA_DIR": str(tmp_path),
                                  "INLET_SECRET_KEY": "k" * 20, **env}).secure_cookies
    assert not secure()
    assert secure(INLET_BASE_URL="https://inlet.example.com")
    assert secure(INLET_ENV="production")
