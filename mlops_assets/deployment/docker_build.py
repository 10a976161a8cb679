"""Docker image helpers: build context (``.dockerignore`` semantics), tags, OCI labels and the SDK build call.

Pure apart from `build_image`, which takes a `docker.DockerClient`; nothing here imports Dagster.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path, PurePosixPath

# Docker always sends these with the context, whatever .dockerignore says (the docker SDK does the same).
ALWAYS_SENT = ("Dockerfile", ".dockerignore")

# Reference grammar (distribution/reference): repository path components and tag.
_REPO_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?{_REPO_COMPONENT}(?:/{_REPO_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_GIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
SHORT_SHA = 12


def read_dockerignore(repo_root: str | os.PathLike) -> list[str]:
    """The patterns of ``repo_root/.dockerignore`` (comments and blank lines dropped), or ``[]``."""
    path = Path(repo_root) / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _clean(pattern: str) -> str:
    """Docker's preprocessing: ``filepath.Clean`` and no leading slash (``.`` alone matches nothing useful)."""
    cleaned = os.path.normpath(pattern).replace(os.sep, "/").lstrip("/")
    return "" if cleaned == "." else cleaned


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    """Translate one cleaned pattern the way moby's patternmatcher does.

    ``*`` and ``?`` stop at ``/``; ``**`` spans any number of directories (``**/`` also zero); ``[...]``
    is a character class; ``\\`` escapes the next character. (`fnmatch` alone lets ``*`` cross ``/``.)
    """
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*" and pattern.startswith("**", i):
            i += 2
            if i < n and pattern[i] == "/":
                i += 1
            out.append(".*" if i == n else "(?:.*/)?")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end <= i + 1:
                raise ValueError(f"bad .dockerignore pattern {pattern!r}: empty or unterminated '['")
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def _parse(patterns: Iterable[str]) -> list[tuple[re.Pattern[str], bool, str]]:
    """``(regex, is_exception, cleaned)`` per pattern, in file order (the last match wins)."""
    parsed = []
    for raw in patterns:
        exception = raw.startswith("!")
        cleaned = _clean(raw[1:].strip() if exception else raw)
        if cleaned:
            parsed.append((_compile(cleaned), exception, cleaned))
    return parsed


def is_excluded(rel_path: str, patterns: Iterable[str]) -> bool:
    """Whether the context path ``rel_path`` (POSIX, relative) is left out by these patterns.

    A pattern excludes a path when it matches the path or one of its parent directories; a later
    ``!pattern`` puts it back.

    Examples
    --------
    >>> is_excluded("pkg/__pycache__/m.pyc", ["**/__pycache__"])
    True
    >>> is_excluded("docs/keep.md", ["docs", "!docs/keep.md"])
    False
    """
    return _excluded(rel_path, _parse(patterns))


def _excluded(rel_path: str, parsed: list[tuple[re.Pattern[str], bool, str]]) -> bool:
    parts = PurePosixPath(rel_path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for regex, exception, _ in parsed:
        if any(regex.match(p) for p in prefixes):
            excluded = not exception
    return excluded


def build_context_files(repo_root: str | os.PathLike) -> list[str]:
    """The files (POSIX paths relative to ``repo_root``, sorted) that ``docker build repo_root`` would send.

    Applies ``repo_root/.dockerignore``; excluded directories are not walked unless an exception
    pattern could re-include something under them. Symlinks are listed, not followed.
    """
    root = Path(repo_root)
    parsed = _parse(read_dockerignore(root))
    exceptions = [cleaned for _, exception, cleaned in parsed if exception]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        kept_dirs = []
        for name in sorted(dirnames):
            path = (rel_dir / name).as_posix()
            if Path(dirpath, name).is_symlink():
                filenames.append(name)
            elif not _excluded(path, parsed) or any(_may_reinclude(e, path) for e in exceptions):
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in filenames:
            path = (rel_dir / name).as_posix()
            if path in ALWAYS_SENT or not _excluded(path, parsed):
                files.append(path)
    return sorted(files)


def _may_reinclude(exception: str, directory: str) -> bool:
    """Whether the exception pattern might match something inside ``directory`` (conservative)."""
    return exception.startswith(directory + "/") or "*" in exception or "?" in exception or "[" in exception


def image_tags(project: str, version: str, git_sha: str | None) -> list[str]:
    """``[repo:version]``, plus ``repo:git-<sha12>`` when the commit is known; the repository is ``project``.

    Both are immutable names for one build; no ``latest`` (deployers name exactly what they run).
    Raises `ValueError` on a name Docker would refuse rather than rewriting it.

    >>> image_tags("mlops-assets", "0.1.0", "56fe2216f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f5")
    ['mlops-assets:0.1.0', 'mlops-assets:git-56fe2216f0c1']
    """
    if not _REPOSITORY.match(project):
        raise ValueError(f"not a valid Docker repository name: {project!r} (lowercase, digits, '.', '_', '-', '/')")
    if not _TAG.match(version):
        raise ValueError(f"not a valid Docker tag: {version!r} (letters, digits, '_', '.', '-'; at most 128)")
    tags = [f"{project}:{version}"]
    if git_sha is not None:
        tags.append(f"{project}:git-{_short_sha(git_sha)}")
    return tags


def _short_sha(git_sha: str) -> str:
    if not _GIT_SHA.match(git_sha):
        raise ValueError(f"not a git commit sha: {git_sha!r}")
    return git_sha[:SHORT_SHA]


def image_labels(project: str, version: str, git_sha: str | None, source: str) -> dict[str, str]:
    """OCI annotations (``org.opencontainers.image.*``): title, version, revision (when known), source.

    >>> image_labels("mlops-assets", "0.1.0", None, "https://git.example.com/mlops-assets")["org.opencontainers.image.title"]
    'mlops-assets'
    """
    labels = {
        "org.opencontainers.image.title": project,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.source": source,
    }
    if git_sha is not None:
        _short_sha(git_sha)
        labels["org.opencontainers.image.revision"] = git_sha
    return labels


def split_tag(reference: str) -> tuple[str, str]:
    """``"host:5000/repo:tag"`` -> ``("host:5000/repo", "tag")``; a reference without tag gets ``latest``."""
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return repository, tag


def build_image(client, repo_root: str | os.PathLike, target: str, tags: list[str], labels: Mapping[str, str]):
    """Build stage ``target`` of ``repo_root/Dockerfile`` with the docker SDK; return the `Image`.

    The first tag names the build, the others are added to the same image. Build failures raise the
    SDK's ``docker.errors.BuildError`` (with the build log) unchanged.
    """
    if not tags:
        raise ValueError("build_image needs at least one tag")
    image, _logs = client.images.build(
        path=str(repo_root), target=target, tag=tags[0], labels=dict(labels), rm=True
    )
    for reference in tags[1:]:
        repository, tag = split_tag(reference)
        image.tag(repository, tag)
    return image
