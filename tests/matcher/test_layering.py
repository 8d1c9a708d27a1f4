"""The library's layers import only downwards, and the library knows nothing of the web.

contract (errors, vocab, fields, schema, text, terms) <- ranking <- learning <- clinic
<- facade (api, cli)
simulation stands alone: it imports only vocab and text.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import matcher

ROOT = Path(matcher.__file__).parent
CONTRACT = {"errors", "vocab", "schema", "text", "terms", "fields"}
FACADE = {"__init__", "__main__", "api", "cli"}
#: What each layer may import from the library, besides itself.
ALLOWED: dict[str, set[str]] = {
    "contract": CONTRACT,
    "ranking": CONTRACT,
    "learning": CONTRACT | {"ranking"},
    "clinic": CONTRACT | {"ranking", "learning"},
    "simulation": {"vocab", "text"},
    "facade": CONTRACT | {"ranking", "learning", "clinic", "simulation"} | FACADE,
}


def layer_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if len(parts) > 1:
        return parts[0]  # a subpackage is its own layer
    return "facade" if parts[0] in FACADE else "contract"


def imported_layers(node: ast.AST, path: Path, root: Path) -> list[tuple[str, int]]:
    """The library layers (or contract modules) an import statement reaches, with its line."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the importing module's package
            package = path.relative_to(root).parent.parts
            base = package[: len(package) - (node.level - 1)]
            module = ".".join(["matcher", *base, *([node.module] if node.module else [])])
            names = [alias.name for alias in node.names] if not node.module else [""]
            modules = [f"{module}.{n}".rstrip(".") for n in names]
        else:
            modules = [node.module or ""]
    else:
        return []
    found = []
    for module in modules:
        parts = module.split(".")
        if parts[0] != "matcher" or len(parts) < 2:
            continue
        found.append((parts[1], node.lineno))
    return found


def wrong_way_imports(root: Path) -> list[str]:
    """Every import that goes up (or sideways across) the layers, as ``file:line: a -> b``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        layer = layer_of(path, root)
        for node in ast.walk(ast.parse(path.read_text())):
            for target, line in imported_layers(node, path, root):
                if target == layer or target in ALLOWED[layer]:
                    continue
                problems.append(f"{path.relative_to(root)}:{line}: {layer} -> {target}")
    return problems


def function_local_imports(root: Path) -> list[str]:
    """Library imports inside functions: the usual way to hide a cycle."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if imported_layers(node, path, root):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_library_imports_only_downwards():
    assert wrong_way_imports(ROOT) == []


def test_no_library_import_hides_inside_a_function():
    assert function_local_imports(ROOT) == []


def test_matcher_never_imports_flask_or_the_web_layer():
    offenders = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"flask", "web"}]
    assert not offenders


def test_the_web_layer_uses_only_public_names():
    """web/ imports matcher's packages, never a module inside a layer."""
    web = ROOT.parent / "web"
    private = []
    for path in web.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("matcher."):
                parts = node.module.split(".")
                if parts[1] in {"ranking", "learning", "clinic", "simulation"} and len(parts) > 2:
                    private.append(f"{path.name}:{node.lineno}: {node.module}")
    assert private == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "matcher"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"ranking/rank.py": "from ..learning.model import ClickModel\n"}, "ranking -> learning"),
        ({"learning/training.py": "from ..clinic import store\n"}, "learning -> clinic"),
        ({"ranking/embed.py": "from matcher.clinic.store import Store\n"}, "ranking -> clinic"),
        ({"simulation/world.py": "from ..ranking import Roster\n"}, "simulation -> ranking"),
        ({"schema.py": "from .ranking import features\n"}, "contract -> ranking"),
        ({"clinic/store.py": "from .. import api\n"}, "clinic -> api"),
    ],
)
def test_a_wrong_way_import_is_caught(tmp_path, files, expected):
    root = _tree(tmp_path, files)
    assert [p.split(": ", 1)[1] for p in wrong_way_imports(root)] == [expected]


def test_downward_imports_pass_and_a_hidden_import_is_caught(tmp_path):
    root = _tree(
        tmp_path,
        {
            "clinic/placement.py": "from ..ranking import rank\nfrom ..vocab import X\n",
            "learning/model.py": "def f():\n    from ..ranking import features\n",
        },
    )
    assert wrong_way_imports(root) == []
    assert function_local_imports(root) == ["learning/model.py:2"]


#: A module longer than this wants splitting (the restructuring's rule of thumb).
MAX_MODULE_LINES = 600


def test_no_module_is_too_long_to_find_your_way_in():
    long = {
        str(path.relative_to(ROOT.parent)): n
        for folder in (ROOT, ROOT.parent / "web")
        for path in folder.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
