"""OCI distribution of registered models: CNCF ModelPack manifests pushed to any OCI
registry with the registry's signed bundle attached as an OCI 1.1 referrer, and pulls
that verify digests and the signature before writing a byte (``docs/oci.md``).

Owns: the ModelPack and referrer manifests (``layout``, pure), the distribution API
through the ORAS client (``client``), push and verified pull (``transfer``). Needs the
``[oci]`` extra (``oras``).
"""

from weightwatch.oci.transfer import Pulled, Pushed, pull, push

__all__ = ["Pulled", "Pushed", "pull", "push"]
