"""Copy an image between registries over the OCI distribution API, with skopeo.

skopeo is the bulk engine here as rclone is for objects: ``--all`` keeps every platform
of a multi-platform index and ``--preserve-digests`` refuses any conversion that would
change the manifest digest. Registry logins go through a private auth file that is
removed afterwards; they never appear on a command line.
"""

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from exitkit.errors import EndpointError
from exitkit.providers.oci import ImageReference
from exitkit.redaction import scrub

COPY_TIMEOUT_S = 3600


def skopeo() -> str:
    """The skopeo executable, or an error saying how to install it."""
    found = shutil.which("skopeo")
    if not found:
        raise EndpointError("skopeo", "not installed; image copies need it "
                                      "(Debian/Ubuntu: apt-get install skopeo)")
    return found


def copy_image(source: ImageReference, target: ImageReference,
               tls_verify: dict[str, bool], logins: dict[str, tuple[str, str]],
               retries: int) -> None:
    """Copy *source* to *target* with every platform and unchanged digests.

    *tls_verify* and *logins* are keyed by registry host; hosts not named verify TLS
    and are accessed anonymously. Raises EndpointError naming the failing side.
    """
    with tempfile.TemporaryDirectory(prefix="exitkit-auth-") as private:
        authfile = Path(private, "auth.json")
        authfile.touch(mode=0o600)
        authfile.write_text(json.dumps({"auths": {
            host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
            for host, (user, password) in logins.items()}}))
        command = [skopeo(), "copy", "--all", "--preserve-digests",
                   f"--retry-times={retries}", f"--authfile={authfile}",
                   f"--src-tls-verify={str(tls_verify.get(source.registry, True)).lower()}",
                   f"--dest-tls-verify={str(tls_verify.get(target.registry, True)).lower()}",
                   f"docker://{source}", f"docker://{target}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True,
                                    timeout=COPY_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise EndpointError(target.registry, f"image copy of {source} timed out") from None
    if result.returncode != 0:
        problem = scrub(result.stderr.strip().splitlines()[-1] if result.stderr.strip()
                        else f"skopeo exited with {result.returncode}")
        raise EndpointError(f"{source} -> {target}", f"image copy failed: {problem}")
