"""Behaviour test of deploy/ansible/roles/app, run by deploy/check.sh.

Runs the role on localhost against a stand-in ``docker`` executable and a stand-in
readiness endpoint, so it needs neither Docker nor a server:

1. a first deploy writes the env file (mode 0600, secrets in it, none in Ansible's output),
   records the tag and waits for /readyz;
2. the same run again changes nothing (idempotence);
3. a new tag records the old one as previous;
4. rollback.yml's mode switches back without running migrations;
5. a release that never becomes ready is rolled back automatically and the run fails;
6. a missing secret stops the play before anything is touched, naming the secret.

Usage: python test_app_role.py /path/to/ansible-playbook
"""

from __future__ import annotations

import http.server
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSIBLE_DIR = HERE.parent
# Test values only.
PASSWORD = "s3cr3t-db-password-0123456789"  # noqa: S105  # pragma: allowlist secret
SECRET_KEY = "test-secret-key-0123456789abcdef"  # noqa: S105  # pragma: allowlist secret

FAKE_DOCKER = r"""#!/usr/bin/env bash
# Stand-in for `docker`: logs its arguments and keeps a little state in $FAKE_STATE.
echo "$*" >> "$FAKE_STATE/calls"
if [ "$1" = compose ] && [ "$2" = ps ]; then
    [ -f "$FAKE_STATE/running" ] && cat "$FAKE_STATE/running"
    exit 0
fi
if [ "$1" = compose ] && [ "$2" = up ]; then
    tag=$(sed -n "s/^APP_TAG='\(.*\)'$/\1/p" .env)
    echo "$tag" > "$FAKE_STATE/tag"
    printf 'web\nworker\nproxy\nredis\ndb\n' > "$FAKE_STATE/running"
    exit 0
fi
exit 0
"""


class Failure(Exception):
    pass


