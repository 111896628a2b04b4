"""docker-compose.yml: the services, their start order, health checks, volumes, and settings that load.

No Docker engine runs here, and this docker client has no `compose` plugin, so the file is checked as data;
`docker compose config` runs too when a client that has it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
APP_SERVICES = ("migrate", "bot", "worker")
_VAR = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    if not COMPOSE.is_file():
        pytest.skip("docker-compose.yml is not part of an installed package")
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR:-default}` with the given environment."""
    return _VAR.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), value)


def start_order(services: dict) -> list[str]:
    order: list[str] = []
    pending = dict(services)
    while pending:
        ready = sorted(name for name, svc in pending.items() if set(svc.get("depends_on", {})) <= set(order))
        assert ready, f"dependency cycle among {sorted(pending)}"
        order.extend(ready)
        for name in ready:
            del pending[name]
    return order


def test_services_are_postgres_migrate_bot_and_worker(compose):
    assert set(compose["services"]) == {"postgres", "migrate", "bot", "worker"}
    assert compose["services"]["bot"]["command"] == ["mockinterview", "run"]
    assert compose["services"]["worker"]["command"] == ["mockinterview", "worker"]
    assert compose["services"]["migrate"]["command"] == ["mockinterview", "db", "upgrade"]


def test_start_order_is_postgres_then_migrations_then_bot_and_workers(compose):
    services = compose["services"]
    order = start_order(services)
    assert order[:2] == ["postgres", "migrate"] and set(order[2:]) == {"bot", "worker"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("bot", "worker"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_postgres_has_a_readiness_healthcheck_and_a_named_volume(compose):
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]
    assert {"pgdata", "botdata"} <= set(compose["volumes"])


def test_app_services_build_the_image_and_probe_healthz(compose):
    for name in ("bot", "worker"):
        service = compose["services"][name]
        assert service["build"]["context"] == "."
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        env = service["environment"]
        assert env["MOCKINTERVIEW_METRICS_PORT"] == "9100"
        assert env["MOCKINTERVIEW_AUTO_MIGRATE"] == "false"  # only the migrate service migrates


def test_grace_period_outlasts_the_shutdown_timeout(compose):
    for name in ("bot", "worker"):
        service = compose["services"][name]
        grace = int(service["stop_grace_period"].rstrip("s"))
        assert grace > float(service["environment"]["MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S"])


def test_no_secret_is_written_into_the_file(compose):
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        for key in ("DISCORD_TOKEN", "OPENAI_API_KEY"):
            if key in env:
                assert _VAR.fullmatch(env[key]), f"{name}.{key} must come from the environment"


def test_the_bot_leaves_grading_to_the_worker_service(compose):
    """The file always runs a worker, and PostgreSQL's NOTIFY wakes it: the bot grading too would only take its
    event loop away from Discord."""
    bot = {k: interpolate(str(v), {}) for k, v in compose["services"]["bot"]["environment"].items()}
    assert bot["MOCKINTERVIEW_BOT_GRADING"] == "false"
    assert compose["services"]["worker"]["command"] == ["mockinterview", "worker"]


def test_worker_publishes_no_host_port_so_it_can_scale(compose):
    assert "ports" not in compose["services"]["worker"]
    assert all(port.startswith("127.0.0.1:") for port in compose["services"]["bot"]["ports"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_environment_is_valid_settings(compose, service, monkeypatch):
    """With only the documented .env entries unset, every service's environment loads (no blank-int errors)."""
    env = {k: interpolate(str(v), {}) for k, v in compose["services"][service]["environment"].items()}
    unknown = {k for k in env if k.startswith("MOCKINTERVIEW_") and k.removeprefix("MOCKINTERVIEW_").lower()
               not in Settings.model_fields}  # fmt: skip
    assert not unknown, f"not settings: {unknown}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("postgresql+asyncpg://mockinterview:")
    assert settings.metrics_port == 9100 and settings.auto_migrate is False
    assert settings.shard_ids() is None


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0,
    reason="no docker client with the compose plugin here",
)
def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "DISCORD_TOKEN": "x"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


ENV_EXAMPLE = COMPOSE.parent / ".env.example"
_SETTING_LINE = re.compile(r"^#?\s*((?:MOCKINTERVIEW_|DISCORD_|OPENAI_|POSTGRES_)[A-Z_]+)=", re.M)


def container_sees(service: dict, dotenv: set[str]) -> set[str]:
    """The variables a container gets: its `environment:` keys, plus every line of `.env` when it is an env_file
    (compose reads `.env` by itself only to interpolate `${...}` in the file)."""
    env_files = service.get("env_file") or []
    if isinstance(env_files, str | dict):
        env_files = [env_files]
    paths = {f if isinstance(f, str) else f["path"] for f in env_files}
    return set(service.get("environment") or {}) | (dotenv if ".env" in paths else set())


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_env_example_setting_reaches_the_app_containers(compose, service):
    """docs/operations.md: every setting can be a line in `.env`; `cp .env.example .env` then `docker compose up`."""
    if not ENV_EXAMPLE.is_file():
        pytest.skip(".env.example is not part of an installed package")
    documented = set(_SETTING_LINE.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    svc = compose["services"][service]
    missing = sorted(documented - container_sees(svc, documented))
    assert not missing, f"{service}: set in .env but never reach the container: {missing}"
    env_file = svc["env_file"][0]
    assert env_file == {"path": ".env", "required": False}  # no .env (all from the environment) is fine too


def test_every_variable_the_file_interpolates_is_in_env_example(compose):
    """`${POSTGRES_PASSWORD}` and the rest: the docs say to set them in `.env`, so `.env.example` lists them."""
    if not ENV_EXAMPLE.is_file():
        pytest.skip(".env.example is not part of an installed package")
    used = {m["name"] for m in _VAR.finditer(COMPOSE.read_text(encoding="utf-8"))} - {"GIT_SHA", "TAG"}
    documented = set(_SETTING_LINE.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    assert "POSTGRES_PASSWORD" in used
    assert not used - documented, sorted(used - documented)
