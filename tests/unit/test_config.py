import pytest

from app.config import ConfigurationError, Settings

# What `secrets.token_urlsafe` gives: the kind of value production asks for.
SESSION_SECRET = "q8Vw2Lr5Xn0Tz7Yb4Kd1Hf6Mj3Pc9Sg-Ua_EoRi"
JWT_SECRET = "N3mB7vC1xZ9lK5jH2gF8dS4aQ0wE6rT-yU_iOpLk"
API_KEY = "Wk4Rt9Yp2Mx7Lb5Qz8Nd3Gh6"
CALLBACK_TOKEN = "Fz6Hq1Jw8Ks3Ld0Mv5Nb9Xc2Pr7Tg4Ye-Ua_WoIi"
PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": SESSION_SECRET,
              "JWT_SECRET_KEY": JWT_SECRET, "ADMIN_API_KEY": API_KEY,
              "PUBLIC_BASE_URL": "https://orders.example.com"}


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


@pytest.mark.parametrize("app_env", ["Production", "prod", "production ", "staging", ""])
def test_an_unknown_app_env_refuses_to_start_and_names_the_variable(app_env):
    with pytest.raises(ConfigurationError, match="APP_ENV"):
        Settings(app_env=app_env)


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_development_and_test_run_on_development_secrets(app_env):
    settings = Settings.from_env({"APP_ENV": app_env})

    assert not settings.is_production
    assert settings.admin_api_key == "123456721"


@pytest.mark.parametrize(("name", "shortest"), [
    ("SECRET_KEY", 32), ("JWT_SECRET_KEY", 32), ("ADMIN_API_KEY", 24),
    ("AT_CALLBACK_TOKEN", 32),
])
def test_production_refuses_a_secret_one_character_too_short(name, shortest):
    too_short = CALLBACK_TOKEN[:shortest - 1]

    with pytest.raises(ConfigurationError, match=f"{name} must be at least {shortest}"):
        Settings.from_env(PRODUCTION | {name: too_short})


def test_production_accepts_secrets_of_the_shortest_allowed_length():
    environ = PRODUCTION | {"SECRET_KEY": SESSION_SECRET[:32], "JWT_SECRET_KEY": JWT_SECRET[:32],
                            "ADMIN_API_KEY": API_KEY[:24], "AT_CALLBACK_TOKEN": CALLBACK_TOKEN[:32]}

    assert Settings.from_env(environ).is_production


def test_production_refuses_a_one_character_secret():
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY must be at least 32"):
        Settings.from_env(PRODUCTION | {"JWT_SECRET_KEY": "j"})


@pytest.mark.parametrize("placeholder", [
    "CHANGE_ME_CHANGE_ME_CHANGE_ME_CHANGE_ME",
    "changeme-changeme-changeme-changeme-0001",
    "ChangeThisToSomethingRandomBeforeDeploying",
    "my-super-secret-production-session-key-2026",
    "Password1Password1Password1Password1Password1",
    "https-orders-example-com-session-signing-key",
    "your-key-here-replace-me-with-a-random-string",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "TODOTODOTODOTODOTODOTODOTODOTODOTODO",
    "s" * 40,
])
def test_production_refuses_a_placeholder_however_long(placeholder):
    with pytest.raises(ConfigurationError, match="SECRET_KEY looks like a placeholder"):
        Settings.from_env(PRODUCTION | {"SECRET_KEY": placeholder})


def test_production_refuses_a_placeholder_api_key():
    with pytest.raises(ConfigurationError, match="ADMIN_API_KEY looks like a placeholder"):
        Settings.from_env(PRODUCTION | {"ADMIN_API_KEY": "CHANGE_ME-CHANGE_ME-CHANGE_ME"})


def test_production_needs_the_public_address_for_redirect_uris():
    environ = {k: v for k, v in PRODUCTION.items() if k != "PUBLIC_BASE_URL"}

    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL"):
        Settings.from_env(environ)


def test_the_public_address_is_an_http_url():
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL"):
        Settings.from_env(PRODUCTION | {"PUBLIC_BASE_URL": "orders.example.com"})


def test_production_sending_real_sms_needs_a_callback_token():
    environ = PRODUCTION | {"SMS_BACKEND": "africastalking", "AT_USERNAME": "orders",
                            "AT_API_KEY": "test-api-key-not-a-secret"}

    with pytest.raises(ConfigurationError, match="AT_CALLBACK_TOKEN"):
        Settings.from_env(environ)
    assert Settings.from_env(environ | {"AT_CALLBACK_TOKEN": CALLBACK_TOKEN}).is_production


def test_settings_built_in_code_are_checked_too():
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings(app_env="production", public_base_url="https://orders.example.com")


def test_changed_settings_are_checked_too():
    with pytest.raises(ConfigurationError, match="APP_ENV"):
        Settings().with_changes(app_env="prod")


def test_admin_registration_is_open_in_development_and_closed_in_production():
    assert Settings.from_env({}).admin_registration_open
    assert not Settings.from_env(PRODUCTION).admin_registration_open


@pytest.mark.parametrize(("environ", "open_"), [
    (PRODUCTION | {"ADMIN_REGISTRATION_ENABLED": "true"}, True),
    ({"ADMIN_REGISTRATION_ENABLED": "false"}, False),
])
def test_an_operator_opens_or_closes_admin_registration(environ, open_):
    assert Settings.from_env(environ).admin_registration_open is open_


@pytest.mark.parametrize("name", ["LOGIN_RATE_LIMIT", "LOGIN_EMAIL_RATE_LIMIT",
                                  "ADMIN_REGISTER_RATE_LIMIT",
                                  "ADMIN_REGISTER_GLOBAL_RATE_LIMIT"])
def test_a_rate_limit_that_cannot_be_read_refuses_to_start(name):
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: "ten a minute"})


@pytest.mark.parametrize("listed", ["10.0.0.0/33", "not-a-network", " , "])
def test_a_bad_callback_network_list_refuses_to_start(listed):
    with pytest.raises(ConfigurationError, match="AT_CALLBACK_ALLOWED_NETWORKS"):
        Settings.from_env({"AT_CALLBACK_ALLOWED_NETWORKS": listed})


@pytest.mark.parametrize("seconds", ["0", "300", "900"])
def test_a_send_deadline_outside_the_claim_lease_refuses_to_start(seconds):
    with pytest.raises(ConfigurationError, match="SMS_SEND_DEADLINE_SECONDS"):
        Settings.from_env({"SMS_SEND_DEADLINE_SECONDS": seconds})
