import pytest

from app.config import ConfigurationError, Settings

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40,
              "ADMIN_API_KEY": "a" * 40}


def test_development_runs_on_defaults():
    settings = Settings.from_env({})

    assert settings.admin_api_key == "123456721"
    assert settings.database_url.startswith("sqlite:///")


def test_production_runs_with_its_own_secrets():
    assert Settings.from_env(PRODUCTION).is_production


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY", "ADMIN_API_KEY"])
def test_production_refuses_a_missing_secret_and_names_it(name):
    environ = {k: v for k, v in PRODUCTION.items() if k != name}

    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env(environ)


def test_production_refuses_the_development_api_key():
    with pytest.raises(ConfigurationError, match="ADMIN_API_KEY"):
        Settings.from_env(PRODUCTION | {"ADMIN_API_KEY": "123456721"})


def test_production_refuses_the_development_callback_token():
    with pytest.raises(ConfigurationError, match="AT_CALLBACK_TOKEN"):
        Settings.from_env(PRODUCTION | {"AT_CALLBACK_TOKEN": "dev-callback-token"})


def test_numbers_are_checked():
    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN_SECONDS"):
        Settings.from_env({"ACCESS_TOKEN_SECONDS": "soon"})


@pytest.mark.parametrize("nice", ["-5", "20"])
def test_the_worker_priority_is_a_nice_increment(nice):
    with pytest.raises(ConfigurationError, match="SMS_WORKER_NICE"):
        Settings.from_env({"SMS_WORKER_NICE": nice})


def test_africas_talking_needs_credentials():
    with pytest.raises(ConfigurationError, match="AT_API_KEY"):
        Settings.from_env({"SMS_BACKEND": "africastalking"})


def test_production_names_every_missing_secret_at_once():
    with pytest.raises(ConfigurationError, match="SECRET_KEY, JWT_SECRET_KEY, ADMIN_API_KEY"):
        Settings.from_env({"APP_ENV": "production"})
