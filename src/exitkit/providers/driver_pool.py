"""Plumbing shared by the adapters on libcloud's HTTP drivers (S3, Azure Blob Storage)."""

import threading
from collections.abc import Callable
from xml.etree import ElementTree

from libcloud.storage.base import StorageDriver

from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.measure.requests import RequestCounter
from exitkit.providers.contract import Capabilities
from exitkit.providers.failures import RETRYABLE_STATUSES
from exitkit.providers.retry import with_retries

LISTING_RETRIES = 5


class DriverPerThread:
    """One bucket (an Azure container) behind a libcloud driver. libcloud connections keep
    per-request state for signing, so each thread gets its own driver from *make_driver*.

    A subclass supplies ``_request(what, path, method=..., **kwargs)``, which sends one
    request and counts it, and ``_status_error(response, what)``, the exception for a
    failed answer.
    """

    def __init__(self, label: str, bucket: str, make_driver: Callable[[], StorageDriver],
                 capabilities: Capabilities) -> None:
        self.label = label
        self.bucket = bucket
        self.capabilities = capabilities
        self._make_driver = make_driver
        self._local = threading.local()
        self.requests = RequestCounter()

    def _driver(self) -> StorageDriver:
        """This thread's driver, made on first use."""
        driver = getattr(self._local, "driver", None)
        if driver is None:
            driver = self._local.driver = self._make_driver()
        return driver

    def _xml(self, what: str, path: str, params: dict, method: str = "GET", **kwargs):
        """A request whose answer is an XML document; returns the parsed root."""
        response = self._request(what, path, method=method, params=params, **kwargs)
        if response.status >= 300:
            raise self._status_error(response, what)
        try:
            return ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            raise TransientError(f"{what}: the answer is not XML") from None

    def _with_retries(self, call):
        """Retry one request of a listing or a preflight on transient failures."""
        return with_retries(call, LISTING_RETRIES, self.requests.retried)

    def _endpoint_status(self, what: str, send: Callable) -> int:
        """HTTP status of the answer *send* returns, retried while transient: 200 or 404;
        anything else (or retries run out) is an EndpointError about *what*."""

        def probe():
            response = send()
            if response.status in RETRYABLE_STATUSES:
                raise self._status_error(response, what)
            return response

        try:
            response = self._with_retries(probe)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if response.status not in (200, 404):
            raise EndpointError(self.label, str(self._status_error(response, what)))
        return response.status
