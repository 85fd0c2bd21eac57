"""The Dockerfile, checked statically (Docker cannot run here): what it copies is in the build context, what it
runs is in the repository, and it installs the project's own pins."""
import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.make_dry_run import REPO, dry_run, program_words


def instructions() -> list:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined, comments dropped."""
    lines = [line for line in (REPO / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", "", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def arguments(instruction: str) -> list:
    return [args for name, args in instructions() if name == instruction]


def command_words(args: str) -> list:
    """The words of a shell-form or exec-form (JSON array) command."""
    args = re.sub(r"^(--\S+\s+)*CMD\s+", "", args)  # HEALTHCHECK options
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def in_build_context(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context: the last pattern matching the path or one
    of its parent folders decides, `!` patterns let in."""
    included = True
    parts = Path(path).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in (REPO / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
        if any(fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(Path(candidate).name, pattern)
               for candidate in candidates):
            included = negated
    return included


def tracked(path: str) -> bool:
    """In git (a file, or a folder with files): what a fresh clone, and so CI, has."""
    listed = subprocess.run(["git", "ls-files", "--", path], cwd=REPO, capture_output=True, text=True)
    return bool(listed.stdout.strip())


def archiver_options() -> dict:
    """The options `make mar` gives torch-model-archiver ({"--model-name": "alphanet", ...}); empty without one."""
    words = program_words("torch-model-archiver", "mar")
    return {option: value for option, value in zip(words, words[1:])
            if option.startswith("--") and not value.startswith("-")}


def made_by_make_mar(path: str) -> bool:
    """Whether `make mar`'s torch-model-archiver writes `path` (it writes <export-path>/<model-name>.mar)."""
    options = archiver_options()
    return bool(options) and f"{options.get('--export-path')}/{options.get('--model-name')}.mar" == path


def copied_sources() -> list:
    sources = []
    for args in arguments("COPY"):
        words = [word for word in shlex.split(args) if not word.startswith("--")]
        sources += words[:-1]
    return sources


@pytest.mark.parametrize("source", copied_sources())
def test_every_copied_file_is_in_the_repository_or_built_by_make_mar(source):
    assert tracked(source) or made_by_make_mar(source), f"{source}: not in the repo, not built by make"
    assert in_build_context(source), f"{source}: excluded by .dockerignore"


def test_the_archive_is_copied_and_only_it_from_the_model_store():
    assert [source for source in copied_sources() if source.startswith("model_store")] == \
        ["model_store/alphanet.mar"]


def test_every_command_it_runs_exists_in_the_repository():
    commands = [command_words(args) for name in ("RUN", "CMD", "HEALTHCHECK", "ENTRYPOINT")
                for args in arguments(name)]
    modules = [words[i + 1] for words in commands for i, word in enumerate(words[:-1]) if word == "-m"]
    modules += [module for words in commands for word in words
                for module in re.findall(r"from (alphanet[\w.]*) import", word)]
    project_modules = [module for module in modules if module.split(".")[0] in ("alphanet", "handlers")]
    served = {"alphanet.serving.launch_torchserve", "alphanet.serving.healthcheck", "alphanet.serving.imageio"}
    assert served <= set(project_modules)
    for module in project_modules:
        assert tracked(module.replace(".", "/") + ".py"), f"{module} is not in the repository"
    repo_paths = [word for words in commands for word in words if re.fullmatch(r"[\w-]+/[\w./-]+", word)]
    assert repo_paths, "expected the config profile among the arguments"
    for path in repo_paths:
        assert tracked(path) and in_build_context(path), f"{path} is not in the image"


def test_it_installs_the_projects_pins_from_requirements_txt():
    pip_installs = [args for args in arguments("RUN") if "pip install" in args]
    requirement_installs = [args for args in pip_installs if "-r requirements.txt" in args]
    assert len(requirement_installs) == 1 and "requirements.txt" in copied_sources()
    assert "--index-url https://download.pytorch.org/whl/cpu" in requirement_installs[0]
    for command in (c for args in pip_installs for c in re.findall(r"pip install([^&;|]*)", args)):
        named = [word for word in shlex.split(command) if not word.startswith(("-", "http"))
                 and word not in ("requirements.txt", ".")]
        assert named == [], f"installs {named} by name: every version must come from requirements.txt"
    pins = (REPO / "requirements.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", pins, re.MULTILINE)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]
    assert any("pip install -r requirements.txt" in command for command in dry_run("install"))


def test_runtime_matches_the_project():
    base = arguments("FROM")[0]
    assert re.fullmatch(r"python:3\.11-slim-\w+", base)
    assert "openjdk-17-jre-headless" in " ".join(arguments("RUN"))
    assert arguments("USER") and arguments("USER")[-1] not in ("root", "0")
    assert arguments("HEALTHCHECK")
    production = (REPO / "config" / "config.production.properties").read_text()
    inference_port = re.search(r"^inference_address=http://0\.0\.0\.0:(\d+)$", production, re.MULTILINE)[1]
    assert inference_port in arguments("EXPOSE")[0].split()
