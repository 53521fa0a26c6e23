"""``make run``: migrate, then run the web server and its companions until interrupted.

Every process started here is stopped on Ctrl-C or SIGTERM; if one dies, the rest stop too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    env.setdefault("WEB_CONCURRENCY", "2")
    (ROOT / "instance").mkdir(exist_ok=True)
    subprocess.run([BIN / "flask", "--app", "app", "migrate"], check=True, cwd=ROOT, env=env)

    commands = {
        "web": [BIN / "gunicorn", "--config", ROOT / "deploy" / "gunicorn.conf.py",
                "app:create_app()"],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
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


if __name__ == "__main__":
    sys.exit(main())
