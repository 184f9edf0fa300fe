"""Model artifacts are checked before they are loaded: a digest recorded at registration.

Loading a scikit-learn model runs code from its files (pickle, or the types a skops file
is trusted to build, listed in its own ``MLmodel``). Whoever can write the artifact store
could otherwise have the service, the monitor or the dashboards run theirs. So the gate
records, on the registered version, a digest of every file of its model folder
(:data:`~nbprod.tracking.tags.ARTIFACT_DIGEST`), and each loader downloads the folder,
checks it against that digest and loads the checked copy -- or refuses::

    model = load_verified(client, "nbprod-model", "3")   # ArtifactRefused when the files changed

A version registered without the tag (before nbprod recorded digests, or by hand) loads
unchecked, with a warning.
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


def folder_digest(folder: Path) -> str:
    """``sha256:<hex>`` over the relative path and content of every file under ``folder``, in path order."""
    total = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        content = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                content.update(block)
        total.update(f"{path.relative_to(folder).as_posix()}\0{content.hexdigest()}\n".encode())
    return PREFIX + total.hexdigest()


def download(client: Any, name: str, version: str | int, destination: Path) -> Path:
    """Download the model folder of a registered version into ``destination``; return it."""
    from mlflow.artifacts import download_artifacts

    source = client.get_model_version_download_uri(name, str(version))
    return Path(download_artifacts(artifact_uri=source, dst_path=str(destination),
                                   tracking_uri=client.tracking_uri))


def record_digest(client: Any, name: str, version: str | int) -> str:
    """Compute the digest of a registered version's model folder and tag the version with it; return it."""
    with tempfile.TemporaryDirectory(prefix="nbprod-digest-") as folder:
        digest = folder_digest(download(client, name, version, Path(folder)))
    client.set_model_version_tag(name, str(version), ARTIFACT_DIGEST, digest)
    return digest


def check(folder: Path, recorded: str | None, name: str, version: str | int) -> None:
    """Raise :class:`ArtifactRefused` unless ``folder`` matches ``recorded`` (None: warn, not checked)."""
    if recorded is None:
        log.warning("model %s version %s has no %s tag: loaded unchecked", name, version, ARTIFACT_DIGEST)
        return
    if folder_digest(folder) != recorded:
        raise ArtifactRefused(f"model {name!r} version {version} refused: its files do not match the digest "
                              f"recorded at registration ({ARTIFACT_DIGEST}); changed or corrupted, not loaded")


def load_verified(client: Any, name: str, version: str | int, tags: dict[str, str] | None = None) -> Any:
    """Load a registered version as a scikit-learn model from a copy checked against its recorded digest.

    ``tags``: the version's tags when the caller has them already.
    """
    import mlflow.sklearn

    if tags is None:
        tags = client.get_model_version(name, str(version)).tags or {}
    with tempfile.TemporaryDirectory(prefix="nbprod-model-") as destination:
        folder = download(client, name, version, Path(destination))
        check(folder, tags.get(ARTIFACT_DIGEST), name, version)
        return mlflow.sklearn.load_model(str(folder))
