"""Typed, ``INLET_``-prefixed settings read through ``starlette.config.Config``."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config

# What INLET_RETENTION_<NAME> periods exist: uploaded import files, import errors (errors.csv),
# hook delivery payloads, outbound event payloads, sent mail bodies.
RETAINED = ("uploads", "errors", "deliveries", "events", "mails")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # `inlet serve`'s own default address


def served_url(host: str, port: int) -> str:
    """The URL of ``host:port`` as a browser elsewhere on this machine reaches it."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (a comparison, not a binding)
        host = "127.0.0.1"  # every interface: this machine's loopback is one of them
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class SettingsError(RuntimeError):
    """A setting is missing or invalid; raised at start-up, never at request time."""


@dataclass(frozen=True)
class Settings:
    """Everything Inlet reads from its environment."""

    env: str
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    smtp_url: str | None
    base_url: str
    mail_from: str
    queue_name: str
    token_max_age: int
    job_retry_intervals: tuple[int, ...]
    default_languages: tuple[str, ...]
    max_body_bytes: int
    sweep_seconds: int
    import_parts: int = 2
    session_idle_seconds: int = 2 * 3600
    session_max_seconds: int = 12 * 3600
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Loopback/private addresses outbound events may reach (events.targets; none by default).
    allow_private_targets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Days kept (INLET_RETENTION_*): uploads, errors, deliveries, events, mails (privacy area).
    retention: tuple[tuple[str, int], ...] = tuple((name, 30) for name in RETAINED)
    # Days added to the retention sweep's clock (tests travel in time; never in production).
    clock_offset_days: float = 0.0

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over TLS: whenever the public URL is https, and always in production."""
        return self.env == "production" or self.base_url.lower().startswith("https://")

    def retention_days(self, name: str) -> int:
        """How many days ``name`` (one of ``RETAINED``) is kept."""
        return dict(self.retention)[name]

    @property
    def embedded_queue(self) -> bool:
        """True when no Redis is configured and jobs run in-process."""
        return not self.redis_url

    @property
    def outbox_dir(self) -> Path:
        """Where mails go as ``.eml`` files when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 served_url: str | None = None) -> Settings:
        """Read settings from ``environ`` (default: the process environment).

        ``served_url`` is the address ``inlet serve`` listens on: INLET_BASE_URL's default,
        so that links in mails work on whatever port was chosen (SPEC §8).
        """
        config = Config(environ=dict(os.environ if environ is None else environ),
                        env_prefix="INLET_")
        env = config("ENV", cast=str, default="development")
        if env not in ("development", "production", "test"):
            raise SettingsError("INLET_ENV must be development, production or test")
        data_dir = Path(config("DATA_DIR", cast=str, default="./var")).resolve()
        database_url = config("DATABASE_URL", cast=str,
                              default=f"sqlite:///{data_dir / 'inlet.sqlite3'}")
        intervals = config("JOB_RETRY_INTERVALS", cast=str, default="10,60,300,1800")
        return cls(
            env=env,
            data_dir=data_dir,
            database_url=database_url,
            redis_url=config("REDIS_URL", cast=str, default="") or None,
            secret_key=_secret_key(config, env, data_dir),
            smtp_url=config("SMTP_URL", cast=str, default="") or None,
            base_url=(config("BASE_URL", cast=str, default="") or served_url
                      or DEFAULT_BASE_URL).rstrip("/"),
            mail_from=config("MAIL_FROM", cast=str, default="Inlet <no-reply@localhost>"),
            queue_name=config("QUEUE", cast=str, default="inlet"),
            token_max_age=config("CONFIRM_MAX_AGE", cast=int, default=7 * 24 * 3600),
            job_retry_intervals=tuple(int(x) for x in intervals.split(",") if x.strip()),
            default_languages=tuple(
                config("DEFAULT_LANGUAGES", cast=str, default="nl,fr,en").split(",")),
            max_body_bytes=config("MAX_BODY_BYTES", cast=int, default=1024 * 1024),
            sweep_seconds=config("SWEEP_SECONDS", cast=int, default=60),
            # Validation jobs sharing a large import; match it to the number of workers.
            import_parts=max(1, config("IMPORT_PARTS", cast=int, default=2)),
            session_idle_seconds=_positive(config, "SESSION_IDLE_SECONDS", 2 * 3600),
            session_max_seconds=_positive(config, "SESSION_MAX_SECONDS", 12 * 3600),
            trusted_proxies=_networks(config("TRUSTED_PROXIES", cast=str, default="")),
            allow_private_targets=_networks(config("ALLOW_PRIVATE_TARGETS", cast=str,
                                                   default=""), "ALLOW_PRIVATE_TARGETS"),
            retention=tuple((name, _positive(config, f"RETENTION_{name.upper()}", 30, "days"))
                            for name in RETAINED),
            clock_offset_days=_clock_offset(config, env),
        )


def _positive(config: Config, name: str, default: int, unit: str = "seconds") -> int:
    """A whole number of seconds (or ``unit``) above zero."""
    value = config(name, cast=int, default=default)
    if value <= 0:
        raise SettingsError(f"INLET_{name} must be a positive number of {unit}")
    return value


def _clock_offset(config: Config, env: str) -> float:
    """``INLET_CLOCK_OFFSET_DAYS``: moves the retention clock (tests); refused in production."""
    value = config("CLOCK_OFFSET_DAYS", cast=float, default=0.0)
    if value and env == "production":
        raise SettingsError("INLET_CLOCK_OFFSET_DAYS is for tests; unset it in production")
    return value


def _networks(raw: str, name: str = "TRUSTED_PROXIES"
              ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``INLET_TRUSTED_PROXIES`` (or ``name``): comma-separated addresses or CIDR ranges
    (empty: none)."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"INLET_{name}: {item!r} is not an IP address or "
                                "CIDR range") from None
    return tuple(networks)


def _secret_key(config: Config, env: str, data_dir: Path) -> str:
    """Production needs an explicit secret; development keeps a generated one on disk."""
    key = config("SECRET_KEY", cast=str, default="")
    if key:
        if len(key) < 16:
            raise SettingsError("INLET_SECRET_KEY must be at least 16 characters")
        return key
    if env == "production":
        raise SettingsError("INLET_SECRET_KEY is required when INLET_ENV=production")
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written owner-only: this key signs sessions and opt-in links.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
