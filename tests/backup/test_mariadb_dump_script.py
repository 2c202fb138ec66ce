"""The mariadb-dump script run with stand-in `mariadb` and `mariadb-dump` clients: what it
asks the server, what it streams, and what it never copies (MariaDB's own `mysql` tables).
The real server is in tests/engine/test_backup_two_stacks.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stackctl.backup.dumps import dump_argv
from stackctl.backup.spec import BackupSpec

# answers by what the query asks; each call is logged with the password it saw
CLIENT = """#!/bin/sh
echo "mariadb MYSQL_PWD=$MYSQL_PWD $*" >> "$LOG"
case "$*" in
  *mysql.user*) printf "%s\\n" "'etherpad'@'%'" "'reader'@'10.0.0.%'" ;;
  *"SHOW CREATE USER 'etherpad'"*) echo "CREATE USER \\`etherpad\\`@\\`%\\` IDENTIFIED BY PASSWORD '*AB'" ;;
  *"SHOW CREATE USER 'reader'"*) echo "CREATE USER \\`reader\\`@\\`10.0.0.%\\`" ;;
  *"SHOW GRANTS FOR 'etherpad'"*) echo "GRANT SELECT ON \\`etherpad\\`.* TO \\`etherpad\\`@\\`%\\`" ;;
  *"SHOW GRANTS FOR 'reader'"*) echo "GRANT USAGE ON *.* TO \\`reader\\`@\\`10.0.0.%\\`" ;;
  *SCHEMATA*) printf "%s\\n" $DATABASES ;;
esac
"""
DUMP = """#!/bin/sh
echo "mariadb-dump MYSQL_PWD=$MYSQL_PWD $*" >> "$LOG"
echo "-- the databases' dump"
"""


def run_script(tmp_path: Path, databases: str) -> tuple[str, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("mariadb", CLIENT), ("mariadb-dump", DUMP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "LOG": str(log),
        "DATABASES": databases,
        "MARIADB_ROOT_PASSWORD": "root-secret",
    }
    spec = BackupSpec(method="mariadb-dump", password_env="MARIADB_ROOT_PASSWORD")
    done = subprocess.run(dump_argv(spec), capture_output=True, text=True, env=env, check=True)
    return done.stdout, log.read_text().splitlines()


def test_the_apps_accounts_then_their_databases_never_the_mysql_tables(tmp_path):
    out, calls = run_script(tmp_path, "etherpad wiki")
    assert out.splitlines() == [
        "CREATE USER IF NOT EXISTS `etherpad`@`%` IDENTIFIED BY PASSWORD '*AB';",
        "GRANT SELECT ON `etherpad`.* TO `etherpad`@`%`;",
        "CREATE USER IF NOT EXISTS `reader`@`10.0.0.%`;",
        "GRANT USAGE ON *.* TO `reader`@`10.0.0.%`;",
        "-- the databases' dump",
    ]
    dump = [c for c in calls if c.startswith("mariadb-dump ")]
    assert dump == [
        "mariadb-dump MYSQL_PWD=root-secret -uroot --single-transaction --routines --events "
        "--triggers --databases etherpad wiki"
    ]
    # every client has the password from the container's environment, none on its command line
    for call in calls:
        _, seen, arguments = call.split(" ", 2)
        assert seen == "MYSQL_PWD=root-secret" and "root-secret" not in arguments
    listing = next(c for c in calls if "mysql.user" in c)
    assert "'root'" in listing and "'healthcheck'" in listing  # left out by the query
    schemata = next(c for c in calls if "SCHEMATA" in c)
    assert "NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')" in schemata


def test_a_server_with_no_database_of_its_apps_gives_the_accounts_only(tmp_path):
    out, calls = run_script(tmp_path, "")
    assert out.splitlines()[-1] == "GRANT USAGE ON *.* TO `reader`@`10.0.0.%`;"
    assert not [c for c in calls if c.startswith("mariadb-dump ")]
