"""The Deploy section's first step, the PostgreSQL role and database, run as written (with `psql`
connected as the throwaway server's superuser instead of `sudo -u postgres`), then the service
migrated as that role with the section's DATABASE_URL: the role owns what it needs."""

import re
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import other_process_environment

pytestmark = pytest.mark.postgres
PROJECT = Path(__file__).resolve().parent.parent
README = (PROJECT / "README.md").read_text()


def deploy_blocks() -> list[str]:
    start = README.index("## Deploy (gunicorn + PostgreSQL)")
    end = README.find("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", README[start:end], re.S)


@pytest.fixture
def superuser_url():
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/postgres"
    yield url
    subprocess.run(
        ["psql", url, "-c", "DROP DATABASE IF EXISTS auth", "-c", "DROP ROLE IF EXISTS auth"],
        capture_output=True,
        check=True,
    )


def test_the_deploy_sections_role_and_database_step_lets_the_service_migrate(superuser_url):
    step = next(block for block in deploy_blocks() if "CREATE ROLE" in block)
    assert step.startswith("sudo -u postgres psql ")
    created = subprocess.run(
        ["bash", "-c", "set -eu\n" + step.replace("sudo -u postgres psql ", f"psql {superuser_url} ", 1)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr

    env_block = next(block for block in deploy_blocks() if block.startswith("DJANGO_DEBUG=0"))
    (section_url,) = re.findall(r"(?m)^DATABASE_URL=(.*)$", env_block)
    db = connection.settings_dict
    url = section_url.replace("db.internal:5432", f"{db['HOST']}:{db['PORT']}")
    migrated = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "python"), "manage.py", "migrate", "--noinput"],
        cwd=PROJECT,
        env=other_process_environment(DATABASE_URL=url, DJANGO_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    owner = subprocess.run(
        ["psql", url, "-At", "-c", "SELECT tableowner FROM pg_tables WHERE tablename = 'accounts_user'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert owner == "auth"
