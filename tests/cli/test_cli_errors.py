"""User errors of the real ``lmsync`` script: one ``error:`` line, exit code 1, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

LMSYNC = str(Path(sys.executable).with_name("lmsync"))


@pytest.mark.parametrize("env, needle", [
    ({"LMSYNC_DATABASE_URL": "postgresql://127.0.0.1:1/x"}, "cannot connect to PostgreSQL at 127.0.0.1:1"),
    ({"LMSYNC_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/lmsync_nope_db"},
     "createdb -h 127.0.0.1 -p 5432 -U postgres lmsync_nope_db"),
    ({"LMSYNC_SECRET_KEY": "abc"}, "LMSYNC_SECRET_KEY is not a Fernet key"),
    ({"LMSYNC_HEARTBEAT_S": "abc"}, "LMSYNC_HEARTBEAT_S='abc'"),
])
def test_user_error_is_one_line(tmp_path, env, needle):
    full = {**os.environ, "LMSYNC_HOME": str(tmp_path), **env}
    full.pop("LMSYNC_DATABASE_URL", None) if "LMSYNC_DATABASE_URL" not in env else None
    res = subprocess.run([LMSYNC, "sync"], env=full, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.stderr


def test_verbose_shows_traceback(tmp_path):
    env = {**os.environ, "LMSYNC_HOME": str(tmp_path), "LMSYNC_HEARTBEAT_S": "abc"}
    res = subprocess.run([LMSYNC, "-v", "sync"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" in res.stderr
