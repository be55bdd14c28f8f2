"""The report templates ship in the wheel: the top-level templates/ folder is the package
trainplan.templates, and every package of src/ is listed in pyproject.toml."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

from trainplan.render import report

ROOT = Path(__file__).parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_src_and_the_templates_are_listed():
    found = set(find_namespace_packages(where=str(ROOT / "src")))
    assert set(SETUPTOOLS["packages"]) == found | {"trainplan.templates"}


def test_every_template_file_is_package_data():
    assert SETUPTOOLS["package-dir"]["trainplan.templates"] == "templates"
    patterns = SETUPTOOLS["package-data"]["trainplan.templates"]
    files = [p.name for p in (ROOT / "templates").iterdir() if p.is_file()]
    assert {"report.html.j2", "index.html.j2", "base.html.j2", "report.css"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_templates_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINPLAN_TEMPLATES", str(tmp_path))
    assert report.templates_dir() == tmp_path
    monkeypatch.delenv("TRAINPLAN_TEMPLATES")
    assert report.templates_dir() == ROOT / "templates"   # a source checkout
    assert (report.TEMPLATES / "report.html.j2").is_file()


@pytest.mark.e2e
def test_wheel_contains_the_templates(tmp_path):
    """Build the wheel from a copy of the project (no build/ left in the checkout); pip
    fetches the build backend named in pyproject.toml."""
    project = tmp_path / "project"
    for name in ("src", "templates"):
        shutil.copytree(ROOT / name, project / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path / "dist"), str(project)], check=True)
    (wheel,) = (tmp_path / "dist").glob("trainplan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in (ROOT / "templates").iterdir():
        assert f"trainplan/templates/{p.name}" in names
    assert "trainplan/render/report/__init__.py" in names
    assert "trainplan/catalog/data/gpus.csv" in names
