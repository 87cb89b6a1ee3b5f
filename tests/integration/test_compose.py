"""docker-compose.yaml against the Compose specification, with no Docker engine.

The file is interpolated the way Compose does (${VAR}, ${VAR:-default}, $$), then
validated with jsonschema against the Compose specification's own JSON schema (the copy
check-jsonschema vendors as `compose-spec.json`). Then the checks the schema cannot make:
the official Airflow 3 CeleryExecutor layout is all there, depends_on names services that
exist (with healthchecks where it waits for health), every service on the Airflow image
merges the one x-airflow-common anchor, named volumes are declared, bind mounts exist in
the checkout, and only variables the file's header documents are interpolated.
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
LAYOUT = AIRFLOW_SERVICES | {"postgres", "redis", "qbo-sandbox", "ops-db", "warehouse-db"}
DATABASES = {"postgres", "redis", "ops-db", "warehouse-db"}
INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def compose_spec_schema() -> dict:
    """The Compose specification's JSON schema, as check-jsonschema ships it."""
    try:
        import check_jsonschema  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires check-jsonschema (the Compose schema): {exc}")
        pytest.skip(f"check-jsonschema (which ships compose-spec.json) is missing: {exc}")
    files = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return json.loads((files / "compose-spec.json").read_text())


def variables_used(text: str) -> set[str]:
    names = set()
    for m in INTERPOLATION.finditer(text):
        if m["braced"] or m["plain"]:
            names.add(m["braced"] or m["plain"])
    return names


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: unset variables take their default (or empty); $$ is $."""

    def one(m: re.Match) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["plain"]
        value, op, arg = env.get(name), m["op"] or "", m["arg"] or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            if (value is None) or (op == ":?" and not value):
                raise ValueError(f"${{{name}}} is required: {arg}")
            return value
        if op in (":+", "+"):
            return arg if value else ""
        return value or ""

    return INTERPOLATION.sub(one, text)


def documented_variables(text: str) -> set[str]:
    """Names listed in the header's `# Variables` block."""
    block = text.split("# Variables", 1)[1].split("\nx-airflow-common", 1)[0]
    return set(re.findall(r"^#   ([A-Z][A-Z0-9_]+)\s", block, re.M))


@pytest.fixture(scope="module")
def raw() -> str:
    return COMPOSE.read_text()


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return yaml.safe_load(interpolate(raw, {}))


def test_valid_against_the_compose_specification(compose):
    schema = compose_spec_schema()
    assert "services" in schema["properties"]
    assert schema["$schema"].endswith("2020-12/schema")
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_the_schema_catches_what_it_should(compose):
    """The schema is not vacuous: typical mistakes fail it."""
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["healthcheck"]["interval"] = ["10s"]
    broken["services"]["postgres"]["restart_policy"] = "always"  # not a service key
    assert len(list(validator.iter_errors(broken))) >= 2


def test_official_celery_layout_plus_fieldbooks_services(compose):
    services = compose["services"]
    assert LAYOUT <= set(services), f"missing: {sorted(LAYOUT - set(services))}"
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
    assert "@postgres/airflow" in env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:")
    assert "@ops-db/" in env["FIELDBOOKS_OPS_URL"]
    assert "@warehouse-db/" in env["FIELDBOOKS_WAREHOUSE_URL"]
    assert env["FIELDBOOKS_QBO_BASE_URL"].startswith("http://qbo-sandbox:")
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-worker"] == "celery worker"
    assert commands["airflow-triggerer"] == "triggerer"
    init = "\n".join(services["airflow-init"]["command"])
    assert "fieldbooks.airflow_processes pools" in init  # the DAGs' pools exist before a run


def test_fieldbooks_variables_are_ones_fieldbooks_reads(compose):
    source = "\n".join(
        p.read_text() for p in (ROOT / "include" / "fieldbooks").rglob("*.py") if p.is_file()
    )
    for name in compose["x-airflow-common"]["environment"]:
        if name.startswith("FIELDBOOKS_"):
            assert name in source, f"{name} is set but fieldbooks never reads it"


def test_depends_on_names_services_that_exist(compose):
    services = compose["services"]
    for name, service in services.items():
        deps = service.get("depends_on", {})
        deps = (
            {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        )
        for target, how in deps.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            condition = how.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert target == "airflow-init"
    _assert_acyclic(services)


def _assert_acyclic(services: dict) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"depends_on cycle: {' -> '.join(path + [name])}"
        state[name] = "visiting"
        for target in services[name].get("depends_on", {}):
            visit(target, path + [name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_every_service_on_the_airflow_image_merges_the_one_anchor(raw, compose):
    image = compose["x-airflow-common"]["image"]
    root = yaml.compose(raw)
    top = {k.value: v for k, v in root.value}
    anchor = top["x-airflow-common"]
    assert re.findall(r"&airflow-common(?![\w-])", raw) == ["&airflow-common"]  # one anchor
    assert "x-airflow-common: &airflow-common\n" in raw
    services = {k.value: v for k, v in top["services"].value}
    on_image = {n for n, s in compose["services"].items() if s.get("image") == image}
    assert AIRFLOW_SERVICES <= on_image
    for name in on_image:
        merged = [v for k, v in services[name].value if k.value == "<<"]
        assert merged and merged[0] is anchor, f"{name} runs {image} without <<: *airflow-common"
        keys = {k.value for k, _ in services[name].value}
        assert "image" not in keys and "build" not in keys, f"{name} overrides the common image"
    # services that override environment or depends_on still merge the common ones
    for name, service in compose["services"].items():
        if name in on_image and name != "qbo-sandbox":
            env = service["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            if name != "airflow-init":
                assert {"postgres", "redis"} <= set(service["depends_on"]), name


def test_databases_and_broker_have_healthchecks(compose):
    for name in DATABASES:
        check = compose["services"][name].get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable")
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert compose["services"][name].get("healthcheck", {}).get("test"), name


def test_named_volumes_are_declared_and_bind_mounts_exist(compose):
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                if source.startswith("./") and name != "airflow-init":
                    path = ROOT / source[2:]
                    assert path.exists() or source[2:] == "logs", (
                        f"{name} mounts {source}, missing in the checkout"
                    )
                continue
            assert source in declared, f"{name} uses volume {source!r} not declared at top level"
            used.add(source)
    assert declared == used, f"declared but unused: {sorted(declared - used)}"


def test_only_documented_variables_are_interpolated(raw):
    documented = documented_variables(raw)
    assert documented, "the header documents no variables"
    body = raw.split("\nx-airflow-common", 1)[1]
    used = variables_used(body)
    assert used <= documented, f"undocumented: {sorted(used - documented)}"
    assert documented <= used, f"documented but unused: {sorted(documented - used)}"


def test_published_ports_do_not_clash(compose):
    seen: dict[str, str] = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host = str(port).rsplit(":", 1)[0]
            assert host not in seen, f"{name} and {seen[host]} both publish {host}"
            seen[host] = name


def test_dockerfile_builds_on_the_installed_airflow(compose):
    from importlib.metadata import version

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{version('apache-airflow')}-python3.11" in dockerfile
    assert compose["x-airflow-common"]["build"]["context"] == "."


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$HOME", env) == "x d  d $HOME"
    with pytest.raises(ValueError):
        interpolate("${UNSET:?needed}", env)
    assert variables_used("$$HOME ${A} $B ${C:-x}") == {"A", "B", "C"}
