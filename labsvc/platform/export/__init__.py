"""Export a platform's topology to files real platforms run, and validate them offline.

- :func:`kubernetes_manifests` (Deployment, Service, ConfigMap,
  HorizontalPodAutoscaler with probes) checked by :func:`validate_kubernetes`
  with ``kubernetes-validate`` against a current Kubernetes version;
- :func:`cloudfoundry_manifest` (``manifest.yml``) checked by
  :func:`validate_cloudfoundry` against the attributes Cloud Foundry documents
  (a small JSON schema in ``schemas/cloudfoundry-manifest.json``);
- :func:`compose_file` (``docker-compose.yml``) checked by
  :func:`validate_compose` against the Compose Specification's JSON schema
  (``schemas/compose-spec.json``), and :func:`dockerfile` (one image; each
  service runs its own app);
- :func:`write_export` writes them all into a folder.

Inside a container a service must listen on every interface of the
container's own network namespace, so the exported command is uvicorn with
``--host 0.0.0.0``; on this machine labsvc itself only ever listens on
127.0.0.1.
"""

from ._build import (
    CONTAINER_PORT, K8S_VERSION, ExportError, cloudfoundry_manifest, compose_file, dockerfile, kubernetes_manifests,
    topology, validate_cloudfoundry, validate_compose, validate_kubernetes, write_export,
)

__all__ = [
    "CONTAINER_PORT", "K8S_VERSION", "ExportError", "topology", "kubernetes_manifests", "validate_kubernetes",
    "cloudfoundry_manifest", "validate_cloudfoundry", "compose_file", "validate_compose", "dockerfile", "write_export",
]
