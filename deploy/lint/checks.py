"""Checks of the deployment files that no off-the-shelf linter makes. Run by deploy/check.sh.

    python deploy/lint/checks.py compose        # compose.yaml: services, dependencies, pins
    python deploy/lint/checks.py env-example    # .env.example documented, no secret values
    python deploy/lint/checks.py terraform      # every .tf parses as HCL2, plus assertions
    python deploy/lint/checks.py gunicorn       # gunicorn.conf.py against gunicorn's settings
    python deploy/lint/checks.py workflow-shell # shellcheck on every workflow `run:` script
    python deploy/lint/checks.py hygiene        # no private key, no live address, skips justified
    python deploy/lint/checks.py dockerignore   # the build context holds what COPY needs

Each prints its findings as ``path: message`` and exits 1 when there is any.
"""

from __future__ import annotations

import ipaddress
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
TERRAFORM = DEPLOY / "terraform"
WORKFLOWS = ROOT / ".github" / "workflows"
ANSIBLE = DEPLOY / "ansible"

Findings = list[str]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_yaml(path: Path) -> Any:
    import yaml  # from the deploy virtualenv (ansible-core depends on PyYAML)

    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


# --------------------------------------------------------------------------- compose ----

APP_SERVICES = ("migrate", "web", "worker")
LONG_RUNNING = ("web", "worker", "proxy", "redis", "db")


def check_compose() -> Findings:
    findings: Findings = []
    where = rel(COMPOSE)
    doc = load_yaml(COMPOSE)
    services: dict[str, Any] = doc.get("services", {})

    def problem(message: str) -> None:
        findings.append(f"{where}: {message}")

    for name in (*APP_SERVICES, "proxy", "redis", "db"):
        if name not in services:
            problem(f"service {name!r} is missing")
    if findings:
        return findings

    # One image for the app services, the same tag, from the env file.
    images = {services[name].get("image") for name in APP_SERVICES}
    if len(images) != 1 or not str(next(iter(images))).endswith(":${APP_TAG:?set APP_TAG in .env}"):
        problem(
            f"migrate, web and worker must share the image ${{APP_IMAGE}}:${{APP_TAG}}: {images}"
        )
    for name, service in services.items():
        image = str(service.get("image", ""))
        if "${" in image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not tag or tag == "latest":
            problem(f"service {name!r}: image {image!r} must be pinned to a version tag")

    # Migrations run first and must succeed before web and worker start.
    if services["migrate"].get("restart") != "no":
        problem("migrate is a one-shot job: restart must be 'no'")
    for name in ("web", "worker"):
        depends = services[name].get("depends_on", {})
        condition = (
            depends.get("migrate", {}).get("condition") if isinstance(depends, dict) else None
        )
        if condition != "service_completed_successfully":
            problem(f"{name} must depend on migrate with condition service_completed_successfully")
    for name in APP_SERVICES:
        db = services[name].get("depends_on", {}).get("db", {})
        if db.get("condition") != "service_healthy" or db.get("required") is not False:
            problem(f"{name} must wait for a healthy db when it runs (required: false for RDS)")

    for name in LONG_RUNNING:
        if services[name].get("restart") not in {"unless-stopped", "always"}:
            problem(f"{name} must have a restart policy (unless-stopped or always)")

    # Health checks: real ones where a port is served, off for the worker and the job.
    for name in ("web", "proxy", "redis", "db"):
        check = services[name].get("healthcheck", {})
        if check.get("disable") or not check.get("test"):
            problem(f"{name} needs a health check")
    for name in ("worker", "migrate"):
        if not services[name].get("healthcheck", {}).get("disable"):
            problem(f"{name} serves no HTTP: the image's /healthz check must be disabled")

    # PostgreSQL keeps its data in a named volume.
    volumes = doc.get("volumes", {}) or {}
    db_volumes = services["db"].get("volumes", [])
    data = [v for v in db_volumes if str(v).endswith(":/var/lib/postgresql/data")]
    if not data or str(data[0]).split(":", 1)[0] not in volumes:
        problem("db must keep /var/lib/postgresql/data in a named volume declared under volumes:")
    if "localdb" not in services["db"].get("profiles", []):
        problem("db must be in the 'localdb' profile so RDS deployments can leave it out")

    # Only the proxy is public; the web port stays on the host's loopback.
    for name, service in services.items():
        for port in service.get("ports", []) or []:
            if name != "proxy" and not str(port).startswith("127.0.0.1:"):
                problem(f"{name} publishes {port!r} beyond the host's loopback")

    # App containers: unprivileged and read-only.
    for name in APP_SERVICES:
        service = services[name]
        if not service.get("read_only") or "ALL" not in (service.get("cap_drop") or []):
            problem(f"{name} must run read_only with cap_drop: [ALL]")
        if service.get("env_file") != ".env":
            problem(f"{name} must read its configuration from .env")

    # Every ${VAR} used must be documented in .env.example.
    documented = env_example_names()
    for variable in sorted(set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))):
        if variable not in documented:
            problem(f"${{{variable}}} is not documented in {rel(ENV_EXAMPLE)}")
    return findings


