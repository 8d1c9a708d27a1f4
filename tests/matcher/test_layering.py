"""The library knows nothing of the web layer."""

import ast
from pathlib import Path

import matcher


def test_matcher_never_imports_flask():
    offenders = []
    for path in Path(matcher.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"flask", "web"}]
    assert not offenders
