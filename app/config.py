"""Settings: read once from the environment into one typed, frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.domain.values import TextableNumbers

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
    login_rate_limit: str = field(default="10/minute", metadata=_env("LOGIN_RATE_LIMIT"))
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
    sms_worker_concurrency: int = field(default=8, metadata=_env("SMS_WORKER_CONCURRENCY"))
    sms_worker_poll_seconds: int = field(default=1, metadata=_env("SMS_WORKER_POLL_SECONDS"))
    sms_worker_lease_seconds: int = field(default=300, metadata=_env("SMS_WORKER_LEASE_SECONDS"))
    # SMS are sent after the fact; requests people wait for come first on a shared CPU.
    sms_worker_nice: int = field(default=10, metadata=_env("SMS_WORKER_NICE"))
    sms_max_attempts: int = field(default=8, metadata=_env("SMS_MAX_ATTEMPTS"))
    sms_retry_base_seconds: int = field(default=30, metadata=_env("SMS_RETRY_BASE_SECONDS"))
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

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def textable_numbers(self) -> TextableNumbers:
        regions = tuple(r.strip().upper() for r in self.allowed_phone_regions.split(",")
                        if r.strip())
        try:
            return TextableNumbers(regions)
        except ValueError as error:
            raise ConfigurationError("ALLOWED_PHONE_REGIONS must list ISO 3166 region codes, "
                                     "such as KE or KE,UG.") from error

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
        settings = cls(**values)
        settings.check()
        return settings

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work, naming the variable."""
        if self.log_format not in {"text", "json"}:
            raise ConfigurationError("LOG_FORMAT must be 'text' or 'json'.")
        if self.sms_backend not in {"console", "africastalking"}:
            raise ConfigurationError("SMS_BACKEND must be 'console' or 'africastalking'.")
        self.textable_numbers  # noqa: B018 - raises when the regions are not known ones
        if not 0 <= self.sms_worker_nice <= 19:
            raise ConfigurationError("SMS_WORKER_NICE must be between 0 and 19.")
        if self.sms_backend == "africastalking" and not (self.at_username and self.at_api_key):
            raise ConfigurationError(
                "SMS_BACKEND=africastalking needs AT_USERNAME and AT_API_KEY.")
        if not self.is_production:
            return
        if self.at_callback_token == DEVELOPMENT_CALLBACK_TOKEN:
            raise ConfigurationError("AT_CALLBACK_TOKEN must be a secret of your own, not the "
                                     "development value, when APP_ENV=production.")
        unsafe = [
            setting.metadata["env"] for setting in fields(self)
            if setting.metadata["env"] in DEVELOPMENT_SECRETS
            and getattr(self, setting.name) in {"", DEVELOPMENT_SECRETS[setting.metadata["env"]]}
        ]
        if unsafe:
            raise ConfigurationError(
                f"{', '.join(unsafe)} must be set to secrets of your own when "
                "APP_ENV=production.")


def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError as error:
            raise ConfigurationError(f"{name} must be a whole number, not {raw!r}.") from error
    if kind in (bool, "bool"):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")
    return raw
