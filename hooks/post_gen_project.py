"""Finish the generated repository.

It records the answers in `.cruft.json` (the format `cruft update` reads) so template
changes can be applied to this repository later. Every option set gets the same files:
options change config/project.json, not the tree. Answers are read as data (tojson),
never pasted into code.
"""

from __future__ import annotations

import json
import os
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


# cookiecutter's built-in abbreviations, spelled out as git URLs that `cruft` can clone.
ABBREVIATIONS = {
    "gh": "https://github.com/{}.git",
    "gl": "https://gitlab.com/{}.git",
    "bb": "https://bitbucket.org/{}",
}


def local_repo_dir(answers: dict) -> str | None:
    """Absolute path of a template baked from a local folder, or None.

    cookiecutter records the folder as given on its command line, which may be relative to
    where it was started; the hook runs elsewhere, so resolve it against the caller's PWD.
    """
    repo_dir = answers.get("_repo_dir") or ""
    if not repo_dir:
        return None
    candidates = [repo_dir] if os.path.isabs(repo_dir) else [os.path.join(os.environ.get("PWD", ""), repo_dir)]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "cookiecutter.json")):
            return os.path.normpath(candidate)
    return None


def template_location(answers: dict) -> str:
    """Where `cruft update` finds the template again: a git URL, or an absolute local path."""
    template = str(answers.get("_template", ""))
    prefix, colon, rest = template.partition(":")
    if colon and prefix in ABBREVIATIONS:
        return ABBREVIATIONS[prefix].format(rest)
    if "://" in template or template.startswith("git@"):
        return template
    return local_repo_dir(answers) or template


def cruft_record(answers: dict) -> dict:
    """The `.cruft.json` content: template location, commit and the answers given."""
    context = {k: v for k, v in answers.items() if k not in ("_output_dir", "_repo_dir", "_checkout")}
    context["_template"] = template_location(answers)
    repo_dir = local_repo_dir(answers)
    return {
        "template": template_location(answers),
        "commit": template_commit(repo_dir) if repo_dir else None,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [".git", "model.lock.json"],
    }


def main(answers: dict, root: Path) -> int:
    if "_commit" in answers:
        # cruft is rendering the template to diff against (`cruft update`/`check`); it keeps
        # .cruft.json itself, and a second copy from here would show up as a conflict.
        return 0
    (root / ".cruft.json").write_text(json.dumps(cruft_record(answers), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
