"""No function in the domain and service packages runs over 60 lines, unless the line above its `def`
(or above its decorators) is a comment saying why: `# over 60 lines: <reason>`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("optimizers", "profiler", "rules", "service")
MAX_LINES = 60
REASON = "# over 60 lines:"


def _long_functions(path: Path, root: Path = ROOT) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if length > MAX_LINES and not above.startswith(REASON):
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_over_60_lines_without_a_reason() -> None:
    found = [
        entry
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        for entry in _long_functions(path)
    ]
    assert not found, f"split these, or say why above them ({REASON} ...): {found}"


def test_the_check_sees_a_long_function_and_its_reason(tmp_path: Path) -> None:
    body = "\n".join(f"    x{index} = {index}" for index in range(MAX_LINES))
    source = tmp_path / "sample.py"
    source.write_text(f"def long() -> None:\n{body}\n", encoding="utf-8")
    assert len(_long_functions(source, tmp_path)) == 1
    source.write_text(f"{REASON} a table\ndef long() -> None:\n{body}\n", encoding="utf-8")
    assert _long_functions(source, tmp_path) == []
