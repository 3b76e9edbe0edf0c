"""References to docs/protocol.md and docs/semantics.md point at sections they have.

The sources, tests and docs cite these two documents by section: ``protocol.md §9``,
``semantics.md §1.1–§1.3, §1.6``, ``semantics.md §2.3–2.6``. Each number must be the number of a
heading of the document (``## 9. …``, ``### 1.3 …``) in docs/.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: The documents whose sections are cited.
DOCUMENTS = ("protocol.md", "semantics.md")
#: Where citations are looked for.
SEARCHED = ("src", "docs", "tests")
SUFFIXES = {".py", ".md", ".js", ".xsd", ".html", ".css", ".sh", ".conf"}

_NUMBER = r"\d+(?:\.\d+)*"
#: "X.md §1.2", then more numbers after ",", "–", "-", "/" or "and", each with or without §.
_CITATION = re.compile(
    rf"\b({'|'.join(re.escape(d) for d in DOCUMENTS)}),?\s*§\s*({_NUMBER}"
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


def test_every_cited_section_exists() -> None:
    known = {doc: sections(DOCS / doc) if (DOCS / doc).exists() else set() for doc in DOCUMENTS}
    found = citations()
    assert found, "no citation found: the search is broken"
    wrong = sorted({f"{path.relative_to(ROOT)}: {doc} §{number}" for path, doc, number in found
                    if number not in known[doc]})
    assert not wrong, "citations of missing documents or sections:\n" + "\n".join(wrong)


def test_citations_are_read_whole() -> None:
    text = ("(semantics.md §1.1–§1.3, §1.6–§1.10) protocol.md §9 E8; semantics.md §2.3–2.6. "
            "protocol.md §4.1-§4.2 and semantics.md, §5.1 Q; protocol.md §10.9 says")
    assert cited_sections(text) == [
        ("semantics.md", "1.1"), ("semantics.md", "1.3"), ("semantics.md", "1.6"),
        ("semantics.md", "1.10"), ("protocol.md", "9"), ("semantics.md", "2.3"),
        ("semantics.md", "2.6"), ("protocol.md", "4.1"), ("protocol.md", "4.2"),
        ("semantics.md", "5.1"), ("protocol.md", "10.9")]


def test_a_missing_section_is_noticed(tmp_path: Path) -> None:
    document = tmp_path / "protocol.md"
    document.write_text("# P\n\n## 1. One\n\n### 1.2 Two\n\n#### 1.2.1 Three\n")
    assert sections(document) == {"1", "1.2", "1.2.1"}
    assert "1.3" not in sections(document)
