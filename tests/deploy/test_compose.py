"""compose.yaml and the Dockerfile describe the scale-out deployment the README explains."""

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_names_every_service_of_the_deployment():
    services = compose()["services"]
    assert {"redis", "postgres", "listener", "worker", "dashboard"} <= set(services)
    assert services["listener"]["command"] == ["listen"]
    assert services["worker"]["command"][0] == "worker"
    assert services["dashboard"]["command"][0] == "dashboard"


def test_the_worker_service_can_scale():
    worker = compose()["services"]["worker"]
    # `--scale worker=N` refuses services with a fixed container name or host port
    assert "container_name" not in worker and "ports" not in worker


def test_daemon_services_share_redis_postgres_and_run_migrations_first():
    services = compose()["services"]
    for name in ("listener", "worker", "dashboard"):
        env = services[name]["environment"]
        assert env["SERBERO_REDIS_URL"].startswith("redis://redis:")
        assert env["SERBERO_DB_URL"].startswith("postgresql://")
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]


def test_the_dashboard_is_published_on_loopback_with_a_token():
    dashboard = compose()["services"]["dashboard"]
    assert all(p.startswith("127.0.0.1:") for p in dashboard["ports"])
    assert "SERBERO_DASHBOARD_TOKEN" in dashboard["environment"]


def test_the_image_installs_the_project_and_runs_serbero():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in dockerfile
    assert 'ENTRYPOINT ["serbero"]' in dockerfile
    assert "USER serbero" in dockerfile
