"""Proves the unit tier notices a missing commit, save or add: each such call in app/services
is removed in turn, in a copy of the tree, and the unit tests must then fail.

    python scripts/mutation_check.py        (make test runs it; exits 1 on any survivor)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "app" / "services"
# A statement that makes a change durable, or hands a changed object to a repository.
CALL = re.compile(r"^(?P<indent>\s*)(?:uow\.commit\(\)|uow\.\w+\.(?:save|add)\(.*)$")


def mutation_sites() -> list[tuple[Path, int]]:
    sites = []
    for path in sorted(SERVICES.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if CALL.match(line) and line.rstrip().endswith(")"):
                sites.append((path, number))
    return sites


def unit_tier_fails(tree: Path) -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=tree, capture_output=True, text=True, timeout=300)
    return result.returncode != 0


def main() -> int:
    sites = mutation_sites()
    survivors = []
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        for part in ("app", "tests"):
            shutil.copytree(ROOT / part, tree / part,
                            ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("setup.cfg", "pyproject.toml"):
            shutil.copy(ROOT / name, tree / name)
        for path, number in sites:
            copy = tree / path.relative_to(ROOT)
            original = copy.read_text()
            lines = original.splitlines(keepends=True)
            indent = CALL.match(lines[number - 1].rstrip("\n")).group("indent")  # type: ignore[union-attr]
            lines[number - 1] = f"{indent}pass\n"
            copy.write_text("".join(lines))
            try:
                if not unit_tier_fails(tree):
                    survivors.append(f"{path.relative_to(ROOT)}:{number}: "
                                     f"{original.splitlines()[number - 1].strip()}")
            finally:
                copy.write_text(original)
    print(f"mutation check: {len(sites)} commit/save/add calls removed one at a time, "
          f"{len(survivors)} survived")
    for survivor in survivors:
        print(f"  survived: {survivor}")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
