"""Writing a new project to disk: the template's files, the generated ones, the data."""

from __future__ import annotations

import shutil
from pathlib import Path

from nbprod import settings
from nbprod.scaffold import deploykit, render
from nbprod.scaffold.origin import Origin
from nbprod.scaffold.plan import Plan
from nbprod.scaffold.template import COPIED, scaffold_files, template_folder

#: A file or folder of ``nbprod/scaffold/files`` named ``dot-x`` is written as ``.x``.
DOT = "dot-"
#: The sample builds of a project's tests read about this many rows.
TEST_ROWS = 2000
#: The line of the template's ``binder/postBuild`` that installs nbprod (the checkout, editable).
POSTBUILD_INSTALL = "pip install --no-cache-dir -e ."


class ScaffoldError(ValueError):
    """The project cannot be written where asked."""


def positive_class_setting() -> bool:
    """Whether this nbprod's settings have ``data.positive_class``."""
    return render.POSITIVE_CLASS in settings.SCHEMA["data"]


def sample_fraction(rows: int) -> float:
    """``sample_frac`` of the project's test build: about :data:`TEST_ROWS` rows, at most all."""
    return 1.0 if rows <= TEST_ROWS else round(TEST_ROWS / rows, 4)


def placeholders(plan: Plan, origin: Origin) -> dict[str, str]:
    """The values of the ``@@KEY@@`` placeholders of the scaffold's files."""
    return {
        "KIND": "tabular",
        "NAME": plan.name,
        "NBPROD": origin.requirement(),
        "NBPROD_TEST": origin.requirement("test"),
        "VERSION": origin.version,
        "IMAGE": deploykit.image_name(plan.name),
        "SAMPLE_FRAC": str(sample_fraction(plan.rows)),
        "SOURCE": plan.source,
        "TARGET": plan.target.name,
        "SCHEMA": plan.schema_file,
        "SUMMARY": render.bullet_lines(render.summary(plan)),
    }


def check_folder(folder: Path, force: bool) -> None:
    """Refuse a folder that exists, unless ``force``."""
    if folder.exists() and not force:
        raise ScaffoldError(f"{folder} already exists; nbprod new writes a new folder (--force writes into it)")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} exists and is not a folder")


def copy_template(folder: Path, origin: Origin) -> None:
    """The template's files as they are, and ``binder/`` installing this nbprod instead of a checkout."""
    template = template_folder()
    for name in COPIED:
        source = template / name
        if source.is_dir():
            shutil.copytree(source, folder / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copyfile(source, folder / name)
    copy_binder(folder, origin)


def copy_binder(folder: Path, origin: Origin, extras: str = "") -> None:
    """The template's ``binder/``, installing this nbprod (with ``extras``) instead of a checkout."""
    shutil.copytree(template_folder() / "binder", folder / "binder", dirs_exist_ok=True)
    post_build = folder / "binder" / "postBuild"
    text = post_build.read_text()
    if POSTBUILD_INSTALL not in text:
        raise render.RenderError(f"binder/postBuild of the template has no line {POSTBUILD_INSTALL!r}")
    post_build.write_text(text.replace(POSTBUILD_INSTALL, f'pip install --no-cache-dir "{origin.requirement(extras)}"'))


def copy_scaffold_files(folder: Path, values: dict[str, str], only: tuple[str, ...] | None = None) -> None:
    """The files only a generated project has (those named in ``only``, paths in ``nbprod/scaffold/files``;
    None: all), with their placeholders filled in."""
    root = scaffold_files()
    for source in sorted(root.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        if only is not None and source.relative_to(root).as_posix() not in only:
            continue
        relative = Path(*(part.replace(DOT, ".", 1) if part.startswith(DOT) else part
                          for part in source.relative_to(root).parts))
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render.fill(source.read_text(), values))


def write_project(folder: Path, plan: Plan, data_file: Path, origin: Origin, force: bool = False) -> None:
    """Write the project of ``plan`` into ``folder`` (see :mod:`nbprod.scaffold`)."""
    check_folder(folder, force)
    folder.mkdir(parents=True, exist_ok=True)
    copy_template(folder, origin)
    (folder / "data").mkdir(exist_ok=True)
    if data_file.resolve() != (folder / plan.source).resolve():
        shutil.copyfile(data_file, folder / plan.source)
    env_template = (template_folder() / settings.ENV_FILE).read_text()
    (folder / settings.ENV_FILE).write_text(render.render_env(env_template, plan, positive_class_setting()))
    (folder / plan.schema_file).parent.mkdir(exist_ok=True)
    (folder / plan.schema_file).write_text(render.render_schema(plan))
    deploykit.write_kit(folder, template_folder(), plan.name, origin)
    copy_scaffold_files(folder, placeholders(plan, origin))