def serve_readiness(state: Path) -> http.server.ThreadingHTTPServer:
    """/readyz answers 200, or 503 while the running tag is "never-ready"."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            tag_file = state / "tag"
            tag = tag_file.read_text().strip() if tag_file.exists() else ""
            self.send_response(503 if tag == "never-ready" else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(playbook_bin: str) -> int:
    with tempfile.TemporaryDirectory(prefix="app-role-test-") as tmp:
        root = Path(tmp)
        state = root / "state"
        bin_dir = root / "bin"
        app_dir = root / "app"
        state.mkdir()
        bin_dir.mkdir()
        docker = bin_dir / "docker"
        docker.write_text(FAKE_DOCKER)
        docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
        server = serve_readiness(state)
        inventory = root / "inventory.yml"
        # The same group as the real inventory, with this machine as its only host.
        inventory.write_text("app:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
        port = server.server_address[1]

        def run(
            tag: str, *, playbook: str = "tests/app_role.yml", **extra: object
        ) -> tuple[int, str]:
            variables = {
                "ansible_python_interpreter": sys.executable,
                "app_dir": str(app_dir),
                "app_user": "nogroup",
                "app_image_repository": "ghcr.io/example-org/customer-order-service",
                "app_image_tag": tag,
                "app_readiness_url": f"http://127.0.0.1:{port}/readyz",
                "app_readiness_retries": 2,
                "app_readiness_delay": 0,
                "vault_secret_key": SECRET_KEY,
                "vault_jwt_secret_key": "test-jwt-key-0123456789abcdef",  # pragma: allowlist secret
                "vault_admin_api_key": "test-admin-key",  # pragma: allowlist secret
                "vault_database_password": PASSWORD,
                **extra,
            }
            vars_file = root / "vars.json"
            vars_file.write_text(json.dumps(variables))
            env = {
                **os.environ,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "FAKE_STATE": str(state),
                "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_INVENTORY_ENABLED": "yaml",
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            }
            result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
                [
                    playbook_bin,
                    playbook,
                    "-i",
                    str(inventory),
                    "-e",
                    f"@{vars_file}",
                    "--skip-tags",
                    "app_account",
                ],
                cwd=ANSIBLE_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            output = result.stdout + result.stderr
            for secret in (PASSWORD, SECRET_KEY):
                if secret in output:
                    raise Failure(f"a secret appeared in Ansible's output:\n{output}")
            return result.returncode, output

        def changed(output: str) -> int:
            match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
            if not match:
                raise Failure(f"no PLAY RECAP in:\n{output}")
            return int(match.group(1))

        def recorded(name: str) -> str:
            path = app_dir / "release" / name
            return path.read_text().strip() if path.exists() else ""

        def expect(condition: bool, message: str, output: str = "") -> None:
            if not condition:
                raise Failure(f"{message}\n{output}")

        # 1. first deploy
        rc, out = run("tag-a")
        expect(rc == 0, "first deploy failed", out)
        expect(
            recorded("current") == "tag-a" and recorded("previous") == "",
            "tags after first deploy",
            out,
        )
        env_file = app_dir / ".env"
        expect(stat.S_IMODE(env_file.stat().st_mode) == 0o600, "the env file must be 0600")
        env_text = env_file.read_text()
        expect("APP_TAG='tag-a'" in env_text, "APP_TAG missing from the env file", env_text)
        expect(f"POSTGRES_PASSWORD='{PASSWORD}'" in env_text, "POSTGRES_PASSWORD missing", env_text)
        expect(
            f"DATABASE_URL='postgresql+psycopg://orders:{PASSWORD}@db:5432/orders'" in env_text,
            "DATABASE_URL wrong",
            env_text,
        )
        expect("COMPOSE_PROFILES='localdb'" in env_text, "localdb profile missing", env_text)
        expect("\nAT_API_KEY=" not in env_text, "empty secrets must be left out", env_text)
        expect(
            (app_dir / "compose.yaml").exists() and (app_dir / "Caddyfile").exists(),
            "files missing",
        )

        # 2. idempotence
        rc, out = run("tag-a")
        expect(rc == 0 and changed(out) == 0, "a second identical run must change nothing", out)

        # 3. new release
        rc, out = run("tag-b")
        expect(rc == 0, "second release failed", out)
        expect(
            recorded("current") == "tag-b" and recorded("previous") == "tag-a", "tags after B", out
        )

        # 4. rollback (rollback.yml sets app_rollback)
        calls_before = (state / "calls").read_text().count("\n")
        rc, out = run("tag-b", playbook="rollback.yml", app_rollback=True)
        expect(rc == 0, "rollback failed", out)
        expect(
            recorded("current") == "tag-a" and recorded("previous") == "tag-b",
            "tags after rollback",
            out,
        )
        new_calls = (state / "calls").read_text().splitlines()[calls_before:]
        ups = [call for call in new_calls if call.startswith("compose up")]
        expect(
            ups == ["compose up --detach --no-deps web worker"],
            f"rollback must skip migrate: {ups}",
        )

        # 5. a release that never becomes ready is rolled back automatically
        rc, out = run("never-ready")
        expect(rc != 0, "a release that never becomes ready must fail the run", out)
        expect("did not become ready" in out, "the failure must say why", out)
        expect(recorded("current") == "tag-a", "the recorded release must stay tag-a", out)
        expect("APP_TAG='tag-a'" in env_file.read_text(), "the env file must be back on tag-a", out)
        expect((state / "tag").read_text().strip() == "tag-a", "tag-a must be running again", out)

        # 6. a missing secret stops the play early, naming it
        rc, out = run("tag-c", vault_jwt_secret_key="")
        expect(rc != 0 and "JWT_SECRET_KEY" in out, "a missing secret must be named", out)
        expect(recorded("current") == "tag-a", "nothing may change without the secrets", out)

        server.shutdown()
    print(
        "app role: 6 scenarios passed "
        "(deploy, idempotence, upgrade, rollback, auto-rollback, missing secret)"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except Failure as failure:
        print(f"app role test FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
