"""The layout shows the architecture (issue 16; docs/architecture.md, "Layers"): the documented tree
is the tree, the import contracts hold, the rules touch no file or process, and imports sit at the
top of a module unless a named heavy dependency is the reason."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
#: Imported inside a function, each with its reason in a comment: seconds to import.
HEAVY = ("pyflink", "airflow", "great_expectations")
#: What the rules must not reach for: files, folders, processes, the network.
IO_MODULES = {
    "pathlib",
    "os",
    "io",
    "shutil",
    "subprocess",
    "tempfile",
    "fcntl",
    "socket",
    "duckdb",
}


def _documented() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `(\w+)/` \| (.+) \|$", DOC.read_text(), flags=re.M)
    return {pkg: set(re.findall(r"`(\w+)`", cell.split(";")[0])) for pkg, cell in rows}


def _modules(package: str) -> set[str]:
    return {p.stem for p in (ROOT / package).glob("*.py") if p.stem != "__init__"}


def test_the_documented_tree_is_the_tree() -> None:
    documented = _documented()
    assert set(documented) == {
        "dayclear", "devtools", "orchestration", "portal", "smoke_tests", "driver", "audit",
        "jobs", "publication", "edge", "settlement", "schemas",
    }  # fmt: skip
    for package, modules in documented.items():
        assert modules == _modules(package), package


def test_the_import_contracts_hold() -> None:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "lint-imports")], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:]


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node, node.module))
    return found


#: What Airflow's own files (dags/, plugins/) may not import: they sit at orchestration's level,
#: import-linter cannot hold them (Airflow loads them by path, not as a package).
ABOVE_ORCHESTRATION = ("devtools", "portal", "dayclear.cli")


def test_airflow_files_stay_at_orchestrations_level() -> None:
    for path in sorted([*(ROOT / "dags").glob("*.py"), *(ROOT / "plugins").glob("*.py")]):
        for node, module in _imports(ast.parse(path.read_text())):
            above = module == "dayclear.cli" or module.split(".")[0] in ABOVE_ORCHESTRATION
            assert not above, f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"


def test_the_rules_touch_no_file_or_process() -> None:
    for path in sorted((ROOT / "settlement").glob("*.py")):
        for _node, module in _imports(ast.parse(path.read_text())):
            assert module.split(".")[0] not in IO_MODULES, f"{path.name} imports {module}"


def test_imports_inside_functions_are_heavy_and_say_why() -> None:
    for package in _documented():
        for path in sorted((ROOT / package).glob("*.py")):
            text = path.read_text()
            lines = text.splitlines()
            for function in ast.walk(ast.parse(text)):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node, module in _imports(function):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    assert module.startswith(HEAVY), f"{where}: {module} belongs at the top"
                    around = lines[node.lineno - 4 : node.lineno]
                    assert any("#" in line for line in around), f"{where}: say why it is here"
