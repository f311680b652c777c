"""Every pinned version of the local stack, in one place.

Each pin was checked on this kind of machine (see shared/docs/local-stack.md); changing one means
checking it again. Caches are keyed by these strings, so a new pin builds or downloads afresh.
"""

KAFKA = "4.1.1"
LOG4J = "2.24.3"
# Kafka's poms ask for slf4j-api 1.7, which finds no SLF4J 2 provider and logs nothing.
SLF4J = "2.0.16"

# FerretDB is embedded in deploy/local/ferretdb; its go.mod must require this same version.
FERRETDB = "v1.24.2"

# The MinIO server repository is archived; the Go proxy serves its final commit only under this
# pseudo-version (it refuses the RELEASE.* tags).
MINIO_MODULE = "github.com/minio/minio"
MINIO = "v0.0.0-20260212201848-7aac2a2c5b7c"

VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw"
VERSITYGW = "v1.8.0"

# kustomize renders deploy/k8s (tests/deploy); built once from the Go module proxy like the servers.
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE = "v5.8.1"
