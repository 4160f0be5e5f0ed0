from pathlib import Path

from shared.config import documented_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_starts_with_the_two_commands():
    head = README.read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head


def test_readme_documents_every_setting():
    text = README.read_text()
    missing = [row["env"] for row in documented_settings() if f"`{row['env']}`" not in text]
    assert missing == []
