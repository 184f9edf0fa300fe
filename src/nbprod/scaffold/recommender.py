"""``nbprod new DIR --template recommender``: a recommender project from the recommender template.

The template (``nbprod/recommender/template``: ``pipeline.yaml``, ``env.yaml``, ``notebooks/``; in a
checkout a symlink to the repository's ``templates/recommender``) is copied as it is, with the
project's tests (the tabular project's own, ``nbprod/scaffold/files/tests``, filled in for a
recommender: see :mod:`nbprod.scaffold.projecttests`), the project's names in ``env.yaml`` (``tracking.experiment``, ``registry.model_name``) and, for a table
of one's own (``--data``), its file and columns in ``data.*``. Without ``--data`` the project
builds on the embedded MovieLens ratings.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

from nbprod import settings
from nbprod.scaffold import render
from nbprod.scaffold.origin import Origin
from nbprod.scaffold.plan import project_name

#: Files and folders of the template copied unchanged.
COPIED = ("pipeline.yaml", "notebooks")
#: The project's tests, from ``nbprod/scaffold/files`` (one set for every kind of project).
TEST_FILES = ("tests/conftest.py", "tests/test_project.py")
#: The files of ``nbprod/scaffold/files`` a recommender project gets with the deployment kit.
SCAFFOLD_FILES = ("Makefile", "pytest.ini", "tests/test_deploy.py")
#: The extras of nbprod a recommender project installs.
EXTRAS = "recommender"
#: Folders the shared Dockerfile copies, which a recommender project may not have otherwise.
IMAGE_FOLDERS = {"data": "The interaction table of the project (none when it builds on MovieLens).\n",
                 "schemas": "A recommender reads its interaction columns from env.yaml's data section: "
                            "no data schema here.\n"}
#: What a generated project's git ignores (its products and stores).
GITIGNORE = ".venv/\n__pycache__/\n.ipynb_checkpoints/\nbuild/\nreports/\nmlartifacts/\nmlflow.db\n*.db\n.nbprod/\n"


def template_folder() -> Path:
    """The installed recommender template, symlinks resolved."""
    return (Path(__file__).resolve().parents[1] / "recommender" / "template").resolve()


def render_env(template: str, name: str, source: str | None, columns: Mapping[str, str | None]) -> str:
    """The template's ``env.yaml`` with the project's names and, when given, its data file and columns."""
    text = render.replace_setting(template, "tracking", "experiment", name)
    text = render.replace_setting(text, "registry", "model_name", f"{name}-model")
    if source is not None:
        text = render.replace_setting(text, "data", "source", source)
        text = render.replace_setting(text, "data", "item_attributes", [])
        for key, value in columns.items():
            text = render.replace_setting(text, "data", key, value)
    return text


def readme(name: str, source: str) -> str:
    """The project's README: what it is and what to run."""
    return (f"# {name}\n\nA recommender project written by `nbprod new --template recommender` on {source}.\n\n"
            "- `nbprod build` runs get, eda, prepare, train, evaluate and the promotion gate;\n"
            "- `env.yaml` holds every setting (data columns, split, candidates, fallback segment, budget);\n"
            "- `reports/` holds the executed notebooks and the gate's evidence (`promotion.html`);\n"
            "- `nbprod serve` answers `POST /recommend`; `nbprod monitor --labels FILE` joins later interactions "
            "to what it showed and retrains through the gate when they drift;\n"
            "- `notebooks/dashboards/` are the model and drift reports (Voila: `nbprod dashboard`);\n"
            "- `make help` lists the Makefile's targets; `Dockerfile`, `deploy/` and `.github/workflows/ci.yml` "
            "are nbprod's deployment kit with this project's names, `binder/` opens it on mybinder.org.\n")


def write_kit(folder: Path, name: str, origin: Origin) -> None:
    """The tabular project's kit, as it is: the deployment files (:func:`nbprod.scaffold.deploykit.write_kit`),
    ``binder/`` and the Makefile, installing nbprod with its recommender extras."""
    from nbprod.scaffold import deploykit, write
    from nbprod.scaffold.template import template_folder as tabular_template

    deploykit.write_kit(folder, tabular_template(), name, origin)
    write.copy_binder(folder, origin, EXTRAS)
    write.copy_scaffold_files(folder, {"NAME": name, "NBPROD": origin.requirement(EXTRAS),
                                       "NBPROD_TEST": origin.requirement(f"test,{EXTRAS}"),
                                       "IMAGE": deploykit.image_name(name)}, SCAFFOLD_FILES)
    for child, text in IMAGE_FOLDERS.items():
        (folder / child).mkdir(exist_ok=True)
        if not any((folder / child).iterdir()):
            (folder / child / "README.md").write_text(text)


def write_tests(folder: Path) -> None:
    """The project's tests: the generated projects' one set, filled in for a recommender."""
    from nbprod.scaffold import projecttests, write

    write.copy_scaffold_files(folder, {"KIND": "recommender", "SAMPLE_FRAC": str(projecttests.RECOMMENDER_SAMPLE_FRAC)},
                              TEST_FILES)


def write_project(folder: Path, data_file: Path | None = None, columns: Mapping[str, str | None] | None = None,
                  force: bool = False, origin: Origin | None = None) -> None:
    """Write a recommender project into ``folder`` (see the module docstring)."""
    from nbprod.scaffold.write import check_folder

    check_folder(folder, force)
    folder.mkdir(parents=True, exist_ok=True)
    template = template_folder()
    for item in COPIED:
        source = template / item
        if source.is_dir():
            shutil.copytree(source, folder / item, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copyfile(source, folder / item)
    source_setting = None
    if data_file is not None:
        (folder / "data").mkdir(exist_ok=True)
        source_setting = f"data/{data_file.name}"
        if data_file.resolve() != (folder / source_setting).resolve():
            shutil.copyfile(data_file, folder / source_setting)
    name = project_name(folder.name)
    env = render_env((template / settings.ENV_FILE).read_text(), name, source_setting, columns or {})
    (folder / settings.ENV_FILE).write_text(env)
    (folder / ".gitignore").write_text(GITIGNORE)
    write_tests(folder)
    (folder / "README.md").write_text(readme(name, source_setting or "the embedded MovieLens ratings"))
    if origin is not None:
        write_kit(folder, name, origin)
