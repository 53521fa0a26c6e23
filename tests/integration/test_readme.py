"""The README's curl walk-through works verbatim against the running service."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.adapters.sqlalchemy.migrate import upgrade_database
from tests.integration.live_server import live_app, settings_for_tests

DEV_CALLBACK_TOKEN = "dev-callback-token"  # what make run sets
README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    match = re.search(r"<!-- walkthrough:.*?-->\n```sh\n(.*?)```", text, re.DOTALL)
    assert match, "the README has no marked walk-through"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_walkthrough_runs_verbatim(tmp_path):
    script = walkthrough()
    database_url = f"sqlite:///{tmp_path / 'readme.db'}"
    upgrade_database(database_url)
    with live_app(settings_for_tests(database_url, at_callback_token=DEV_CALLBACK_TOKEN)) \
            as client:
        script = script.replace("B=http://127.0.0.1:8000", f"B={client.base_url}", 1)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                                capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert '"error"' not in result.stdout, result.stdout  # no error body anywhere
    assert '"status":"confirmed"' in result.stdout.replace(" ", "")
    assert '"outcome":"confirmed"' in result.stdout.replace(" ", "")
