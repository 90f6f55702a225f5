"""compose.yaml and the Dockerfile, checked without a Docker engine.

This machine has no Docker daemon, so what `docker compose up --build` would do is
reproduced as far as it can be on the host:

- compose.yaml is parsed, and each credits service's environment is read the way the
  service reads it (`Settings`): every variable must be a setting, and the settings must
  be accepted (production refusals included) without connecting to anything;
- every `command` is parsed by the `credits` argument parser; depends_on, healthchecks,
  host names and ports must agree with each other and with the images they name;
- the Dockerfile's COPY lines are replayed into a build context, and the project is
  built from that context alone (`build_py`, the step `pip install .` runs; it must
  install no module, decision 24): the copied tree on PYTHONPATH, with the installed
  dependencies and without the checkout, is the image's code, and every module of it
  must import and build the production app from compose's environment;
- with PostgreSQL and Redis at hand (DATABASE_URL / REDIS_URL, as CI sets them), the
  compose commands themselves run from that tree as host processes, with compose's
  environment pointed at 127.0.0.1: migrate, then the API, worker and scheduler; one
  mutation must email through the worker to an SMTP server on loopback, and SIGTERM must
  stop every process cleanly, as `docker compose stop` would.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import glob
import json
import os
import pkgutil
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis
import yaml  # type: ignore[import-untyped]
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from pydantic import AliasChoices, AliasPath, SecretStr

import cli
from settings import DEV_JWT_SECRET, DEV_SECRET_KEY, Settings, tortoise_config
from tests.databases import postgres_url, scratch_database
from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"
ROLES = ("api", "worker", "scheduler")  # the long-running credits services
RESTART_POLICIES = {"no", "always", "unless-stopped", "on-failure"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# What the images compose uses listen on, where the service expects to reach them.
IMAGE_PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "axllent/mailpit": 1025,
    "schickling/mailcatcher": 1025,
    "mailhog/mailhog": 1025,
}
MAIL_IMAGES = {"axllent/mailpit", "schickling/mailcatcher", "mailhog/mailhog"}
# The interpreter as the image runs it: no .pth files of site-packages (the editable
# checkout), no working directory on sys.path (the console script has its own).
ISOLATED = ("-S", "-P")
# How long a process may take to stop after SIGTERM: well inside the 10 s `docker compose
# stop` waits before it kills (stop_grace_period).
STOP_SECONDS = 5.0
# What every container of the deployment must agree on (the worker decrypts the codes
# the API encrypted, both use one database and one broker).
SHARED_SETTINGS = ("environment", "database_url", "redis_url", "secret_key")


@pytest.fixture(autouse=True)
def db() -> Iterator[None]:
    """Overrides conftest's autouse `db`: nothing here uses the shared test database."""
    yield None


# compose.yaml ------------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "compose.yaml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict) and found, "compose.yaml has no services"
    return found


def credits_services() -> list[str]:
    """The services that run this project's image (api, worker, scheduler, migrate)."""
    return [name for name, spec in services().items() if "build" in spec]


