"""Airflow as production runs it: scheduler, API server and DAG processor with the LocalExecutor,
metadata in a real PostgreSQL (Debian's ``postgresql``), every one a background process on loopback.

``up(state)`` installs PostgreSQL when it is missing (apt-get, as ``make postgres`` does), creates a
database cluster in ``state/cluster/postgres/data`` with ``initdb`` (run as the ``postgres`` user:
PostgreSQL refuses to run as root), starts it on 127.0.0.1:25432, creates the ``airflow`` role and
database, runs ``airflow db migrate`` and starts the three Airflow processes with pid files and logs
under ``state/cluster/airflow`` (AIRFLOW_HOME), the environment of devtools/airflow_env.py.
``status(state)`` gives (name, healthy, detail) per part: the process alive, PostgreSQL accepting
connections, the API server's health endpoint and, from it, the scheduler's and the DAG processor's
heartbeats. ``down(state)`` stops them all. Ports: ``DAYCLEAR_POSTGRES_PORT`` (25432) and
``DAYCLEAR_AIRFLOW_PORT`` (28080). Secrets (database passwords, the JWT secret the scheduler and the
API server share) are generated once into files of mode 600 beside the data. As root, the folders
above the data get the x bit for others so that the postgres user reaches it: keep the state out of
folders that something else sets back to 0700 (pytest's /tmp/pytest-of-<user> is one).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2

from dayclear.config import AIRFLOW_PORT, POSTGRES_PORT
from devtools.airflow_env import airflow_env
from devtools.processes import spawn

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: The OS user PostgreSQL runs as when dayclear runs as root (Debian's package creates it).
SERVER_USER = "postgres"
#: The Airflow processes, in the order they start (``airflow <name>``).
PROCESSES = ("api-server", "scheduler", "dag-processor")
#: A heartbeat older than this makes the scheduler or DAG processor unhealthy (Airflow's own
#: scheduler_health_check_threshold is 30 s).
HEARTBEAT_MAX_AGE_S = 60.0
START_TIMEOUT_S = 600.0  # a crowded 2-core machine needs minutes
STOP_TIMEOUT_S = 60.0


def postgres_port() -> int:
    return int(POSTGRES_PORT.get() or "25432")


def api_port() -> int:
    return int(AIRFLOW_PORT.get() or "28080")


def api_url() -> str:
    return f"http://{HOST}:{api_port()}"


def postgres_dir(state: Path) -> Path:
    return state / "cluster" / "postgres"


def airflow_home(state: Path) -> Path:
    return state / "cluster" / "airflow"


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise FileNotFoundError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)")
    return found[-1].parent


def install_postgres() -> Path:
    """Debian's ``postgresql`` unless a server is installed already (what ``make postgres`` does)."""
    try:
        return postgres_bin()
    except FileNotFoundError:
        pass
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log.info("installing Debian's postgresql package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-qq", "postgresql"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    return postgres_bin()


def _as_server_user() -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL program as :data:`SERVER_USER` when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": SERVER_USER, "group": SERVER_USER, "extra_groups": []}


def _hand_to_server_user(path: Path) -> None:
    """As root: ``path`` (a folder of ours) belongs to the server user, and every folder above it
    lets that user through (the x bit for others, added where missing: a pytest or /root folder is
    0700)."""
    if os.geteuid() != 0:
        return

    server = pwd.getpwnam(SERVER_USER)
    for folder in [path, *sorted(path.rglob("*"))]:
        os.chown(folder, server.pw_uid, server.pw_gid)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("letting %s through %s (o+x) to reach its data", SERVER_USER, parent)
            parent.chmod(mode | stat.S_IXOTH)


def _secret_file(path: Path, owner_is_server: bool = False) -> str:
    """A random secret kept in ``path`` (mode 600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    if owner_is_server and os.geteuid() == 0:
        server = pwd.getpwnam(SERVER_USER)
        os.chown(path, server.pw_uid, server.pw_gid)
    return path.read_text().strip()


def _pg_ctl(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    data = postgres_dir(state) / "data"
    return subprocess.run(
        [str(postgres_bin() / "pg_ctl"), "-D", str(data), *args],
        capture_output=True,
        text=True,
        check=check,
        cwd="/",
        **_as_server_user(),
    )


def _postgres_running(state: Path) -> bool:
    if not (postgres_dir(state) / "data" / "PG_VERSION").exists():
        return False
    try:
        return _pg_ctl(state, "status", check=False).returncode == 0
    except FileNotFoundError:
        return False


def _initdb(state: Path) -> None:
    folder = postgres_dir(state)
    data = folder / "data"
    if (data / "PG_VERSION").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    password_file = folder / "superuser.password"
    _secret_file(password_file)
    _hand_to_server_user(folder)
    log.info("initdb %s", data)
    subprocess.run(
        [
            str(postgres_bin() / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
        **_as_server_user(),
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# dayclear: loopback TCP only, no Unix socket (the port is the cluster's)\n"
            f"listen_addresses = '{HOST}'\nport = {postgres_port()}\n"
            "unix_socket_directories = ''\nmax_connections = 200\n"
        )


def _start_postgres(state: Path) -> None:
    if _postgres_running(state):
        return
    logfile = postgres_dir(state) / "postgres.log"
    logfile.touch()
    _hand_to_server_user(postgres_dir(state))
    log.info("starting PostgreSQL on %s:%d", HOST, postgres_port())
    done = _pg_ctl(state, "-l", str(logfile), "-w", "-t", "120", "start", check=False)
    if done.returncode != 0:
        tail = "\n".join(logfile.read_text().splitlines()[-20:])
        raise RuntimeError(f"PostgreSQL did not start: {done.stdout}{done.stderr}\n{tail}")


def _connect(state: Path, database: str = "postgres") -> Any:

    password = (postgres_dir(state) / "superuser.password").read_text().strip()
    return psycopg2.connect(
        host=HOST,
        port=postgres_port(),
        user="postgres",
        password=password,
        dbname=database,
        connect_timeout=5,
    )


def _create_airflow_database(state: Path) -> str:
    """The ``airflow`` role and database (once); returns the SQLAlchemy URL Airflow uses."""
    password = _secret_file(airflow_home(state) / "db.password")
    connection = _connect(state)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'airflow'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE ROLE airflow LOGIN PASSWORD %s", (password,))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8'")
    finally:
        connection.close()
    return f"postgresql+psycopg2://airflow:{password}@{HOST}:{postgres_port()}/airflow"


# --- Airflow ------------------------------------------------------------------------------------


def cluster_airflow_env(state: Path) -> dict[str, str]:
    """dayclear's Airflow environment (devtools/airflow_env.py) for the production topology."""
    home = airflow_home(state)
    password = _secret_file(home / "db.password")
    database = f"postgresql+psycopg2://airflow:{password}@{HOST}:{postgres_port()}/airflow"
    env = airflow_env(home=home, database=database, state=state)
    defaults = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor's workers: a shared 2-core machine
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url()}/execution/",
        "AIRFLOW__API__BASE_URL": api_url(),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(api_port()),
        "AIRFLOW__API__WORKERS": "1",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    # every component signs and checks the task tokens with the same secret
    env["AIRFLOW__API_AUTH__JWT_SECRET"] = _secret_file(home / "jwt.secret")
    env["AIRFLOW__API__SECRET_KEY"] = _secret_file(home / "api.secret")
    return env


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _pid_file(state: Path, name: str) -> Path:
    return airflow_home(state) / f"{name}.pid"


