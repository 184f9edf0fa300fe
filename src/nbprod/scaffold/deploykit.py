"""A new project's deployment kit: the reference project's own files, with the few names that differ.

The kit is this repository's ``Dockerfile``, ``.dockerignore``, ``requirements.lock``,
``deploy/`` (Kubernetes and monitoring), ``.github/workflows/ci.yml`` and
``scripts/install-promtool.sh``, carried in ``nbprod/project_template`` (symlinks in a checkout,
copies in a wheel). A project differs in a few plain strings, replaced by :data:`EDITS` (no
template language: each replaced text must be in the file, or writing stops with an error):

- the image and namespace names are the project's name (``nbprod`` in the reference);
- the image installs the same nbprod as the project's Makefile, not a checkout's ``src/``: the
  wheel it was installed from (PEP 610 ``direct_url.json``), copied into ``wheels/`` so that
  ``docker build`` reaches it, or else the version from the package index (see
  :func:`image_requirement`); the dependencies are nbprod's own lock (a project adds none);
- the image also copies the project's ``data/``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from nbprod.scaffold.origin import Origin
from nbprod.scaffold.render import RenderError

#: Template file or folder -> where it goes in a new project.
KIT = {
    "Dockerfile": "Dockerfile",
    "dockerignore": ".dockerignore",
    "requirements.lock": "requirements.lock",
    "ci.yml": ".github/workflows/ci.yml",
    "deploy": "deploy",
    "scripts/install-promtool.sh": "scripts/install-promtool.sh",
}
#: The folder of a project's image build that holds the nbprod wheel it installs.
WHEELS = "wheels"
#: The reference Dockerfile's install of nbprod from the checkout.
CHECKOUT_INSTALL = """COPY pyproject.toml README.md LICENSE ./
COPY jupyter-config ./jupyter-config
COPY src ./src
# --no-deps: every dependency came from the lock above; a wheel build, not editable (the
# data-files that switch Ploomber's server extension off are installed only this way)
RUN /opt/venv/bin/pip install --no-deps . \\
"""
#: A project's install of nbprod: ``{requirement}`` is :func:`image_requirement`'s.
PROJECT_INSTALL = """# nbprod itself, the one this project was written with (wheels/README.md says how to change it);
# --no-deps: every dependency came from the lock above
ARG NBPROD={requirement}
COPY wheels ./wheels
RUN /opt/venv/bin/pip install --no-deps "${{NBPROD}}" \\
"""
WHEELS_README = """# nbprod for the image

`docker build` installs nbprod as the Dockerfile's `ARG NBPROD` says: `{requirement}`.
The Makefile installs `{origin}`; {how}
"""
#: :data:`WHEELS_README`'s ``{how}`` when the wheel was copied here, and when it was not.
WHEEL_COPIED = "this folder holds a copy of that wheel, so the image runs the same nbprod.\n"
NO_WHEEL = """that is not a wheel file the image build can reach, so the image installs the
same version, {version}, from the package index. Until nbprod is published there, build a wheel
into this folder and name it: `pip wheel --no-deps -w wheels <nbprod checkout>`, then
`docker build --build-arg NBPROD=wheels/<file>.whl -t {image} .`
"""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` by ``new`` in the kit's file ``path``; ``new`` names values as ``{image}`` or ``{install}``."""

    path: str
    old: str
    new: str


