"""References to the project's documents point at documents and sections that exist.

The sources, tests and docs cite documents by section: ``protocol.md §9``,
``semantics.md §1.1–§1.3, §1.6``, ``frontend.md §6.10``. Whatever the document's name, it must
be a file of docs/ (README.md: the one at the top of the repository), and each number the
number of one of its headings (``## 9. …``, ``### 1.3 …``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Where citations are looked for.
SEARCHED = ("src", "docs", "tests")
SUFFIXES = {".py", ".md", ".js", ".xsd", ".html", ".css", ".sh", ".conf"}

_NUMBER = r"\d+(?:\.\d+)*"
#: "X.md §1.2", then more numbers after ",", "–", "-", "/" or "and", each with or without §.
_CITATION = re.compile(
    rf"\b([A-Za-z][\w-]*\.md),?\s*§\s*({_NUMBER}"
    rf"(?:\s*(?:,|–|-|/|and)\s*§?\s*{_NUMBER})*)")
_HEADING = re.compile(rf"^#{{2,4}}\s+({_NUMBER})[.\s]")


def cited_sections(text: str) -> list[tuple[str, str]]:
    """(document, section) for every section number cited in ``text``."""
    found = []
    for match in _CITATION.finditer(text):
        for number in re.findall(_NUMBER, match.group(2)):
            found.append((match.group(1), number.rstrip(".")))
    return found


def sections(document: Path) -> set[str]:
    """The numbers of the document's headings."""
    return {match.group(1) for line in document.read_text(encoding="utf-8").splitlines()
            if (match := _HEADING.match(line))}


def document_path(name: str) -> Path:
    """Where a cited document lives: README.md at the top, every other one in docs/."""
    return ROOT / name if name == "README.md" else DOCS / name


def citations() -> list[tuple[Path, str, str]]:
    """(file, document, section) for every citation in the searched trees."""
    found = []
    for tree in SEARCHED:
        for path in sorted((ROOT / tree).rglob("*")):
            if (path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts
                    and path != Path(__file__).resolve()):  # its examples are not citations
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [(path, doc, number) for doc, number in cited_sections(text)]
    return found


def unresolved(found: list[tuple[Path, str, str]],
               locate: Callable[[str], Path] = document_path) -> list[str]:
    """The citations whose document or section does not exist, one line each."""
    known: dict[str, set[str] | None] = {}
    wrong = set()
    for path, doc, number in found:
        if doc not in known:
            document = locate(doc)
            known[doc] = sections(document) if document.is_file() else None
        if known[doc] is None:
            wrong.add(f"{path}: {doc} §{number} (no such document)")
        elif number not in known[doc]:
            wrong.add(f"{path}: {doc} §{number}")
    return sorted(wrong)


def test_every_cited_section_exists() -> None:
    found = citations()
    assert found, "no citation found: the search is broken"
    wrong = unresolved([(path.relative_to(ROOT), doc, number) for path, doc, number in found])
    assert not wrong, "citations of missing documents or sections:\n" + "\n".join(wrong)


def test_every_cited_document_is_checked() -> None:
    cited = {doc for _, doc, _ in citations()}
    assert {"protocol.md", "semantics.md", "frontend.md"} <= cited


def test_citations_are_read_whole() -> None:
    text = ("(semantics.md §1.1–§1.3, §1.6–§1.10) protocol.md §9 E8; semantics.md §2.3–2.6. "
            "protocol.md §4.1-§4.2 and semantics.md, §5.1 Q; protocol.md §10.9 says "
            "(frontend.md §6.9 / semantics.md §5.1) docs/api.md §2 README.md §3")
    assert cited_sections(text) == [
        ("semantics.md", "1.1"), ("semantics.md", "1.3"), ("semantics.md", "1.6"),
        ("semantics.md", "1.10"), ("protocol.md", "9"), ("semantics.md", "2.3"),
        ("semantics.md", "2.6"), ("protocol.md", "4.1"), ("protocol.md", "4.2"),
        ("semantics.md", "5.1"), ("protocol.md", "10.9"), ("frontend.md", "6.9"),
        ("semantics.md", "5.1"), ("api.md", "2"), ("README.md", "3")]


def test_a_missing_section_is_noticed(tmp_path: Path) -> None:
    document = tmp_path / "protocol.md"
    document.write_text("# P\n\n## 1. One\n\n### 1.2 Two\n\n#### 1.2.1 Three\n")
    assert sections(document) == {"1", "1.2", "1.2.1"}
    assert "1.3" not in sections(document)


def test_a_missing_document_or_section_is_reported(tmp_path: Path) -> None:
    (tmp_path / "frontend.md").write_text("# F\n\n## 1. One\n\n### 1.4 Login\n")
    source = Path("src/app.js")
    found = [(source, "frontend.md", "1.4"), (source, "frontend.md", "6.2"),
             (source, "nowhere.md", "1")]
    assert unresolved(found, locate=lambda name: tmp_path / name) == [
        "src/app.js: frontend.md §6.2",
        "src/app.js: nowhere.md §1 (no such document)"]
