"""The wheel works on its own: built from the repo, installed into a fresh virtualenv outside it, the
`interviewer` command finds its curriculum and prompts inside the installed package (importlib.resources),
not in the source tree.

The fresh virtualenv reuses the third-party packages of the running one through a `.pth` file that lists
their folder as a plain path: such a line is put on sys.path without processing the `.pth` files in that
folder, so the editable install of the repo stays out and `import interviewer` finds the wheel's copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from interviewer.curriculum.corpus import load_corpus
from interviewer.grading.prompting import prompts_version

ROOT = Path(__file__).resolve().parents[2]
ANSWER = (
    "A feature store defines each feature once, so training and serving compute the same values and "
    "training-serving skew goes away; it serves fresh features online with low latency and keeps history "
    "offline for point-in-time correct training sets."
)


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _shipped_files() -> set[str]:
    """What the wheel must hold: every module of src/interviewer and its packages' data files (the models, the
    corpus's vectors), and corpus/ and prompts/ under data/."""
    source = ROOT / "src"
    wanted = {p.relative_to(source).as_posix() for p in (source / "interviewer").rglob("*.py")}
    wanted |= {p.relative_to(source).as_posix() for p in (source / "interviewer").glob("*/data/*") if p.is_file()}
    for folder in ("corpus", "prompts"):
        wanted |= {
            f"interviewer/data/{p.relative_to(ROOT).as_posix()}"
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
    return wanted


@pytest.mark.timeout(180)
def _built_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    """The wheel, built from a copy (so nothing, build/ or *.egg-info, is written into the working tree)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "corpus", "prompts"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", dist, "."], cwd=source, env=env)
    (wheel,) = dist.glob("interviewer-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        missing = _shipped_files() - set(archive.namelist())
    assert not missing, f"not in the wheel (list them in pyproject.toml's [tool.setuptools]): {sorted(missing)}"
    return wheel


def test_the_installed_wheel_validates_its_corpus_and_grades_from_outside_the_repo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERVIEWER_", "OPENAI_"))}
    # Keep the network block of the test run (tests/netblock) but never the repo's own source.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != (ROOT / "src").resolve()
    )
    wheel = _built_wheel(tmp_path, env)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=env)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env).strip()
    )
    (purelib / "reuse-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp_path, env=env)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env["INTERVIEWER_DATA_DIR"] = str(tmp_path / "data")
    where = _run(
        [
            python,
            "-c",
            "import interviewer, interviewer.grading.prompting as p;"
            " print(interviewer.__file__); print(p.prompts().folder)",
        ],
        outside,
        env,
    ).split()
    assert Path(where[0]).is_relative_to(purelib), where
    assert Path(where[1]) == purelib / "interviewer" / "data" / "prompts"
    version = _run(
        [python, "-c", "from interviewer.grading.prompting import prompts_version; print(prompts_version())"],
        outside,
        env,
    )
    assert version.strip() == prompts_version(ROOT / "prompts")

    command = bin_dir / "interviewer"
    validated = _run([command, "corpus", "validate"], outside, env)
    assert validated.startswith("corpus ok: ")
    assert f"(version {load_corpus(ROOT / 'corpus').version})" in validated

    graded = json.loads(_run([command, "grade", "--prompt-id", "fsw-p1", "--answer", ANSWER, "--json"], outside, env))
    assert graded["prompt_id"] == "fsw-p1" and graded["score"] >= 1 and graded["points"]
    assert (tmp_path / "data" / "index").is_dir() and not (outside / ".interviewer").exists()