def _log_file(state: Path, name: str) -> Path:
    return airflow_home(state) / f"{name}.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid(state: Path, name: str) -> int | None:
    path = _pid_file(state, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    return pid if _alive(pid) else None


def _tail(path: Path, lines: int = 25) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


def _migrate(state: Path, env: dict[str, str]) -> None:
    logfile = _log_file(state, "db-migrate")
    log.info("airflow db migrate (log %s)", logfile)
    with logfile.open("w") as handle:
        done = subprocess.run(
            [_airflow(), "db", "migrate"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed (exit {done.returncode}):\n{_tail(logfile)}")


def _start_process(state: Path, name: str, env: dict[str, str]) -> None:
    if (pid := _pid(state, name)) is not None:
        log.info("airflow %s runs already (pid %d)", name, pid)
        return
    args = [_airflow(), name]
    if name == "api-server":
        args += ["--host", HOST, "--port", str(api_port()), "--workers", "1"]
    pid = spawn(args, _log_file(state, name), _pid_file(state, name), env, airflow_home(state))
    log.info("started airflow %s (pid %d, log %s)", name, pid, _log_file(state, name))


def health() -> dict[str, Any] | None:
    """The API server's health answer (metadatabase, scheduler, dag_processor), None if silent."""
    try:
        with urllib.request.urlopen(f"{api_url()}/api/v2/monitor/health", timeout=5) as answer:
            return dict(json.load(answer))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _wait(what: str, ready: Callable[[], bool], state: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for name in PROCESSES:
            if _pid_file(state, name).exists() and _pid(state, name) is None:
                raise RuntimeError(
                    f"airflow {name} exited while waiting for {what}; log "
                    f"{_log_file(state, name)}:\n{_tail(_log_file(state, name))}"
                )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:g} s: {health()}")
        time.sleep(1)


def _component_healthy(answer: dict[str, Any] | None, component: str) -> bool:
    return bool(answer and (answer.get(component) or {}).get("status") == "healthy")


def _all_healthy() -> bool:
    answer = health()
    return all(
        _component_healthy(answer, part) for part in ("metadatabase", "scheduler", "dag_processor")
    )


def up(state: Path) -> None:
    """Start PostgreSQL and Airflow's scheduler, API server and DAG processor (each at most once);
    returns when the API server reports the metadata DB, the scheduler and the DAG processor
    healthy."""
    state = state.resolve()
    install_postgres()
    _initdb(state)
    _start_postgres(state)
    airflow_home(state).mkdir(parents=True, exist_ok=True)
    _create_airflow_database(state)
    env = cluster_airflow_env(state)
    if not all(_pid(state, name) for name in PROCESSES):
        _migrate(state, env)
    for name in PROCESSES:
        _start_process(state, name, env)
    _wait("the Airflow processes healthy", _all_healthy, state, START_TIMEOUT_S)
    log.info("Airflow is up: %s (metadata on PostgreSQL %s:%d)", api_url(), HOST, postgres_port())


def status(state: Path) -> list[tuple[str, bool, str]]:
    """(name, healthy, detail) of PostgreSQL and each Airflow process."""
    state = state.resolve()
    rows: list[tuple[str, bool, str]] = []
    pg_up = _postgres_running(state)
    accepting = False
    if pg_up:
        try:
            with socket.create_connection((HOST, postgres_port()), timeout=3):
                accepting = True
        except OSError:
            pass
    rows.append(
        (
            "postgres",
            pg_up and accepting,
            f"{HOST}:{postgres_port()} data {postgres_dir(state) / 'data'}"
            if pg_up
            else "not running",
        )
    )
    answer = health()
    for name in PROCESSES:
        pid = _pid(state, name)
        if pid is None:
            rows.append((f"airflow-{name}", False, "not running"))
            continue
        if name == "api-server":
            healthy = _component_healthy(answer, "metadatabase")
            detail = f"pid {pid}, {api_url()} health: " + (
                json.dumps(answer, sort_keys=True) if answer else "no answer"
            )
        else:
            part = (answer or {}).get(name.replace("-", "_")) or {}
            key = (
                "latest_scheduler_heartbeat"
                if name == "scheduler"
                else "latest_dag_processor_heartbeat"
            )
            healthy = part.get("status") == "healthy"
            detail = f"pid {pid}, heartbeat {part.get(key) or 'unknown'}"
        rows.append((f"airflow-{name}", healthy, detail))
    return rows


def _stop_pid(pid: int, name: str) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if _alive(pid):
        log.warning("airflow %s (pid %d) did not stop on SIGTERM: SIGKILL", name, pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # a child of ours (up() in this process): reaped
        os.waitpid(pid, os.WNOHANG)


def down(state: Path) -> None:
    """Stop the Airflow processes (their process groups: task runners too), then PostgreSQL."""
    state = state.resolve()
    for name in reversed(PROCESSES):
        pid = _pid(state, name)
        if pid is not None:
            log.info("stopping airflow %s (pid %d)", name, pid)
            _stop_pid(pid, name)
        _pid_file(state, name).unlink(missing_ok=True)
    if _postgres_running(state):
        log.info("stopping PostgreSQL")
        _pg_ctl(state, "-m", "fast", "-w", "-t", "60", "stop")


def remove(state: Path) -> None:
    """down(), then delete the database cluster and Airflow's home (a fresh ``up`` starts over)."""
    down(state)
    shutil.rmtree(state.resolve() / "cluster" / "postgres", ignore_errors=True)
    shutil.rmtree(airflow_home(state.resolve()), ignore_errors=True)


def metadata_db(state: Path) -> Any:
    """A psycopg2 connection to Airflow's metadata database (autocommit), as the ``airflow`` role."""

    connection = psycopg2.connect(
        host=HOST,
        port=postgres_port(),
        user="airflow",
        password=(airflow_home(state.resolve()) / "db.password").read_text().strip(),
        dbname="airflow",
        connect_timeout=5,
    )
    connection.autocommit = True
    return connection


def api_call(state: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A call to the API server's REST API as the simple auth manager's ``admin`` (its generated
    password in AIRFLOW_HOME); returns the decoded JSON answer."""
    passwords = airflow_home(state.resolve()) / "simple_auth_manager_passwords.json.generated"
    credentials = {"username": "admin", "password": json.loads(passwords.read_text())["admin"]}
    token = _json_request("POST", f"{api_url()}/auth/token", credentials)["access_token"]
    return _json_request(method, f"{api_url()}{path}", body, token)


def _json_request(
    method: str, url: str, body: dict[str, Any] | None, token: str | None = None
) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def unpause(state: Path, dag_ids: list[str]) -> None:
    """Unpause DAGs through the REST API (new DAGs start paused: dags_are_paused_at_creation)."""
    for dag_id in dag_ids:
        api_call(state, "PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        log.info("unpaused %s", dag_id)
