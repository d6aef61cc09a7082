"""The framework images the pipeline names, as Python environments built with uv.

Each entry is one SageMaker framework container version (config `pipeline.framework_versions`):
the Python it runs, the libraries the step scripts and the handler import, pinned to the image's,
and the serving toolkit the image hosts the handler with (plus the pins that toolkit needs to
import). Sources: aws/sagemaker-scikit-learn-container (docker/1.2-1: Python 3.9, scikit-learn
1.2.1; pandas 1.1.3, numpy 1.24.1 and scipy 1.8.0 as installed in that image) and
aws/sagemaker-xgboost-container (docker/1.7-1: Python 3.8.13, xgboost 1.7.4; requirements.txt:
numpy 1.19.2, pandas 1.2.4, scikit-learn 0.24.1, scipy 1.6.2, sagemaker-inference 1.5.5,
sagemaker-containers 2.8.6.post2, Flask 1.1.1). joblib is not pinned by either image; the newest
release for the Python is taken. A version missing here is an error naming this file.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# What sagemaker-containers 2.8.6.post2 needs to import on these Pythons (the images pin the same).
SERVING_PINS = (
    "sagemaker-containers==2.8.6.post2",
    "Flask==1.1.1",
    "Werkzeug==0.15.6",
    "itsdangerous==2.0.1",
    "protobuf==3.20.1",
    "python-dateutil==2.8.1",
    "setuptools==65.5.0",  # pkg_resources, which newer setuptools no longer ship
)


@dataclass(frozen=True)
class Image:
    framework: str
    version: str
    python: str
    packages: tuple[str, ...]
    toolkit: str  # how the image serves the handler (parity/serve.py)

    @property
    def name(self) -> str:
        return f"{self.framework}-{self.version}"

    def requirements(self) -> str:
        return "\n".join([f"# python {self.python}", *self.packages, ""])


IMAGES = {
    ("sklearn", "1.2-1"): Image(
        "sklearn",
        "1.2-1",
        "3.9",
        (
            "scikit-learn==1.2.1",
            "pandas==1.1.3",
            "numpy==1.24.1",
            "scipy==1.8.0",
            "Jinja2==3.0.3",
            "MarkupSafe==2.1.1",
            *SERVING_PINS,
        ),
        "sagemaker-containers",
    ),
    ("xgboost", "1.7-1"): Image(
        "xgboost",
        "1.7-1",
        "3.8",
        (
            "xgboost==1.7.4",
            "pandas==1.2.4",
            "numpy==1.19.2",
            "scikit-learn==0.24.1",
            "scipy==1.6.2",
            "sagemaker-inference==1.5.5",
            "Jinja2==2.11.3",
            "MarkupSafe==1.1.1",
            *SERVING_PINS,
        ),
        "sagemaker-inference",
    ),
}


class ParityError(RuntimeError):
    """An environment cannot be built or a step did not behave; the text says which."""


def image_for(framework: str, version: str) -> Image:
    image = IMAGES.get((framework, version))
    if image is None:
        known = ", ".join(f"{f} {v}" for f, v in IMAGES)
        raise ParityError(
            f"no parity environment for {framework} {version} (pipeline.framework_versions); "
            f"known: {known}. Add the image's Python and library versions to {__file__}"
        )
    return image


def find_uv() -> str:
    for candidate in (Path(sys.executable).with_name("uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise ParityError("uv not found next to this Python or on PATH; `make install` installs it into .venv")


def find_python(version: str) -> str:
    """PARITY_PYTHON_<major>_<minor>, else the newest pyenv Python of that version, else the version
    itself (uv then looks on PATH and may download a managed Python)."""
    override = os.environ.get(f"PARITY_PYTHON_{version.replace('.', '_')}")
    if override:
        return override
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}"))

    def patch(path: str) -> int:
        match = re.search(rf"{re.escape(version)}\.(\d+)", path)
        return int(match.group(1)) if match else -1

    return max(found, key=patch) if found else version


def ensure_env(image: Image, root: Path, log) -> tuple[Path, float]:
    """The image's environment under root/<name>, built (or rebuilt when its requirements changed)
    with uv; (its python, seconds spent building: 0 when reused)."""
    env = root / image.name
    python = env / "bin" / "python"
    stamp = env / "parity-requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == image.requirements():
        return python, 0.0
    started = time.perf_counter()
    uv = find_uv()
    interpreter = find_python(image.python)
    log(f"  building {env} (Python {image.python} from {interpreter}) ...")
    if env.exists():
        shutil.rmtree(env)
    for command in (
        [uv, "venv", "--quiet", "--python", interpreter, str(env)],
        [uv, "pip", "install", "--quiet", "--python", str(python), *image.packages],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - uv, no shell
        if done.returncode != 0:
            lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            raise ParityError(f"{' '.join(command[:3])} failed: {lines[-1] if lines else done.returncode}")
    stamp.write_text(image.requirements())
    return python, time.perf_counter() - started
