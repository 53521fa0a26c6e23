"""The image's entrypoint, outside Docker: gunicorn with its config file and APP_ENV=production."""

import secrets
import subprocess

import requests

from app.adapters.sqlalchemy.migrate import upgrade_database
from tests.integration.gunicorn_process import COMMAND, ROOT, environment, free_port, gunicorn


def test_production_refuses_to_start_with_default_secrets_and_names_them(tmp_path):
    env = environment(APP_ENV="production", ADMIN_API_KEY="123456721", PORT=str(free_port()),
                      DATABASE_URL=f"sqlite:///{tmp_path / 'orders.db'}")

    result = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    assert result.returncode != 0
    assert "SECRET_KEY, JWT_SECRET_KEY, ADMIN_API_KEY" in result.stderr


def test_production_with_real_secrets_serves_readiness(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    upgrade_database(database_url)
    env = environment(APP_ENV="production", DATABASE_URL=database_url,
                      SECRET_KEY=secrets.token_hex(32), JWT_SECRET_KEY=secrets.token_hex(32),
                      ADMIN_API_KEY=secrets.token_hex(32),
                      PUBLIC_BASE_URL="https://orders.example.com")

    with gunicorn(env) as base:
        ready = requests.get(f"{base}/readyz", timeout=5)
        login = requests.post(f"{base}/api/auth/login/", timeout=5,
                              json={"email": "nobody@example.com", "password": "x"})

    assert ready.status_code == 200
    assert ready.headers["Strict-Transport-Security"].startswith("max-age=")
    assert login.status_code == 401
    assert login.json()["code"] == "invalid_credentials"
