#!/usr/bin/env python3
"""Ansible dynamic inventory built from Terraform's outputs (deploy/terraform/outputs.tf).

Nobody edits an inventory by hand: Ansible runs this script (ansible.cfg points at it),
which reads ``terraform output -json`` and prints the ``app`` group with one host.

Where the outputs come from, first match wins:

- ``TF_OUTPUTS_FILE``: a file holding ``terraform output -json`` (what CI does, so the
  Ansible step needs no Terraform state access);
- otherwise ``terraform -chdir=<TF_DIR> output -json``, ``TF_DIR`` defaulting to
  ``deploy/terraform`` next to this repository's ``deploy/ansible``.

Usage (Ansible's script-inventory protocol): ``terraform_inventory.py --list`` or
``--host NAME``. ``--list`` is also the default, to read the result by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

GROUP = "app"
DEFAULT_TF_DIR = Path(__file__).resolve().parents[2] / "terraform"


class InventoryError(Exception):
    """The Terraform outputs are missing or incomplete; the message says what to do."""


def read_outputs(environ: dict[str, str]) -> dict[str, Any]:
    """Return ``terraform output -json`` as a dict, from a file or from Terraform."""
    outputs_file = environ.get("TF_OUTPUTS_FILE", "").strip()
    if outputs_file:
        try:
            text = Path(outputs_file).read_text(encoding="utf-8")
        except OSError as error:
            raise InventoryError(f"cannot read TF_OUTPUTS_FILE={outputs_file}: {error}") from error
    else:
        terraform = shutil.which("terraform")
        if terraform is None:
            raise InventoryError("terraform is not on PATH; set TF_OUTPUTS_FILE instead.")
        tf_dir = environ.get("TF_DIR", "").strip() or str(DEFAULT_TF_DIR)
        result = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
            [terraform, f"-chdir={tf_dir}", "output", "-json"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InventoryError(f"terraform output failed: {result.stderr.strip()}")
        text = result.stdout
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as error:
        raise InventoryError(f"Terraform outputs are not JSON: {error}") from error
    if not isinstance(outputs, dict):
        raise InventoryError("Terraform outputs must be a JSON object.")
    return outputs


def build_inventory(outputs: dict[str, Any]) -> dict[str, Any]:
    """Map Terraform outputs (``{"name": {"value": ...}}``) to Ansible's inventory JSON."""

    def value(name: str, *, required: bool = True) -> Any:
        entry = outputs.get(name)
        if not isinstance(entry, dict) or "value" not in entry:
            if required:
                raise InventoryError(
                    f"Terraform output {name!r} is missing: run `terraform apply` first."
                )
            return None
        return entry["value"]

    public_ip = value("public_ip")
    if not public_ip:
        raise InventoryError("Terraform output 'public_ip' is empty.")
    host = str(value("instance_id"))
    hostvars = {
        "ansible_host": public_ip,
        "ansible_user": value("ssh_user"),
        "app_public_url": value("url"),
        "app_domain_name": value("domain_name", required=False) or "",
        "app_use_rds": bool(value("use_rds", required=False)),
        "app_database_endpoint": value("database_endpoint", required=False) or "",
        "app_database_name": value("database_name", required=False) or "orders",
        "app_database_username": value("database_username", required=False) or "orders",
        "data_volume_ebs_id": value("data_volume_id", required=False) or "",
    }
    image_tag = value("image_tag", required=False)
    if image_tag:  # an explicit -e app_image_tag=... still wins (extra vars)
        hostvars["app_image_tag"] = image_tag
    return {
        GROUP: {"hosts": [host]},
        "_meta": {"hostvars": {host: hostvars}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="print the whole inventory")
    mode.add_argument("--host", help="print one host's variables (all are in --list)")
    args = parser.parse_args(argv)
    if args.host:
        # Every variable is already in _meta.hostvars of --list.
        print("{}")
        return 0
    try:
        inventory = build_inventory(read_outputs(dict(os.environ)))
    except InventoryError as error:
        print(f"terraform_inventory: {error}", file=sys.stderr)
        return 1
    json.dump(inventory, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
