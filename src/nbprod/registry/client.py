"""A thin wrapper over the MLflow Model Registry, so the rest of nbprod does not call MLflow directly.

Only the operations nbprod needs: register, look up versions and aliases, move
an alias, tag a version, load or download a version. MLflow is imported inside
the methods. The store is ``tracking_uri`` when given (a reader names the
project's store: :meth:`nbprod.project.Project.tracking_uri`), else MLflow's current
one (set with :func:`nbprod.tracking.configure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nbprod.tracking.tags import ARTIFACT_DIGEST, MODEL_URI

#: Longest tag value written (MLflow stores at most 5000 characters in older stores).
MAX_TAG_CHARS = 5000


class RegistryError(Exception):
    """A registry operation failed in a way the user can act on."""


class VersionNotFound(RegistryError):
    """The registered model or version does not exist."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version."""

    version: str
    source: str
    run_id: str | None
    created_ms: int | None
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def _is_missing(error: Exception) -> bool:
    return getattr(error, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def _tag_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TAG_CHARS else text[: MAX_TAG_CHARS - 3] + "..."


class Registry:
    """The versions of one registered model."""

    def __init__(self, name: str, tracking_uri: str | None = None) -> None:
        from mlflow import MlflowClient

        from nbprod.tracking import client_for

        self.name = name
        self.tracking_uri = tracking_uri
        self.client = MlflowClient() if tracking_uri is None else client_for(tracking_uri)

    # -- lookup -------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the registered model exists."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException as error:
            if _is_missing(error):
                return False
            raise
        return True

    def aliases(self) -> dict[str, str]:
        """Alias -> version of the registered model ({} when it does not exist)."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as error:
            if _is_missing(error):
                return {}
            raise
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def alias_version(self, alias: str) -> str | None:
        """The version the alias points to, or None."""
        return self.aliases().get(alias)

    def _info(self, version: Any, aliases: Mapping[str, str]) -> VersionInfo:
        number = str(version.version)
        return VersionInfo(
            version=number,
            source=version.source,
            run_id=version.run_id or None,
            created_ms=version.creation_timestamp,
            aliases=tuple(sorted(alias for alias, v in aliases.items() if v == number)),
            tags=dict(version.tags or {}),
        )

    def versions(self, run_id: str | None = None) -> list[VersionInfo]:
        """Every version (optionally of one run), oldest first, with aliases and tags."""
        query = f"name = '{self.name}'" + (f" and run_id = '{run_id}'" if run_id else "")
        found, token = [], None
        while True:
            page = self.client.search_model_versions(query, page_token=token)
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                break
        aliases = self.aliases()
        return sorted((self._info(v, aliases) for v in found), key=lambda info: int(info.version))

    def version(self, version: str | int) -> VersionInfo:
        """One version; :class:`VersionNotFound` names the versions that do exist."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_model_version(self.name, str(version))
        except MlflowException as error:
            if not _is_missing(error):
                raise
            if not self.exists():
                raise VersionNotFound(f"registered model {self.name!r} does not exist") from None
            known = ", ".join(info.version for info in self.versions()) or "none"
            raise VersionNotFound(
                f"registered model {self.name!r} has no version {version} (versions: {known})"
            ) from None
        return self._info(found, self.aliases())

    # -- changes ------------------------------------------------------------
    def register(self, model_uri: str, run_id: str | None, tags: Mapping[str, Any]) -> str:
        """Register ``model_uri`` (reusing the version already registered from it); return the version."""
        import mlflow

        from nbprod.registry.digest import record_digest

        if run_id and self.exists():
            for info in self.versions(run_id=run_id):
                if info.source == model_uri or info.tags.get(MODEL_URI) == model_uri:
                    self.set_tags(info.version, tags)
                    if ARTIFACT_DIGEST not in info.tags:
                        record_digest(self.client, self.name, info.version)
                    return info.version
        version = mlflow.register_model(model_uri, self.name,
                                        tags={k: _tag_value(v) for k, v in tags.items()})
        record_digest(self.client, self.name, version.version)  # checked before every load (registry.digest)
        return str(version.version)

    def set_alias(self, alias: str, version: str | int) -> None:
        """Point ``alias`` at ``version``."""
        self.client.set_registered_model_alias(self.name, alias, str(version))

    def set_tags(self, version: str | int, tags: Mapping[str, Any]) -> None:
        """Set tags on a version (values turned to strings, long ones truncated)."""
        for key, value in tags.items():
            if value is not None:
                self.client.set_model_version_tag(self.name, str(version), key, _tag_value(value))

    # -- artifacts ----------------------------------------------------------
    def _point(self) -> None:
        """``models:/`` URIs resolve through MLflow's global URIs: point them at this registry's store."""
        if self.tracking_uri is not None:
            from nbprod.tracking import point_at

            point_at(self.tracking_uri)

    def uri(self, version: str | int) -> str:
        """The ``models:/`` URI of a version."""
        return f"models:/{self.name}/{version}"

    def load(self, version: str | int) -> Any:
        """Load a version as a scikit-learn model, from files checked against the digest recorded at registration
        (:class:`~nbprod.registry.digest.ArtifactRefused` when they changed)."""
        from nbprod.registry.digest import load_verified

        self._point()
        return load_verified(self.client, self.name, version)

    def download(self, version: str | int, destination: Path) -> Path:
        """Download a version's model folder into ``destination``; return the local folder."""
        import mlflow.artifacts

        self._point()
        Path(destination).mkdir(parents=True, exist_ok=True)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=self.uri(version),
                                                        dst_path=str(destination)))