#: What differs between the reference project's kit and a new project's.
EDITS = (
    Edit("Dockerfile", CHECKOUT_INSTALL, "{install}"),
    Edit("Dockerfile", "COPY schemas ./schemas\n", "COPY schemas ./schemas\nCOPY data ./data\n"),
    Edit("Dockerfile", "docker build -t nbprod:latest .", "docker build -t {image}:latest ."),
    Edit(".dockerignore", "the lock, packaging files, src/, the project\n# files (env.yaml, pipeline.yaml, "
         "notebooks/, schemas/) and jupyter-config/.",
         "the lock, nbprod's wheel (wheels/), the\n# project files (env.yaml, pipeline.yaml, notebooks/, "
         "schemas/) and its data (data/)."),
    Edit(".dockerignore", "!pyproject.toml\n!README.md\n!LICENSE\n!jupyter-config/\n!src/\n", "!wheels/\n!data/\n"),
    Edit(".github/workflows/ci.yml", "  IMAGE: nbprod\n", "  IMAGE: {image}\n"),
    Edit("deploy/k8s/overlays/dev/kustomization.yaml", "namespace: nbprod-dev\n", "namespace: {image}-dev\n"),
    Edit("deploy/k8s/overlays/dev/kustomization.yaml", "docker build -t nbprod:dev .",
         "docker build -t {image}:dev ."),
    Edit("deploy/k8s/overlays/dev/kustomization.yaml", "  - name: nbprod\n    newTag: dev\n",
         "  - name: nbprod\n    newName: {image}\n    newTag: dev\n"),
    Edit("deploy/k8s/overlays/prod/kustomization.yaml", "namespace: nbprod\n", "namespace: {image}\n"),
    Edit("deploy/k8s/overlays/prod/kustomization.yaml", "newName: registry.example.com/nbprod\n",
         "newName: registry.example.com/{image}\n"),
    Edit("deploy/k8s/README.md", "# nbprod on Kubernetes\n", "# {image} on Kubernetes (nbprod's deployment kit)\n"),
    Edit("deploy/k8s/README.md", "namespace nbprod-dev, image nbprod:dev,", "namespace {image}-dev, image {image}:dev,"),
    Edit("deploy/k8s/README.md", "namespace nbprod, image registry.example.com/nbprod:0.1.0,",
         "namespace {image}, image registry.example.com/{image}:0.1.0,"),
    Edit("deploy/k8s/README.md", "kubectl -n nbprod create secret", "kubectl -n {image} create secret"),
    Edit("deploy/monitoring/grafana-dashboard.json", '"uid": "nbprod-serve",', '"uid": "{image}-serve",'),
    Edit("deploy/monitoring/grafana-dashboard.json", '"title": "nbprod service",', '"title": "{image} service",'),
)
#: Longest image name kept (a namespace is at most 63 characters, with ``-dev``; a Grafana uid at most 40).
MAX_IMAGE = 30


def image_name(project: str) -> str:
    """The project's image and namespace name: its name (lower case, digits, dashes), at most :data:`MAX_IMAGE`."""
    return project[:MAX_IMAGE].strip("-") or "project"


def local_wheel(origin: Origin) -> Path | None:
    """The wheel file this nbprod was installed from, when it was one on this machine (else None)."""
    if not origin.url or not origin.url.startswith("file:"):
        return None
    path = Path(unquote(urlparse(origin.url).path))
    return path if path.suffix == ".whl" and path.is_file() else None


def image_requirement(origin: Origin) -> str:
    """What the image's ``pip install`` gets: ``wheels/<the wheel>`` or ``nbprod==<version>``."""
    wheel = local_wheel(origin)
    return f"{WHEELS}/{wheel.name}" if wheel else f"nbprod=={origin.version}"


def edit(text: str, path: str, values: dict[str, str]) -> str:
    """``text`` of kit file ``path`` with every :data:`EDITS` entry of that file applied."""
    for change in EDITS:
        if change.path != path:
            continue
        if change.old not in text:
            raise RenderError(f"the deployment kit's {path} no longer holds {change.old.splitlines()[0]!r}: "
                              "update nbprod.scaffold.deploykit.EDITS")
        text = text.replace(change.old, change.new.format(**values))
    return text


def write_kit(folder: Path, template: Path, project: str, origin: Origin) -> None:
    """Write the deployment kit of project ``project`` from ``template`` into ``folder``, and ``wheels/``."""
    requirement = image_requirement(origin)
    values = {"image": image_name(project), "install": PROJECT_INSTALL.format(requirement=requirement)}
    for source_name, target_name in KIT.items():
        source = template / source_name
        files = sorted(path for path in source.rglob("*") if path.is_file()) if source.is_dir() else [source]
        for path in files:
            relative = Path(target_name) / path.relative_to(source) if source.is_dir() else Path(target_name)
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(edit(path.read_text(), relative.as_posix(), values))
            shutil.copymode(path, target)
    wheels = folder / WHEELS
    wheels.mkdir(exist_ok=True)
    wheel = local_wheel(origin)
    if wheel is not None:
        shutil.copyfile(wheel, wheels / wheel.name)
    how = WHEEL_COPIED if wheel is not None else NO_WHEEL.format(version=origin.version, image=values["image"])
    (wheels / "README.md").write_text(WHEELS_README.format(requirement=requirement, origin=origin.requirement(),
                                                           how=how))
