"""Read image manifests from an OCI distribution registry (the ``/v2/`` API).

Digests are computed here from the manifest bytes received, never taken on trust from
the registry's ``Docker-Content-Digest`` header (a disagreement is an error).
Anonymous, basic and bearer-token (``WWW-Authenticate: Bearer``) access are supported.
"""

import hashlib
import json
import re
from dataclasses import dataclass

import requests

from exitkit.errors import EndpointError

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
TIMEOUT_S = 30
_REFERENCE = re.compile(r"^(?P<registry>[^/]+)/(?P<repository>[^:@]+)"
                        r"(?::(?P<tag>[^@]+)|@(?P<digest>sha256:[0-9a-f]{64}))$")
_CHALLENGE_PART = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class ImageReference:
    """``registry/repository:tag`` or ``registry/repository@sha256:...``."""

    registry: str
    repository: str
    reference: str

    @classmethod
    def parse(cls, text: str) -> "ImageReference":
        """Split a fully qualified image reference; raises ValueError otherwise."""
        match = _REFERENCE.match(text)
        if not match:
            raise ValueError(f"not a fully qualified image reference: {text!r}")
        return cls(match["registry"], match["repository"], match["tag"] or match["digest"])

    def moved_to(self, registry: str, namespace: str = "") -> "ImageReference":
        """The same repository and tag on *registry*, under *namespace* if given."""
        repository = f"{namespace}/{self.repository}" if namespace else self.repository
        return ImageReference(registry, repository, self.reference)

    def __str__(self) -> str:
        separator = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.registry}/{self.repository}{separator}{self.reference}"


@dataclass(frozen=True)
class Manifest:
    """What a registry holds for one reference: its digest and what it is made of
    (``layer_bytes``: compressed layers and configs, over all platforms)."""

    digest: str
    media_type: str
    manifest_bytes: int
    layers: int
    layer_bytes: int
    platforms: int


class RegistryClient:
    """Manifest reads from one registry host with its access settings."""

    def __init__(self, host: str, tls_verify: bool = True,
                 login: tuple[str, str] | None = None) -> None:
        self.host = host
        self.base = f"{'https' if tls_verify else 'http'}://{host}"
        self.login = login
        self.session = requests.Session()

    def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest behind *reference*, summed over every platform of an index."""
        body, media_type = self._get_manifest(repository, reference)
        if media_type in INDEX_TYPES:
            children = [self._get_manifest(repository, child["digest"])
                        for child in _json(body, self.host)["manifests"]]
            summaries = [_layers(_json(child_body, self.host)) for child_body, _ in children]
            return Manifest(_digest(body), media_type, len(body),
                            sum(count for count, _ in summaries),
                            sum(size for _, size in summaries), len(children))
        layers, size = _layers(_json(body, self.host))
        return Manifest(_digest(body), media_type, len(body), layers, size, 1)

    def _get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        url = f"{self.base}/v2/{repository}/manifests/{reference}"
        response = self._request(url, f"repository:{repository}:pull")
        if response.status_code == 404:
            raise EndpointError(self.host, f"no image {repository}:{reference}")
        if response.status_code != 200:
            raise EndpointError(self.host, f"manifest {repository}:{reference} answered "
                                           f"HTTP {response.status_code}")
        body = response.content
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed != _digest(body):
            raise EndpointError(self.host, f"manifest {repository}:{reference}: the registry "
                                           f"claims {claimed} but the bytes hash to {_digest(body)}")
        return body, response.headers.get("Content-Type", "").split(";")[0]

    def _request(self, url: str, scope: str) -> requests.Response:
        headers = {"Accept": MANIFEST_TYPES}
        try:
            response = self.session.get(url, headers=headers, auth=self.login, timeout=TIMEOUT_S)
            challenge = response.headers.get("WWW-Authenticate", "")
            if response.status_code == 401 and challenge.lower().startswith("bearer"):
                headers["Authorization"] = f"Bearer {self._token(challenge, scope)}"
                response = self.session.get(url, headers=headers, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise EndpointError(self.host, f"registry unreachable ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise EndpointError(self.host, f"registry refused access (HTTP {response.status_code})")
        return response

    def _token(self, challenge: str, scope: str) -> str:
        """Fetch a bearer token from the realm the registry names (token auth spec)."""
        parts = dict(_CHALLENGE_PART.findall(challenge))
        params = {"service": parts.get("service", ""), "scope": parts.get("scope", scope)}
        response = self.session.get(parts["realm"], params=params, auth=self.login,
                                    timeout=TIMEOUT_S)
        if response.status_code != 200:
            raise EndpointError(self.host, f"token service refused access "
                                           f"(HTTP {response.status_code})")
        answer = response.json()
        return answer.get("token") or answer["access_token"]


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _json(body: bytes, host: str) -> dict:
    try:
        return json.loads(body)
    except ValueError:
        raise EndpointError(host, "a manifest is not JSON") from None


def _layers(manifest: dict) -> tuple[int, int]:
    layers = manifest.get("layers", [])
    config = manifest.get("config", {})
    return len(layers), sum(layer.get("size", 0) for layer in layers) + config.get("size", 0)
