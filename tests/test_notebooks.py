"""Every notebook under notebooks/ is executed, top to bottom; any cell error fails the test."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"


def test_notebooks_exist():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


def test_build_your_own_model_cell_is_the_readme_example():
    """The README's "Build your own model" example runs the notebook's model cell, verbatim."""
    root = Path(__file__).resolve().parent.parent
    notebook = nbformat.read(root / "notebooks" / "build_your_own.ipynb", as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and "class TinyRepresentation" in c.source]
    assert len(cells) == 1, "build_your_own.ipynb: expected one model cell (class TinyRepresentation)"
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "```python\n" + cells[0].strip() + "\n" in readme, (
        "README.md's 'Build your own model' example is not the notebook's model cell"
    )