def environment(service: str) -> dict[str, Any]:
    raw = services()[service].get("environment") or {}
    if isinstance(raw, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    assert isinstance(raw, dict)
    return raw


def str_environment(service: str) -> dict[str, str]:
    return {name: str(value) for name, value in environment(service).items()}


def command(service: str) -> list[str]:
    raw = services()[service].get("command")
    if raw is None:
        return dockerfile_exec("CMD")
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def depends_on(service: str) -> dict[str, str]:
    raw = services()[service].get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def waits_for(service: str) -> dict[str, set[str]]:
    """Every service `service` waits for, directly or not, with the conditions waited on."""
    found: dict[str, set[str]] = {}
    todo = [service]
    while todo:
        for name, condition in depends_on(todo.pop()).items():
            if name not in found:
                todo.append(name)
            found.setdefault(name, set()).add(condition)
    return found


def image_name(service: str) -> str:
    image = str(services()[service].get("image", ""))
    image = image.split("@", 1)[0]
    head, _, tag = image.rpartition(":")
    return head if head and "/" not in tag else image


def published_ports(service: str) -> list[tuple[str | None, int]]:
    """(host port, container port) for each of the service's `ports`."""
    found: list[tuple[str | None, int]] = []
    for entry in services()[service].get("ports") or []:
        if isinstance(entry, dict):
            found.append((entry.get("published"), int(entry["target"])))
            continue
        parts = str(entry).split("/", 1)[0].split(":")
        found.append((parts[-2] if len(parts) > 1 else None, int(parts[-1])))
    return found


def option(argv: list[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def with_option(argv: list[str], name: str, value: str) -> list[str]:
    out = list(argv)
    for index, arg in enumerate(out):
        if arg == name:
            out[index + 1] = value
            return out
        if arg.startswith(name + "="):
            out[index] = f"{name}={value}"
            return out
    raise AssertionError(f"{name} not in {argv}")


def healthcheck_argv(service: str) -> list[str]:
    test = services()[service]["healthcheck"]["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), f"{service}: healthcheck test {test!r}"
    return rest if kind == "CMD" else ["sh", "-c", " ".join(rest)]


# Settings ----------------------------------------------------------------------------


def setting_names() -> dict[str, str]:
    """Every environment variable `Settings` reads (upper-cased) -> its field."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias
        if alias is None:
            choices = [prefix + field_name]
        elif isinstance(alias, str):
            choices = [alias]
        elif isinstance(alias, AliasChoices):
            choices = [c if isinstance(c, str) else str(c.path[0]) for c in alias.choices]
        elif isinstance(alias, AliasPath):
            choices = [str(alias.path[0])]
        else:
            raise AssertionError(f"unexpected alias {alias!r} on {field_name}")
        for choice in choices:
            names[choice.upper()] = field_name
    return names


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`Settings` as the service builds it from exactly `env` (this host's settings removed)."""
    for name in list(os.environ):
        if name.upper() in setting_names():
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


# Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@functools.cache
def dockerfile() -> tuple[Instruction, ...]:
    found: list[Instruction] = []
    current = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        found.append(Instruction(keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return tuple(found)


def dockerfile_all(keyword: str) -> list[str]:
    return [i.args for i in dockerfile() if i.keyword == keyword]


def dockerfile_exec(keyword: str) -> list[str]:
    """The last ENTRYPOINT or CMD, which must be in exec (JSON) form."""
    found = dockerfile_all(keyword)
    assert found, f"the Dockerfile has no {keyword}"
    value = json.loads(found[-1])  # shell form would not parse (and would eat SIGTERM)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in dockerfile_all("ENV"):
        parts = shlex.split(args)
        if parts and "=" not in parts[0]:  # legacy `ENV NAME value`
            env[parts[0]] = " ".join(parts[1:])
            continue
        for part in parts:
            name, _, value = part.partition("=")
            env[name] = value
    return env


def workdir() -> str:
    found = dockerfile_all("WORKDIR")
    assert found, "the Dockerfile sets no WORKDIR"
    return found[-1]


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    found = []
    for args in dockerfile_all("COPY"):
        parts = json.loads(args) if args.startswith("[") else shlex.split(args)
        assert not any(p.startswith("--from") for p in parts), "multi-stage: extend this test"
        parts = [p for p in parts if not p.startswith("--")]
        found.append((parts[:-1], parts[-1]))
    return found


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def console_script(name: str) -> str:
    scripts = pyproject()["project"].get("scripts", {})
    assert name in scripts, f"`{name}` is not a [project.scripts] entry point"
    return str(scripts[name])


def code_files() -> set[str]:
    """The checkout's code as the image needs it: every module git tracks outside tests
    and benchmarks, and the files they read (templates, the schema snapshot)."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    skipped = ("tests/", "bench/", "docs/", "scripts/", ".ci/")
    return {
        name
        for name in listed
        if not name.startswith(skipped)
        and (name.endswith(".py") or name.startswith("notifications/templates/"))
    } | {"schema/schema.graphql"}


@dataclass(frozen=True)
class Image:
    """The image's code on this host: WORKDIR's contents (the code runs from there, on
    PYTHONPATH), and what `pip install .` made of the project (no module: decision 24)."""

    workdir: Path  # the COPYed files, as in /srv/credits
    site: Path  # the project as installed into site-packages

    def env(self, service_env: dict[str, str]) -> dict[str, str]:
        """A container's environment: the Dockerfile's ENV and the service's, nothing of
        this host's settings; imports come from the image tree and the installed
        dependencies only (see ISOLATED)."""
        names = setting_names()
        env = {
            k: v
            for k, v in os.environ.items()
            if k.upper() not in names and not k.startswith("PYTHON")
        }
        env.update(dockerfile_env())
        assert env.get("PYTHONPATH") == workdir(), "the image runs its code from WORKDIR"
        env["PYTHONPATH"] = os.pathsep.join([str(self.workdir), *dependency_paths()])
        env.update(service_env)
        return env

    def argv(self, args: list[str]) -> list[str]:
        """ENTRYPOINT + args, ENTRYPOINT being the `credits` console script."""
        entrypoint = dockerfile_exec("ENTRYPOINT")
        assert entrypoint == ["credits"], entrypoint
        module, _, function = console_script("credits").partition(":")
        launcher = (
            f"import sys; from {module} import {function}; "
            f"sys.argv[0] = 'credits'; sys.exit({function}())"
        )
        return [sys.executable, *ISOLATED, "-c", launcher, *args]


def dependency_paths() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """Replays the Dockerfile's COPY lines into a context and builds the project from it."""
    base = tmp_path_factory.mktemp("image")
    work = base / workdir().strip("/").replace("/", "_")
    work.mkdir()
    for sources, destination in copies():
        target = work / destination
        many = len(sources) > 1 or destination.endswith("/")
        for source in sources:
            matches = sorted(glob.glob(source, root_dir=ROOT))
            assert matches, f"COPY {source}: nothing in the build context matches"
            for match in matches:
                path = ROOT / match
                if path.is_dir():  # a directory's contents are copied
                    shutil.copytree(
                        path,
                        target,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"),
                    )
                else:
                    into = target / path.name if (many or len(matches) > 1) else target
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, into)
    site = base / "site-packages"
    # `pip install .` builds a wheel, whose code is what setuptools' build_py collects;
    # built in a scratch copy so that the context keeps only what COPY put there.
    scratch = base / "build"
    shutil.copytree(work, scratch)
    setup = "import setuptools; setuptools.setup()"
    built = subprocess.run(
        [sys.executable, "-c", setup, "-q", "build_py", "-d", str(site)],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return Image(workdir=work, site=site)


# The checks --------------------------------------------------------------------------


def test_compose_names_the_services_and_the_image():
    assert set(ROLES) <= set(services()), f"services: {sorted(services())}"
    unknown = {
        k for k in compose() if not k.startswith("x-") and k not in ("services", "volumes", "name")
    }
    assert not unknown, f"top-level keys compose would not expect: {unknown}"
    for name in credits_services():
        build = services()[name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        file = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (COMPOSE_FILE.parent / context / file).is_file(), f"{name}: no {file}"
        assert "entrypoint" not in services()[name], "the image's ENTRYPOINT is `credits`"
    for name in services():
        for volume in services()[name].get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in (compose().get("volumes") or {}), f"{name}: volume {source}"


@pytest.mark.parametrize("service", credits_services())
def test_every_variable_is_a_setting(service):
    env = environment(service)
    assert env, f"{service} sets no environment"
    known = setting_names()
    unknown = sorted(name for name in env if name.upper() not in known)
    assert not unknown, f"{service}: not settings of the service: {unknown}"
    for name, value in env.items():
        # Strings or numbers: YAML reads an unquoted yes/no/on/off as a boolean, and a
        # null would pass the host's value through.
        assert isinstance(value, str | int | float) and not isinstance(value, bool), (
            f"{service}: {name}={value!r} must be a string"
        )
        assert not re.search(r"\$(?!\$)", str(value).replace("$$", "")), (
            f"{service}: {name} contains `$`, which compose interpolates (write $$)"
        )


@pytest.mark.parametrize("service", credits_services())
def test_environment_is_accepted_in_production(service, monkeypatch, caplog):
    env = str_environment(service)
    settings = settings_from(env, monkeypatch)
    settings.check()  # raises ConfigurationError on production's refusals
    assert not [r for r in caplog.records if r.name == "credits.settings"], caplog.text
    # Every variable reached the field it names, with its value.
    names = setting_names()
    for name, value in env.items():
        parsed = getattr(settings, names[name.upper()])
        if isinstance(parsed, SecretStr):
            parsed = parsed.get_secret_value()
        shown = str(parsed).lower() if isinstance(parsed, bool) else str(parsed)
        assert shown == (value.lower() if isinstance(parsed, bool) else value), name
    # compose runs production deliberately, on its own secrets and real components.
    assert settings.is_production
    assert settings.jwt_jwks_url or settings.jwt_secret.get_secret_value() != DEV_JWT_SECRET
    assert settings.secret_key.get_secret_value() != DEV_SECRET_KEY
    assert settings.redis_url, "production with workers in their own containers needs Redis"
    assert settings.smtp_host


def test_settings_name_services_that_exist(monkeypatch):
    env = str_environment("api")
    settings = settings_from(env, monkeypatch)
    connections = tortoise_config(settings)["connections"]  # parses, connects to nothing
    assert isinstance(connections, dict)
    connection = connections["default"]
    assert isinstance(connection, dict) and connection["engine"].endswith("asyncpg")
    credentials = connection["credentials"]
    database = credentials["host"]
    assert database in services() and image_name(database) == "postgres", database
    assert int(credentials["port"]) == IMAGE_PORTS["postgres"]
    pg_env = str_environment(database)
    user = pg_env.get("POSTGRES_USER", "postgres")
    assert credentials["user"] == user
    assert credentials["database"] == pg_env.get("POSTGRES_DB", user)
    assert "POSTGRES_PASSWORD" in pg_env, "the postgres image refuses to start without it"
    assert credentials["password"] == pg_env["POSTGRES_PASSWORD"]

    client = redis.Redis.from_url(settings.redis_url)  # parses, no connection
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["host"] in services() and image_name(kwargs["host"]) == "redis"
    assert int(kwargs.get("port", 6379)) == IMAGE_PORTS["redis"]

    assert settings.smtp_host in services(), settings.smtp_host
    mail_image = image_name(settings.smtp_host)
    assert mail_image in MAIL_IMAGES, mail_image
    assert settings.smtp_port == IMAGE_PORTS[mail_image]
    assert not (settings.smtp_tls or settings.smtp_starttls), "a mail catcher has no TLS"
    for name in credits_services():
        other = settings_from(str_environment(name), monkeypatch)
        for field in SHARED_SETTINGS:
            assert getattr(other, field) == getattr(settings, field), f"{name}: {field}"


@pytest.mark.parametrize("service", credits_services())
def test_command_is_a_credits_subcommand(service):
    argv = command(service)
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed why
        pytest.fail(f"{service}: `credits {shlex.join(argv)}` is refused ({exc.code})")
    assert args.run is getattr(cli, "cmd_" + args.command.replace("-", "_")), args.command


def test_the_dockerfile_cmd_and_entrypoint_are_credits():
    assert dockerfile_exec("ENTRYPOINT") == ["credits"]
    assert cli.build_parser().parse_args(dockerfile_exec("CMD")).command == "serve"
    assert pkgutil.resolve_name(console_script("credits")) is cli.main


def test_the_api_serves_where_it_is_published_and_checked():
    argv = command("api")
    args = cli.build_parser().parse_args(argv)
    assert args.command == "serve"
    assert args.host == "0.0.0.0", "inside a container, 127.0.0.1 is unreachable from outside"
    ports = published_ports("api")
    assert ports and all(target == args.port for _, target in ports), ports
    exposed = {int(p.split("/")[0]) for args_ in dockerfile_all("EXPOSE") for p in args_.split()}
    assert args.port in exposed, exposed
    probe = " ".join(healthcheck_argv("api"))
    assert f":{args.port}/readyz" in probe, probe


def test_dependencies_exist_and_can_be_met():
    for name, spec in services().items():
        restart = str(spec.get("restart", "no"))  # YAML's unquoted `no` is False
        assert restart.split(":", 1)[0] in RESTART_POLICIES, f"{name}: restart {restart!r}"
        for target, condition in depends_on(name).items():
            assert target in services(), f"{name} depends on a missing service {target}"
            assert condition in CONDITIONS, f"{name}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services()[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                # Restarted after it succeeds, a one-shot job would run forever.
                assert services()[target].get("restart", "no") == "no", target
        assert name not in waits_for(name), f"{name} depends on itself"


@pytest.mark.parametrize("service", ROLES)
def test_each_role_waits_for_its_database_broker_and_schema(service):
    waited = waits_for(service)
    env = str_environment(service)
    database = urlsplit(env["DATABASE_URL"]).hostname
    broker = urlsplit(env["REDIS_URL"]).hostname
    assert "service_healthy" in waited.get(str(database), set()), waited
    assert "service_healthy" in waited.get(str(broker), set()), waited
    # Production's `credits serve` does not migrate (cli.py): a one-shot migrate must
    # have succeeded first, or the API must be told to migrate.
    migrated = any(
        "service_completed_successfully" in conditions and command(name)[:1] == ["migrate"]
        for name, conditions in waited.items()
    )
    assert migrated or "--migrate" in command(service), f"{service} may start unmigrated"


def test_the_postgres_healthcheck_waits_for_the_real_server():
    for name in services():
        if image_name(name) != "postgres":
            continue
        argv = healthcheck_argv(name)
        probe = " ".join(argv)
        # On first start the image runs a temporary server on the Unix socket only while
        # it creates the database; pg_isready over the socket says "ready" then and the
        # migration would meet a server that is about to restart (docker-library/postgres
        # #880). Over TCP it answers only once the real server listens.
        assert re.search(r"(-h|--host)[ =]\S+", probe), probe
        user = str_environment(name).get("POSTGRES_USER", "postgres")
        assert re.search(rf"(-U|--username)[ =]{re.escape(user)}\b", probe), probe


def test_the_runtime_dependencies_are_pinned_compatibly():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for spec in pyproject()["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (spec, pins[name])
    python = re.match(r"python:(\d+\.\d+)", dockerfile_all("FROM")[0])
    assert python, dockerfile_all("FROM")
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(python[1] + ".0")


def test_the_dockerfile_copies_what_the_install_needs(image):
    for sources, _ in copies():
        for source in sources:
            assert not Path(source).is_absolute() and ".." not in Path(source).parts, source
    for run in dockerfile_all("RUN"):
        for flag, file in re.findall(r"(?:^|\s)(-c|-r)\s+(\S+)", run):
            assert (image.workdir / file).is_file(), f"RUN {flag} {file}: not copied"
    installed = [p for p in image.site.rglob("*.py") if "__pycache__" not in p.parts]
    assert installed == [], "the project installs no module into site-packages"
    copied = {
        str(p.relative_to(image.workdir))
        for p in image.workdir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    missing = code_files() - copied
    assert not missing, f"not in the image: {sorted(missing)}"
    declared = pyproject()["project"]
    for key in ("readme", "license"):
        if isinstance(declared.get(key), str):
            assert (image.workdir / declared[key]).is_file(), key


IMAGE_PROBE = """
import importlib, json, sys
from pathlib import Path

tree = Path(sys.argv[1])
modules = sorted(
    ".".join(p.relative_to(tree).with_suffix("").parts).removesuffix(".__init__")
    for p in tree.rglob("*.py")
)
for name in modules:
    module = importlib.import_module(name)
    assert Path(module.__file__).is_relative_to(tree), (name, module.__file__)

from settings import get_settings
settings = get_settings()
settings.check()
from app import create_app
create_app(settings, manage_database=False)
from workers.worker import broker
from workers.transport import transport_from_settings
from notifications.render import environment
print(json.dumps({
    "modules": len(modules),
    "broker": type(broker).__name__,
    "transport": type(transport_from_settings(settings)).__name__,
    "templates": len(environment().list_templates()),
}))
"""


def test_the_image_code_imports_and_builds_the_app_from_compose_environment(image):
    """Every module of the image imports (nothing from the checkout), and the production
    app, broker and mail transport build from compose's environment, with its host names:
    nothing connects before it is needed."""
    env = image.env(str_environment("api"))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *ISOLATED, "-c", IMAGE_PROBE, str(image.workdir)],
        cwd=image.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert time.monotonic() - started < 60, "something waited on a host that is not there"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["broker"] == "RedisBroker" and found["transport"] == "SmtpTransport", found
    templates = ROOT / "notifications" / "templates"
    assert found["templates"] == len(list(templates.iterdir())), found

    help_ = subprocess.run(
        image.argv(["--help"]), cwd=image.workdir, env=env, capture_output=True, timeout=60
    )
    assert help_.returncode == 0 and b"serve" in help_.stdout, help_.stderr


# Running compose's commands on this host -----------------------------------------------


live = pytest.mark.skipif(
    not (postgres_url() and os.environ.get("REDIS_URL")),
    reason="needs DATABASE_URL=postgres://… and REDIS_URL (CI sets both)",
)


def _swap_server(compose_url: str, local_url: str, path: str) -> str:
    """compose's URL (its scheme) aimed at the local server, credentials and `path`."""
    ours, theirs = urlsplit(compose_url), urlsplit(local_url)
    return urlunsplit((ours.scheme, theirs.netloc, path, ours.query, ""))


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    base = postgres_url()
    assert base is not None
    with scratch_database(base, "credits_compose") as url:
        yield url


@pytest.fixture
def scratch_redis() -> Iterator[str]:
    """The REDIS_URL server, on a logical database nobody uses: its queues are ours alone
    (another worker on the same queues would take our messages)."""
    base = os.environ["REDIS_URL"]
    client = redis.Redis.from_url(base)
    try:
        used = set(client.info("keyspace"))
        free = [n for n in range(15, 0, -1) if f"db{n}" not in used]
    finally:
        client.close()
    assert free, "every Redis database is in use"
    url = _swap_server(base, base, f"/{free[0]}")
    yield url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Running:
    service: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _group_gone(pgid: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _group(r: Running) -> str:
    listing = subprocess.run(
        ["ps", "-o", "pid,args", "-g", str(r.process.pid)], capture_output=True, text=True
    )
    return listing.stdout


def _graphql(base: str, token: str, query: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


@live
def test_compose_commands_run_together_and_email_through_the_worker(
    image, scratch_postgres, scratch_redis, smtp, tmp_path
):
    started = time.monotonic()
    api_port = free_port()

    def env_of(service: str) -> dict[str, str]:
        env = str_environment(service)
        env["DATABASE_URL"] = _swap_server(
            env["DATABASE_URL"], scratch_postgres, urlsplit(scratch_postgres).path
        )
        env["REDIS_URL"] = _swap_server(
            env["REDIS_URL"], scratch_redis, urlsplit(scratch_redis).path
        )
        env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", str(smtp.port)
        return image.env(env)

    def argv_of(service: str) -> list[str]:
        argv = command(service)
        if service == "api":  # listen on loopback, on a port that is free here
            argv = with_option(with_option(argv, "--host", "127.0.0.1"), "--port", str(api_port))
        return image.argv(argv)

    # One-shot services the roles wait for (the migration), run to completion first.
    one_shots = sorted(
        {
            name
            for role in ROLES
            for name, conditions in waits_for(role).items()
            if "service_completed_successfully" in conditions
        }
    )
    for name in one_shots:
        done = subprocess.run(
            argv_of(name),
            cwd=image.workdir,
            env=env_of(name),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr[-4000:]}"

    running: list[Running] = []
    try:
        for service in ROLES:
            log = tmp_path / f"{service}.log"
            process = subprocess.Popen(
                argv_of(service),
                cwd=image.workdir,
                env=env_of(service),
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as in its own container
            )
            running.append(Running(service, process, log))

        def logs() -> str:
            return "\n".join(f"--- {r.service}\n{r.output()[-3000:]}" for r in running)

        base = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 40
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            exited = [r.service for r in running if r.process.poll() is not None]
            assert not exited, f"exited early: {exited}\n{logs()}"
            assert time.monotonic() < deadline, f"the api never became ready\n{logs()}"
            time.sleep(0.2)
        assert httpx.get(f"{base}/readyz").json() == {"database": "ok", "broker": "ok"}

        # compose's own healthcheck, as the api container would run it.
        probe = [sys.executable if a == "python" else a for a in healthcheck_argv("api")]
        probe = [a.replace(":8000/", f":{api_port}/") for a in probe]
        checked = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr

        owner = "olive@example.com"
        token = subprocess.run(
            image.argv(["token", "--email", owner, "--name", "Olive Owner"]),
            cwd=image.workdir,
            env=env_of("api"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert token.returncode == 0, token.stderr
        bearer = token.stdout.strip().splitlines()[-1]

        account = _graphql(
            base,
            bearer,
            'mutation { createAccount(input: {name: "Compose trial"}) '
            "{ account { redemptionCode } errors { code message } } }",
        )["createAccount"]
        assert account["errors"] == [], account
        purchase = _graphql(
            base,
            bearer,
            "mutation { purchaseCredits(input: {credits: 500, paymentToken: "
            '"tok_visa", idempotencyKey: "compose-1"}) '
            "{ purchase { status amountCents } errors { code message } } }",
        )["purchaseCredits"]
        assert purchase["errors"] == [] and purchase["purchase"]["amountCents"] == 50_000

        # The outbox row goes: api -> PostgreSQL -> worker's relay -> Redis -> worker -> SMTP.
        deadline = time.monotonic() + 20
        while not smtp.inbox.to(owner):
            exited = [r.service for r in running if r.process.poll() is not None]
            assert not exited, f"exited: {exited}\n{logs()}"
            assert time.monotonic() < deadline, f"no email arrived\n{logs()}"
            time.sleep(0.2)
        time.sleep(0.5)  # nothing more should come
        assert len(smtp.inbox.to(owner)) == 1, smtp.inbox.recipients()
        received = smtp.inbox.to(owner)[0]
        env = str_environment("worker")
        sender = email.utils.parseaddr(str(received.message["From"]))
        assert sender == email.utils.parseaddr(env["MAIL_FROM"]), received.message["From"]
        body = received.message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert account["account"]["redemptionCode"] in text  # same SECRET_KEY in both
        assert env["PORTAL_URL"] in text

        # `docker compose stop`: SIGTERM to each container's first process, then a grace.
        for r in running:
            r.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        for r in running:
            try:
                code = r.process.wait(
                    timeout=max(0.1, STOP_SECONDS - (time.monotonic() - stopping))
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"{r.service} did not stop within {STOP_SECONDS}s of SIGTERM\n{logs()}")
            assert code == 0, f"{r.service} exited with {code}\n{logs()}"
        for r in running:  # its children too (multiprocessing's helpers go last)
            assert _group_gone(r.process.pid, within=2.0), f"{r.service} left {_group(r)}"
        assert "Traceback" not in logs(), logs()
        assert "scheduler running" in running[ROLES.index("scheduler")].output()
    finally:
        for r in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(r.process.pid, signal.SIGKILL)
            r.process.wait()
    assert time.monotonic() - started < 45
