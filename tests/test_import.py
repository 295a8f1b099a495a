"""`import aind_session` is cheap: no heavy package, no I/O."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "codeocean",
    "s3fs",
    "boto3",
    "botocore",
    "aiobotocore",
    "moto",
    "pydantic",
    "upath",
    "requests",
)


def test_import_and_session_creation_import_no_heavy_package():
    code = (
        "import sys, aind_session\n"
        "aind_session.Session('ecephys_676909_2023-12-13_13-43-40')\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importtime_lists_none_of_the_heavy_packages():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import aind_session"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if "|" in line
    }
    assert "aind_session" in imported
    assert not imported & set(HEAVY)
