"""``make run``: migrate, then run the web server and its companions until interrupted.

Every process started here is stopped on Ctrl-C or SIGTERM; if one dies, the rest stop too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The local provider accepts any client; these only have to agree between it and the app.
LOCAL_OIDC_CLIENT = {
    "OIDC_CLIENT_ID": "customer-order-service-dev",
    "OIDC_CLIENT_SECRET": "local-provider-accepts-any-secret",
    "OIDC_PROVIDER_NAME": "Local test provider",
}


def main() -> int:
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    env.setdefault("WEB_CONCURRENCY", "2")
    # Lets the README simulate Africa's Talking callbacks; production refuses this value.
    env.setdefault("AT_CALLBACK_TOKEN", "dev-callback-token")
    (ROOT / "instance").mkdir(exist_ok=True)
    subprocess.run([BIN / "flask", "--app", "app", "migrate"], check=True, cwd=ROOT, env=env)

    local_provider = start_local_oidc_provider(env)
    commands = {
        "web": [BIN / "gunicorn", "--config", ROOT / "deploy" / "gunicorn.conf.py",
                "app:create_app()"],
        "sms-worker": [BIN / "flask", "--app", "app", "sms-worker"],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    children.update(local_provider)
    print(f"serving on http://{env['HOST']}:{env['PORT']}/ (API docs at /docs); Ctrl-C stops",
          flush=True)

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children.values()):
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for child in children.values():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1


def start_local_oidc_provider(env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    """Unless OIDC_ISSUER names a provider, run oidc-provider-mock and sign in with it."""
    if env.get("OIDC_ISSUER") or dotenv_values(ROOT / ".env").get("OIDC_ISSUER"):
        return {}
    port = env.get("DEV_OIDC_PORT") or "9400"
    # localhost, not 127.0.0.1: the app's and the provider's cookies must not share a host.
    issuer = f"http://localhost:{port}"
    # uvicorn, which serves the provider, would read WEB_CONCURRENCY as its own worker count.
    own_env = {name: value for name, value in env.items() if name != "WEB_CONCURRENCY"}
    child = subprocess.Popen([str(BIN / "oidc-provider-mock"), "--port", port], cwd=ROOT,
                             env=own_env)
    env["OIDC_ISSUER"] = issuer
    for name, value in LOCAL_OIDC_CLIENT.items():
        env.setdefault(name, value)
    _wait_until_answering(f"{issuer}/.well-known/openid-configuration", child)
    print(f"local sign-in provider on {issuer}/", flush=True)
    return {"oidc-provider": child}


def _wait_until_answering(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (a local http URL)
                return
        except OSError:
            time.sleep(0.2)
    child.terminate()
    raise SystemExit(f"the local OpenID Connect provider did not answer at {url}")


if __name__ == "__main__":
    sys.exit(main())
