"""Settings: read once from the environment into one typed, frozen object."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

from app.domain.values import TextableNumbers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Development defaults that production must replace. The admin API key is the published
# example of the original service, so its curl walk-through works verbatim.
DEVELOPMENT_SECRETS = {
    "SECRET_KEY": "dev-secret-key-not-for-production",
    "JWT_SECRET_KEY": "dev-jwt-secret-key-not-for-production",
    "ADMIN_API_KEY": "123456721",
}


# make run's callback token, so the README can simulate Africa's Talking's callbacks.
DEVELOPMENT_CALLBACK_TOKEN = "dev-callback-token"  # noqa: S105 - refused in production

APP_ENVS = ("development", "test", "production")

# Shortest secrets production accepts: 32 characters of token_urlsafe or hex are far beyond
# guessing offline; the API key is only ever guessed online, through a rate-limited endpoint.
SHORTEST_SECRETS = {"SECRET_KEY": 32, "JWT_SECRET_KEY": 32, "ADMIN_API_KEY": 24,
                    "AT_CALLBACK_TOKEN": 32}

# Words of values meant to be replaced. None is shorter than five letters, so a random
# token contains one about once in a million; "xxx" and "todo" are caught as values of
# too few different characters instead.
PLACEHOLDER_WORDS = ("change", "replace", "secret", "password", "passwd", "example",
                     "placeholder", "dummy", "sample", "insecure", "fixme")
FEWEST_DIFFERENT_CHARACTERS = 6


class ConfigurationError(Exception):
    """The configuration cannot be used; the message says which variable and why."""


def _env(name: str) -> Any:
    """Marks a field as read from the environment variable ``name``."""
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    app_env: str = field(default="development", metadata=_env("APP_ENV"))
    secret_key: str = field(default=DEVELOPMENT_SECRETS["SECRET_KEY"],
                            metadata=_env("SECRET_KEY"))
    jwt_secret_key: str = field(default=DEVELOPMENT_SECRETS["JWT_SECRET_KEY"],
                                metadata=_env("JWT_SECRET_KEY"))
    admin_api_key: str = field(default=DEVELOPMENT_SECRETS["ADMIN_API_KEY"],
                               metadata=_env("ADMIN_API_KEY"))
    database_url: str = field(default=f"sqlite:///{INSTANCE_DIR / 'orders.db'}",
                              metadata=_env("DATABASE_URL"))
    database_pool_size: int = field(default=5, metadata=_env("DATABASE_POOL_SIZE"))
    default_currency: str = field(default="KES", metadata=_env("DEFAULT_CURRENCY"))
    access_token_seconds: int = field(default=15 * 60, metadata=_env("ACCESS_TOKEN_SECONDS"))
    refresh_token_days: int = field(default=30, metadata=_env("REFRESH_TOKEN_DAYS"))
    # Per client address; per email across all addresses the ceiling is much higher, so that
    # guessing from one address cannot lock an administrator out everywhere else.
    login_rate_limit: str = field(default="10/minute", metadata=_env("LOGIN_RATE_LIMIT"))
    login_email_rate_limit: str = field(default="100/minute",
                                        metadata=_env("LOGIN_EMAIL_RATE_LIMIT"))
    # None: open in development and test, closed in production.
    admin_registration_enabled: bool | None = field(
        default=None, metadata=_env("ADMIN_REGISTRATION_ENABLED"))
    admin_register_rate_limit: str = field(default="5/hour",
                                           metadata=_env("ADMIN_REGISTER_RATE_LIMIT"))
    admin_register_global_rate_limit: str = field(
        default="30/hour", metadata=_env("ADMIN_REGISTER_GLOBAL_RATE_LIMIT"))
    ratelimit_storage_uri: str = field(default="memory://",
                                       metadata=_env("RATELIMIT_STORAGE_URI"))
    argon2_time_cost: int = field(default=3, metadata=_env("ARGON2_TIME_COST"))
    argon2_memory_kib: int = field(default=65536, metadata=_env("ARGON2_MEMORY_KIB"))
    log_format: str = field(default="text", metadata=_env("LOG_FORMAT"))
    log_level: str = field(default="INFO", metadata=_env("LOG_LEVEL"))
    trust_proxy: bool = field(default=False, metadata=_env("TRUST_PROXY"))
    metrics_enabled: bool = field(default=False, metadata=_env("METRICS_ENABLED"))
    # SMS: "console" prints messages; "africastalking" sends them.
    sms_backend: str = field(default="console", metadata=_env("SMS_BACKEND"))
    at_username: str = field(default="sandbox", metadata=_env("AT_USERNAME"))
    at_api_key: str = field(default="", metadata=_env("AT_API_KEY"))
    at_sender_id: str = field(default="", metadata=_env("AT_SENDER_ID"))
    at_base_url: str = field(default="", metadata=_env("AT_BASE_URL"))
    at_callback_token: str = field(default="", metadata=_env("AT_CALLBACK_TOKEN"))
    # Comma-separated CIDRs the callbacks may come from (parsed by entrypoints/callbacks.py);
    # empty: from anywhere.
    at_callback_allowed_networks: str = field(default="",
                                              metadata=_env("AT_CALLBACK_ALLOWED_NETWORKS"))
    # Sends in flight per worker, at most: the gateway's pushback lowers it for a while.
    sms_worker_concurrency: int = field(default=200, metadata=_env("SMS_WORKER_CONCURRENCY"))
    sms_worker_poll_seconds: int = field(default=1, metadata=_env("SMS_WORKER_POLL_SECONDS"))
    sms_worker_lease_seconds: int = field(default=300, metadata=_env("SMS_WORKER_LEASE_SECONDS"))
    # SMS are sent after the fact; requests people wait for come first on a shared CPU.
    sms_worker_nice: int = field(default=10, metadata=_env("SMS_WORKER_NICE"))
    # host:port where the worker serves its Prometheus metrics; empty: it serves none.
    sms_worker_metrics_address: str = field(default="",
                                            metadata=_env("SMS_WORKER_METRICS_ADDRESS"))
    sms_max_attempts: int = field(default=8, metadata=_env("SMS_MAX_ATTEMPTS"))
    sms_retry_base_seconds: int = field(default=30, metadata=_env("SMS_RETRY_BASE_SECONDS"))
    # Keep it well below the lease, so that a send ends before its message may be taken again.
    sms_send_deadline_seconds: int = field(default=20,
                                           metadata=_env("SMS_SEND_DEADLINE_SECONDS"))
    # What any one person or number can make the service send (see services/limits.py).
    allowed_phone_regions: str = field(default="KE", metadata=_env("ALLOWED_PHONE_REGIONS"))
    orders_per_person_per_day: int = field(default=20,
                                           metadata=_env("ORDERS_PER_PERSON_PER_DAY"))
    sms_per_number_per_day: int = field(default=30, metadata=_env("SMS_PER_NUMBER_PER_DAY"))
    phone_codes_per_number_per_day: int = field(
        default=3, metadata=_env("PHONE_CODES_PER_NUMBER_PER_DAY"))
    phone_codes_per_person_per_day: int = field(
        default=5, metadata=_env("PHONE_CODES_PER_PERSON_PER_DAY"))
    sms_answers_per_stranger_per_hour: int = field(
        default=1, metadata=_env("SMS_ANSWERS_PER_STRANGER_PER_HOUR"))
    # Browser sign-in. Each provider is offered only when its client id and secret are set.
    public_base_url: str = field(default="", metadata=_env("PUBLIC_BASE_URL"))
    oauth_timeout_seconds: int = field(default=10, metadata=_env("OAUTH_TIMEOUT_SECONDS"))
    google_client_id: str = field(default="", metadata=_env("GOOGLE_CLIENT_ID"))
    google_client_secret: str = field(default="", metadata=_env("GOOGLE_CLIENT_SECRET"))
    github_client_id: str = field(default="", metadata=_env("GITHUB_CLIENT_ID"))
    github_client_secret: str = field(default="", metadata=_env("GITHUB_CLIENT_SECRET"))
    github_base_url: str = field(default="https://github.com", metadata=_env("GITHUB_BASE_URL"))
    github_api_base_url: str = field(default="https://api.github.com",
                                     metadata=_env("GITHUB_API_BASE_URL"))
    facebook_client_id: str = field(default="", metadata=_env("FACEBOOK_CLIENT_ID"))
    facebook_client_secret: str = field(default="", metadata=_env("FACEBOOK_CLIENT_SECRET"))
    facebook_base_url: str = field(default="https://www.facebook.com/v23.0",
                                   metadata=_env("FACEBOOK_BASE_URL"))
    facebook_graph_url: str = field(default="https://graph.facebook.com/v23.0",
                                    metadata=_env("FACEBOOK_GRAPH_URL"))
    oidc_issuer: str = field(default="", metadata=_env("OIDC_ISSUER"))
    oidc_client_id: str = field(default="", metadata=_env("OIDC_CLIENT_ID"))
    oidc_client_secret: str = field(default="", metadata=_env("OIDC_CLIENT_SECRET"))
    oidc_provider_name: str = field(default="OpenID Connect",
                                    metadata=_env("OIDC_PROVIDER_NAME"))

    def __post_init__(self) -> None:
        self.check()

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def admin_registration_open(self) -> bool:
        if self.admin_registration_enabled is None:
            return not self.is_production
        return self.admin_registration_enabled

    @property
    def textable_numbers(self) -> TextableNumbers:
        regions = tuple(r.strip().upper() for r in self.allowed_phone_regions.split(",")
                        if r.strip())
        try:
            return TextableNumbers(regions)
        except ValueError as error:
            raise ConfigurationError("ALLOWED_PHONE_REGIONS must list ISO 3166 region codes, "
                                     "such as KE or KE,UG.") from error

    @property
    def worker_metrics_endpoint(self) -> tuple[str, int]:
        """SMS_WORKER_METRICS_ADDRESS as (host, port); an empty host is every interface."""
        host, _, port = self.sms_worker_metrics_address.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError("SMS_WORKER_METRICS_ADDRESS must be host:port, such as "
                                     f"127.0.0.1:9101, not {self.sms_worker_metrics_address!r}.")
        return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the operator's choice

    @property
    def callback_networks(self) -> tuple[Network, ...]:
        return _callback_networks(self.at_callback_allowed_networks)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            name = setting.metadata["env"]
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            values[setting.name] = _convert(name, raw, setting.type)
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work, naming the variable."""
        if self.app_env not in APP_ENVS:
            raise ConfigurationError(
                f"APP_ENV must be one of {', '.join(APP_ENVS)}, not {self.app_env!r}.")
        if self.log_format not in {"text", "json"}:
            raise ConfigurationError("LOG_FORMAT must be 'text' or 'json'.")
        if self.sms_backend not in {"console", "africastalking"}:
            raise ConfigurationError("SMS_BACKEND must be 'console' or 'africastalking'.")
        self.textable_numbers  # noqa: B018 - raises when the regions are not known ones
        self.callback_networks  # noqa: B018 - raises when an entry is not a network
        if not 1 <= self.sms_send_deadline_seconds < self.sms_worker_lease_seconds:
            raise ConfigurationError(
                "SMS_SEND_DEADLINE_SECONDS must be at least 1 and below "
                "SMS_WORKER_LEASE_SECONDS, so that no send outlives its claim.")
        if not 0 <= self.sms_worker_nice <= 19:
            raise ConfigurationError("SMS_WORKER_NICE must be between 0 and 19.")
        if not 1 <= self.sms_worker_concurrency <= 10_000:
            raise ConfigurationError("SMS_WORKER_CONCURRENCY must be between 1 and 10000.")
        if self.sms_worker_metrics_address:
            self.worker_metrics_endpoint  # noqa: B018 - raises when it is no host:port
        if self.sms_backend == "africastalking" and not (self.at_username and self.at_api_key):
            raise ConfigurationError(
                "SMS_BACKEND=africastalking needs AT_USERNAME and AT_API_KEY.")
        for setting in fields(self):
            if setting.name.endswith("rate_limit"):
                _check_rate(setting.metadata["env"], getattr(self, setting.name))
        if self.public_base_url:
            address = urlsplit(self.public_base_url)
            if address.scheme not in {"http", "https"} or not address.netloc:
                raise ConfigurationError("PUBLIC_BASE_URL must be the site's address, such as "
                                         f"https://orders.example.com, not "
                                         f"{self.public_base_url!r}.")
        if self.is_production:
            problems = self._production_problems()
            if problems:
                raise ConfigurationError(" ".join(problems))

    def _production_problems(self) -> list[str]:
        secrets = {"SECRET_KEY": self.secret_key, "JWT_SECRET_KEY": self.jwt_secret_key,
                   "ADMIN_API_KEY": self.admin_api_key, "AT_CALLBACK_TOKEN": self.at_callback_token}
        problems = []
        unset = [name for name, development in DEVELOPMENT_SECRETS.items()
                 if secrets[name] in {"", development}]
        if unset:
            problems.append(f"{', '.join(unset)} must be set to secrets of your own when "
                            "APP_ENV=production.")
        if self.at_callback_token == DEVELOPMENT_CALLBACK_TOKEN:
            problems.append("AT_CALLBACK_TOKEN must be a secret of your own, not the "
                            "development value, when APP_ENV=production.")
        elif self.sms_backend == "africastalking" and not self.at_callback_token:
            problems.append("AT_CALLBACK_TOKEN must be set when SMS_BACKEND=africastalking "
                            "and APP_ENV=production: Africa's Talking's callbacks are not "
                            "signed, the token in their URL is what proves them.")
        for name, shortest in SHORTEST_SECRETS.items():
            value = secrets[name]
            if name in unset or value in {"", DEVELOPMENT_CALLBACK_TOKEN}:
                continue
            if len(value) < shortest:
                problems.append(f"{name} must be at least {shortest} characters long when "
                                "APP_ENV=production.")
            elif _looks_like_placeholder(value):
                problems.append(f"{name} looks like a placeholder: generate a random one, "
                                "for example with `openssl rand -hex 32`.")
        if not self.public_base_url:
            problems.append("PUBLIC_BASE_URL must be set when APP_ENV=production, to the "
                            "site's public address such as https://orders.example.com: "
                            "sign-in redirect addresses are built from it, never from the "
                            "request's Host header.")
        return problems


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (any(word in lowered for word in PLACEHOLDER_WORDS)
            or len(set(lowered)) < FEWEST_DIFFERENT_CHARACTERS)


def _check_rate(name: str, rate: str) -> None:
    try:
        parse_many(rate)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a rate such as 10/minute or "
                                 f"5/hour;50/day, not {rate!r}.") from error


@lru_cache(maxsize=4)
def _callback_networks(listed: str) -> tuple[Network, ...]:
    """The networks in AT_CALLBACK_ALLOWED_NETWORKS; none (anywhere is allowed) if empty."""
    if not listed.strip():
        return ()
    entries = [entry.strip() for entry in listed.split(",") if entry.strip()]
    try:
        networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as error:
        raise ConfigurationError(
            "AT_CALLBACK_ALLOWED_NETWORKS must be a comma-separated list of addresses or "
            f"networks such as 192.0.2.0/24,2001:db8::/32 ({error}).") from error
    if not networks:
        raise ConfigurationError("AT_CALLBACK_ALLOWED_NETWORKS lists no network; leave it "
                                 "empty to accept callbacks from anywhere.")
    return networks



def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError as error:
            raise ConfigurationError(f"{name} must be a whole number, not {raw!r}.") from error
    if kind in (bool, "bool", "bool | None"):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")
    return raw