# ----------------------------------------------------------------------- env example ----

ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_NAME = re.compile(r"(^|_)(SECRET|SECRET_KEY|PASSWORD|TOKEN|API_KEY)$")


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            names.add(match.group(1))
    return names


def check_env_example() -> Findings:
    findings: Findings = []
    where = rel(ENV_EXAMPLE)
    lines = ENV_EXAMPLE.read_text().splitlines()
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        match = ASSIGNMENT.match(line)
        if not match:
            continue
        name, value = match.groups()
        if name in seen:
            findings.append(f"{where}:{number}: {name} is defined twice")
        seen.add(name)
        previous = lines[number - 2].strip() if number >= 2 else ""
        if not previous.startswith("#") or ASSIGNMENT.match(previous):
            findings.append(f"{where}:{number}: {name} needs a comment line right above it")
        if value and not (len(value) >= 2 and value[0] == value[-1] == "'"):
            findings.append(f"{where}:{number}: {name}: quote the value with single quotes")
        if SECRET_NAME.search(name) and value not in ("", "''"):
            findings.append(f"{where}:{number}: {name} looks secret: leave it empty in the example")

    # Secrets documented here must be wired through Ansible (group_vars app_secrets).
    group_vars = load_yaml(ANSIBLE / "group_vars" / "all" / "main.yml")
    wired = set(group_vars.get("app_secrets", {})) | {"POSTGRES_PASSWORD"}
    for name in sorted(seen):
        if SECRET_NAME.search(name) and name not in wired:
            findings.append(
                f"{where}: secret {name} is not set by Ansible (group_vars app_secrets)"
            )

    # Drift against the app's settings is reported, not failed: the app grows settings
    # that need no deployment change (their defaults are right), and other engineers own it.
    config = ROOT / "app" / "config.py"
    if config.exists():
        used = set(re.findall(r'_env\("([A-Z][A-Z0-9_]*)"\)', config.read_text()))
        missing = sorted(used - seen)
        if missing:
            print(f"note: settings of app/config.py not in {where}: {', '.join(missing)}")
    return findings


# ------------------------------------------------------------------------- terraform ----


