"""Model artifacts are checked before they are loaded: a digest recorded at registration.

Loading a scikit-learn model runs code from its files (pickle, or the types a skops file
is trusted to build, listed in its own ``MLmodel``). Whoever can write the artifact store
could otherwise have the service, the monitor or the dashboards run theirs. So the gate
records, on the registered version, a digest of every file of its model folder
(:data:`~nbprod.tracking.tags.ARTIFACT_DIGEST`), and each loader downloads the folder,
checks it against that digest and loads the checked copy -- or refuses::

    model = load_verified(client, "nbprod-model", "3")   # ArtifactRefused when the files changed

Each candidate's run carries the same tag (recorded when training logs the model), so the
dashboards check the challengers they load too (:func:`load_run_model`). A model logged or
registered without the tag (before nbprod recorded digests, or by hand) loads unchecked, with
a warning.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any

from nbprod.tracking.tags import ARTIFACT_DIGEST

log = logging.getLogger(__name__)
PREFIX = "sha256:"


class ArtifactRefused(RuntimeError):
    """A model version's files do not match the digest recorded when it was registered."""


#: Files MLflow itself adds to a model folder after it was logged: ``registered_model_meta`` (the registered
#: name and version, written when a version is created from the folder; never loaded as code). A digest
#: recorded when the model was logged must still hold once it is registered.
ADDED_BY_REGISTRY = frozenset({"registered_model_meta"})


def folder_digest(folder: Path) -> str:
    """``sha256:<hex>`` over the relative path and content of every file under ``folder``, in path order
    (less :data:`ADDED_BY_REGISTRY` at the top of the folder)."""
    total = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*")
                       if p.is_file() and p.relative_to(folder).as_posix() not in ADDED_BY_REGISTRY):
        content = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                content.update(block)
        total.update(f"{path.relative_to(folder).as_posix()}\0{content.hexdigest()}\n".encode())
    return PREFIX + total.hexdigest()


def download(artifact_uri: str, destination: Path, tracking_uri: str | None = None) -> Path:
    """Download the model folder at ``artifact_uri`` into ``destination``; return it."""
    from mlflow.artifacts import download_artifacts

    return Path(download_artifacts(artifact_uri=artifact_uri, dst_path=str(destination), tracking_uri=tracking_uri))


def uri_digest(artifact_uri: str, tracking_uri: str | None = None) -> str:
    """The digest of the model folder at ``artifact_uri`` (downloaded to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="nbprod-digest-") as folder:
        return folder_digest(download(artifact_uri, Path(folder), tracking_uri))


def record_digest(client: Any, name: str, version: str | int) -> str:
    """Compute the digest of a registered version's model folder and tag the version with it; return it."""
    digest = uri_digest(client.get_model_version_download_uri(name, str(version)), client.tracking_uri)
    client.set_model_version_tag(name, str(version), ARTIFACT_DIGEST, digest)
    return digest


def tag_logged_model(model_id: str) -> str:
    """Tag the active run with the digest of the model it has just logged (``model_id``); return it. Whatever
    loads the run's model later checks its files against it (:func:`load_run_model`)."""
    import mlflow

    from nbprod.tracking.tags import ARTIFACT_DIGEST

    client = mlflow.MlflowClient()
    digest = uri_digest(logged_model_location(client, model_id), client.tracking_uri)
    mlflow.set_tag(ARTIFACT_DIGEST, digest)
    return digest


def check(folder: Path, recorded: str | None, what: str) -> None:
    """Raise :class:`ArtifactRefused` unless ``folder`` matches ``recorded`` (None: warn, not checked).

    ``what`` names the model in the message (``model 'm' version 3``).
    """
    if recorded is None:
        log.warning("%s has no %s tag: loaded unchecked", what, ARTIFACT_DIGEST)
        return
    if folder_digest(folder) != recorded:
        raise ArtifactRefused(f"{what} refused: its files do not match the digest recorded when it was logged "
                              f"({ARTIFACT_DIGEST}); changed or corrupted, not loaded")


def load_checked(artifact_uri: str, recorded: str | None, what: str, tracking_uri: str | None = None) -> Any:
    """Load the scikit-learn model at ``artifact_uri`` from a copy checked against ``recorded``."""
    import mlflow.sklearn

    with tempfile.TemporaryDirectory(prefix="nbprod-model-") as destination:
        folder = download(artifact_uri, Path(destination), tracking_uri)
        check(folder, recorded, what)
        return mlflow.sklearn.load_model(str(folder))


def load_verified(client: Any, name: str, version: str | int, tags: dict[str, str] | None = None) -> Any:
    """Load a registered version as a scikit-learn model from a copy checked against its recorded digest.

    ``tags``: the version's tags when the caller has them already.
    """
    if tags is None:
        tags = client.get_model_version(name, str(version)).tags or {}
    return load_checked(client.get_model_version_download_uri(name, str(version)), tags.get(ARTIFACT_DIGEST),
                        f"model {name!r} version {version}", client.tracking_uri)


def logged_model_location(client: Any, model_id: str) -> str:
    """Where the files of a logged model (``models:/<model_id>``) are: their artifact URI in the store."""
    return client.get_logged_model(model_id).artifact_location


def run_model_location(client: Any, run_id: str, name: str) -> str:
    """The artifact URI of the model a run logged as ``name`` (``runs:/<run_id>/<name>`` resolved in this store)."""
    run = client.get_run(run_id)
    for output in getattr(run.outputs, "model_outputs", None) or []:
        model = client.get_logged_model(output.model_id)
        if model.name == name:
            return model.artifact_location
    return f"runs:/{run_id}/{name}"


def load_run_model(client: Any, run_id: str, artifact_path: str = "model") -> Any:
    """Load a candidate's model (``runs:/<run_id>/<artifact_path>``), checked against its run's digest tag."""
    recorded = client.get_run(run_id).data.tags.get(ARTIFACT_DIGEST)
    return load_checked(run_model_location(client, run_id, artifact_path), recorded, f"the model of run {run_id}",
                        client.tracking_uri)
