"""Export a platform's topology to files real platforms run, and validate them offline.

- :func:`kubernetes_manifests` (Deployment, Service, ConfigMap,
  HorizontalPodAutoscaler with probes, a ``preStop`` drain, volumes for
  data) checked by :func:`validate_kubernetes` with ``kubernetes-validate``
  against a current Kubernetes version;
- :func:`cloudfoundry_manifest` (``manifest.yml``) checked by
  :func:`validate_cloudfoundry` against the attributes Cloud Foundry documents
  (a small JSON schema in ``schemas/cloudfoundry-manifest.json``);
- :func:`compose_file` (``docker-compose.yml``: restart policies, health
  checks, named volumes) checked by :func:`validate_compose` against the
  Compose Specification's JSON schema (``schemas/compose-spec.json``), and
  :func:`dockerfile` (one image; each service runs its own app; any base
  image with Python, and an offline install from a wheelhouse);
- :func:`write_export` writes them all into a folder.

The source is a :class:`~labsvc.platform.Platform` or a topology written out
as a list of dicts (:func:`topology` shows the shape; the capstone's export,
:mod:`labsvc.capstone.export`, is one).

Services call each other as ``http://<name>.svc``; in every target the
export sets ``LABSVC_SERVICE_URL_TEMPLATE`` so that this resolves there
(:data:`SERVICE_URL_TEMPLATES`; see :func:`labsvc.core.service.service_url`).
Inside a container a service must listen on every interface of the
container's own network namespace, so the exported command is uvicorn with
``--host 0.0.0.0``; on this machine labsvc itself only ever listens on
127.0.0.1, and a published port is bound to 127.0.0.1 only.
"""

from labsvc.platform.export._build import (
    K8S_VERSION, PRE_STOP_DRAIN, cloudfoundry_manifest, kubernetes_manifests, validate_cloudfoundry, validate_compose,
    validate_kubernetes, write_export,
)
from labsvc.platform.export._containers import compose_file, dockerfile, requirements
from labsvc.platform.export._topology import (
    CONTAINER_PORT, DATA_DIR, DEFAULTS, SERVICE_URL_TEMPLATES, ExportError, topology,
)

__all__ = [
    "CONTAINER_PORT", "K8S_VERSION", "PRE_STOP_DRAIN", "DATA_DIR", "DEFAULTS", "SERVICE_URL_TEMPLATES", "ExportError",
    "topology", "kubernetes_manifests", "validate_kubernetes", "cloudfoundry_manifest", "validate_cloudfoundry",
    "compose_file", "validate_compose", "dockerfile", "requirements", "write_export",
]
