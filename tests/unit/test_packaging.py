"""linli installs as one import namespace, whatever folders the repository keeps its code in."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for folder in ("shared", "services", "linli", "bench", "tests") for p in (ROOT / folder).rglob("*.py")]
_BARE = re.compile(r"^\s*(from|import)\b.*(?<![.\w])(shared|services)\b", re.MULTILINE)


def test_outside_the_repository_only_linli_is_importable(tmp_path: Path) -> None:
    # Run from elsewhere, so the repository's folders are not on sys.path: only what is installed counts.
    probe = (
        "import importlib.util as u, json;"
        "print(json.dumps([u.find_spec(n) is not None for n in"
        " ('shared', 'services', 'linli.shared.db', 'linli.services.tickets.service', 'linli.suite')]))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == [False, False, True, True, True]


def test_setup_maps_the_folders_under_linli() -> None:
    text = (ROOT / "setup.py").read_text()
    assert '"linli.shared": "shared"' in text and '"linli.services": "services"' in text


def test_no_code_imports_the_bare_folder_names() -> None:
    offenders = []
    for path in CODE:
        text = path.read_text()
        if not _BARE.search(text):  # parsing every file cost seconds; only those naming a bare folder are parsed
            continue
        for node in ast.walk(ast.parse(text, str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if re.match(r"(shared|services)(\.|$)", n)]
    assert offenders == []


def test_shared_names_no_service() -> None:
    # shared/ is the suite's library: the launcher tells it which services exist, never the other way round.
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / "shared").rglob("*.py")
        if re.search(r"\blinli\.(services|suite|embedded|cli)\b", p.read_text())
    ]
    assert offenders == []
