"""Finish the generated repository.

It records the answers in `.cruft.json` (the format `cruft update` reads) so template
changes can be applied to this repository later. Every option set gets the same files:
options change config/project.json, not the tree. Answers are read as data (tojson),
never pasted into code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def template_commit(repo_dir: str) -> str | None:
    """The template's git commit, when the template was baked from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", repo_dir, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def cruft_record(answers: dict) -> dict:
    """The `.cruft.json` content: template location, commit and the answers given."""
    context = {k: v for k, v in answers.items() if k not in ("_output_dir", "_repo_dir", "_checkout")}
    return {
        "template": answers.get("_template", ""),
        "commit": template_commit(answers.get("_repo_dir", "")) if answers.get("_repo_dir") else None,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [".git", "model.lock.json"],
    }


def main(answers: dict, root: Path) -> int:
    (root / ".cruft.json").write_text(json.dumps(cruft_record(answers), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