def _first(value: Any) -> Any:
    """python-hcl2 wraps attribute values and blocks in one-element lists."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _blocks(document: dict[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for entry in document.get(kind, []):
        for type_name, named in entry.items():
            if kind == "variable" or kind == "output":
                yield kind, type_name, named
                continue
            for name, body in named.items():
                yield type_name, name, body


def _unquote(value: Any) -> str:
    text = str(_first(value))
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


WORLD = {"0.0.0.0/0", "::/0"}


def check_terraform() -> Findings:
    import hcl2

    findings: Findings = []
    documents: dict[Path, dict[str, Any]] = {}
    files = sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tftest.hcl"))
    files = [path for path in files if ".terraform" not in path.parts]
    for path in files:
        try:
            with path.open(encoding="utf-8") as stream:
                documents[path] = hcl2.load(stream)
        except Exception as error:
            findings.append(f"{rel(path)}: does not parse as HCL2: {error}")
    print(f"terraform: {len(documents)}/{len(files)} files parsed as HCL2")
    tf_docs = {path: doc for path, doc in documents.items() if path.suffix == ".tf"}

    providers_pinned = backend_s3 = False
    variables: set[str] = set()
    outputs: set[str] = set()
    for path, doc in tf_docs.items():
        where = rel(path)
        for block in doc.get("terraform", []):
            for providers in block.get("required_providers", []):
                aws = _first(providers.get("aws"))
                if isinstance(aws, dict) and _unquote(aws.get("version", "")).startswith("~>"):
                    providers_pinned = True
            for backend in block.get("backend", []):
                backend_s3 = backend_s3 or "s3" in backend
        for _, name, body in _blocks(doc, "variable"):
            variables.add(name)
            if not _unquote(body.get("description", "")).strip():
                findings.append(f"{where}: variable {name!r} has no description")
            if "type" not in body:
                findings.append(f"{where}: variable {name!r} has no type")
        for _, name, body in _blocks(doc, "output"):
            outputs.add(name)
            if not _unquote(body.get("description", "")).strip():
                findings.append(f"{where}: output {name!r} has no description")

        for type_name, name, body in _blocks(doc, "resource"):
            address = f"{type_name}.{name}"
            if type_name == "aws_vpc_security_group_ingress_rule":
                ports = (_first(body.get("from_port")), _first(body.get("to_port")))
                cidrs = {_unquote(body.get("cidr_ipv4", "")), _unquote(body.get("cidr_ipv6", ""))}
                covers_ssh = ports[0] is None or (int(ports[0]) <= 22 <= int(ports[1]))
                if covers_ssh and cidrs & WORLD:
                    findings.append(f"{where}: {address} opens SSH (22) to the whole internet")
                if covers_ssh and "var.ssh_allowed_cidrs" not in str(body.get("for_each")):
                    findings.append(
                        f"{where}: {address}: SSH may only come from var.ssh_allowed_cidrs"
                    )
            if type_name == "aws_security_group":
                for rule in body.get("ingress", []) or []:
                    low = int(_first(rule.get("from_port", 0)))
                    high = int(_first(rule.get("to_port", 0)))
                    cidrs = set(map(_unquote, rule.get("cidr_blocks", []) or []))
                    if low <= 22 <= high and cidrs & WORLD:
                        findings.append(f"{where}: {address} opens SSH to the whole internet")
            if type_name == "aws_instance":
                metadata = _first(body.get("metadata_options", {})) or {}
                if _unquote(metadata.get("http_tokens", "")) != "required":
                    findings.append(f"{where}: {address} must require IMDSv2 (http_tokens)")
                root_device = _first(body.get("root_block_device", {})) or {}
                if _first(root_device.get("encrypted")) is not True:
                    findings.append(f"{where}: {address} root volume must be encrypted")
            if type_name == "aws_db_instance":
                if _first(body.get("publicly_accessible")) is not False:
                    findings.append(f"{where}: {address} must not be publicly accessible")
                if _first(body.get("storage_encrypted")) is not True:
                    findings.append(f"{where}: {address} storage must be encrypted")
                if "password" in body:
                    findings.append(f"{where}: {address}: use password_wo (never stored in state)")

    if not providers_pinned:
        findings.append("deploy/terraform: the aws provider needs a pessimistic version pin (~>)")
    if not backend_s3:
        findings.append("deploy/terraform: remote state must use the s3 backend")
    for variable in (
        "aws_region",
        "instance_type",
        "ssh_key_name",
        "ssh_allowed_cidrs",
        "image_tag",
        "use_rds",
    ):
        if variable not in variables:
            findings.append(f"deploy/terraform: variable {variable!r} is missing")
    inventory_needs = {"public_ip", "instance_id", "ssh_user", "url", "security_group_id"}
    for output in sorted(inventory_needs - outputs):
        findings.append(
            f"deploy/terraform: output {output!r} (used by the inventory/deploy) is missing"
        )
    return findings


# -------------------------------------------------------------------------- gunicorn ----

GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"


def _gunicorn_settings(environ: dict[str, str]) -> dict[str, Any]:
    from gunicorn.config import Config

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        namespace = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    config = Config()
    applied = {}
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)  # validates the type, as gunicorn does
            applied[name] = config.settings[name].get()
    applied["_unknown"] = sorted(
        name
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in config.settings
        and not callable(value)
        and type(value).__name__ != "module"
        and name != "annotations"
    )
    return applied


def check_gunicorn() -> Findings:
    findings: Findings = []
    where = rel(GUNICORN_CONF)
    base = {"PATH": os.environ.get("PATH", "")}

    def expect(condition: bool, message: str) -> None:
        if not condition:
            findings.append(f"{where}: {message}")

    default = _gunicorn_settings(base)
    expect(not default["_unknown"], f"names gunicorn does not know: {default['_unknown']}")
    expect(
        default["bind"] == ["0.0.0.0:8000"],
        f"default bind must be 0.0.0.0:8000, is {default['bind']}",
    )
    expect(default["workers"] >= 2, "default workers must follow the CPU count (>= 2)")
    expect(default["graceful_timeout"] > 0 and default["timeout"] > 0, "timeouts must be set")
    expect("%({x-request-id}o)s" in default["access_log_format"], "access log needs the request id")
    expect(default["preload_app"] is False, "preload_app must stay off (per-worker DB pools)")
    expect(callable(default.get("on_starting")), "the on_starting hook must be set")
    dev = _gunicorn_settings(
        {
            **base,
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "WEB_CONCURRENCY": "3",
            "GUNICORN_THREADS": "2",
            "FORWARDED_ALLOW_IPS": "*",
            "GUNICORN_RELOAD": "true",
        }
    )
    expect(dev["bind"] == ["127.0.0.1:9000"], f"HOST/PORT ignored: {dev['bind']}")
    expect(dev["workers"] == 3 and dev["threads"] == 2, "WEB_CONCURRENCY/GUNICORN_THREADS ignored")
    expect(dev["forwarded_allow_ips"] == ["*"], "FORWARDED_ALLOW_IPS ignored")
    expect(dev["reload"] is True, "GUNICORN_RELOAD ignored")
    ipv6 = _gunicorn_settings({**base, "HOST": "::"})
    expect(ipv6["bind"] == ["[::]:8000"], f"an IPv6 HOST must be bracketed: {ipv6['bind']}")
    try:
        _gunicorn_settings({**base, "WEB_CONCURRENCY": "many"})
        findings.append(f"{where}: a malformed WEB_CONCURRENCY must be refused with a message")
    except RuntimeError as error:
        expect("WEB_CONCURRENCY" in str(error), "the error must name WEB_CONCURRENCY")
    summary = {key: default[key] for key in ("bind", "workers", "threads", "timeout")}
    print(f"gunicorn: {summary}")
    return findings


# -------------------------------------------------------------------- workflow shell ----

# The same exclusions actionlint applies to run: scripts: variables come from `env:`,
# expressions become constant placeholders.
SHELLCHECK_EXCLUDE = "SC1091,SC2050,SC2154,SC2157,SC2194"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def check_workflow_shell() -> Findings:
    findings: Findings = []
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        return ["shellcheck is not installed in the deploy virtualenv"]
    scripts = 0
    with tempfile.TemporaryDirectory(prefix="workflow-shell-") as tmp:
        for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
            doc = load_yaml(workflow)
            default_shell = ((doc.get("defaults") or {}).get("run") or {}).get("shell", "bash")
            for job_id, job in (doc.get("jobs") or {}).items():
                job_shell = ((job.get("defaults") or {}).get("run") or {}).get(
                    "shell", default_shell
                )
                for index, step in enumerate(job.get("steps") or [], start=1):
                    if "run" not in step:
                        continue
                    shell = str(step.get("shell", job_shell)).split()[0]
                    if shell not in {"bash", "sh"}:
                        continue
                    # Same length placeholder, as actionlint does, so columns still match.
                    body = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), step["run"])
                    script = Path(tmp) / f"{workflow.stem}-{job_id}-{index}.sh"
                    header = (
                        "#!/usr/bin/env bash\nset -eo pipefail\n"
                        if shell == "bash"
                        else "#!/bin/sh\nset -e\n"
                    )
                    script.write_text(header + body)
                    scripts += 1
                    result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
                        [
                            shellcheck,
                            "--format=gcc",
                            f"--exclude={SHELLCHECK_EXCLUDE}",
                            str(script),
                        ],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    title = step.get("name", step["run"].splitlines()[0])
                    label = f"{rel(workflow)}: job {job_id}, step {index} ({title})"
                    for line in result.stdout.splitlines():
                        parts = line.split(":", 3)
                        line_number = int(parts[1]) - 2 if len(parts) == 4 else 0
                        message = parts[3].strip() if len(parts) == 4 else line
                        findings.append(f"{label}: run line {line_number}: {message}")
    print(f"workflow shell: {scripts} run: scripts checked with shellcheck")
    return findings


# --------------------------------------------------------------------------- hygiene ----

DEPLOY_FILES = [
    ROOT / "Dockerfile",
    ROOT / ".dockerignore",
    *sorted(p for p in DEPLOY.rglob("*") if p.is_file()),
    *sorted(WORKFLOWS.glob("*.y*ml")),
]
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# Not after "=" or "v": version numbers such as ==2.15.1.2 are not addresses.
IPV4 = re.compile(r"(?<![\d.=v])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
# Documentation, private, loopback, link-local and "any" addresses are not live addresses.
ALLOWED_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
    )
]
CHECKOV_SKIP = re.compile(r"checkov:skip=(CKV[A-Z0-9_]+)(:?)(.*)")


def deploy_files() -> list[Path]:
    skip_parts = {".tools", ".terraform", "__pycache__", ".venv-deploy"}
    return [p for p in DEPLOY_FILES if p.exists() and not skip_parts & set(p.parts)]


def check_hygiene() -> Findings:
    findings: Findings = []
    for path in deploy_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            findings.append(f"{rel(path)}: not UTF-8 text (binary files do not belong here)")
            continue
        if PRIVATE_KEY.search(text):
            findings.append(f"{rel(path)}: contains a private key")
        for number, line in enumerate(text.splitlines(), start=1):
            for address in IPV4.findall(line):
                try:
                    ip = ipaddress.ip_address(address)
                except ValueError:
                    continue
                if not any(ip in network for network in ALLOWED_NETWORKS):
                    findings.append(f"{rel(path)}:{number}: {address} looks like a live address")
            for check, colon, reason in CHECKOV_SKIP.findall(line):
                if not colon or len(reason.strip()) < 20:
                    findings.append(
                        f"{rel(path)}:{number}: checkov skip {check} needs a justification"
                    )
    print(f"hygiene: {len(deploy_files())} deploy files scanned")
    return findings


# ---------------------------------------------------------------------- dockerignore ----


def check_dockerignore() -> Findings:
    """Every COPY source of the Dockerfile must survive .dockerignore; secrets must not."""
    findings: Findings = []
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    def included(path: str) -> bool:
        # Docker's rule: the last matching pattern wins; "!" re-includes.
        import fnmatch

        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            body = body.rstrip("/")
            candidates = [path] + [path.rsplit("/", i)[0] for i in range(1, path.count("/") + 1)]
            if any(
                fnmatch.fnmatch(c, body) or fnmatch.fnmatch(c, body.replace("**/", ""))
                for c in candidates
            ):
                keep = negate
        return keep

    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += [p for p in parts[1:-1] if not p.startswith("--")]
    for source in sources:
        if not included(
            source.rstrip("/") + ("/__init__.py" if source.rstrip("/") == "app" else "")
        ):
            findings.append(f".dockerignore: excludes {source!r}, which the Dockerfile copies")
    for secret_like in (
        ".env",
        "deploy/.env",
        ".git/config",
        "tests/unit/test_values.py",
        ".venv/bin/python",
        "deploy/terraform/terraform.tfstate",
    ):
        if included(secret_like):
            findings.append(f".dockerignore: {secret_like!r} would be sent to the build context")
    return findings


CHECKS: dict[str, Callable[[], Findings]] = {
    "compose": check_compose,
    "env-example": check_env_example,
    "terraform": check_terraform,
    "gunicorn": check_gunicorn,
    "workflow-shell": check_workflow_shell,
    "hygiene": check_hygiene,
    "dockerignore": check_dockerignore,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: checks.py {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    findings = CHECKS[argv[0]]()
    for finding in findings:
        print(finding)
    print(f"{argv[0]}: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
