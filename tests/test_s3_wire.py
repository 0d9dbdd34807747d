"""exitkit's own SigV4 signer and the S3 transport's request and answer path.

The signer is pinned to botocore's ``S3SigV4Auth`` (an independent implementation) over
generated requests, and to SeaweedFS, which checks every signature: metadata with runs of
spaces and tabs, as exports write it, was refused with 403 under libcloud's signer.
Chunked answers come from ``rclone serve s3`` (Go's server sends a long listing chunked,
as AWS does); neither moto nor SeaweedFS sends one. HTTP dates, read directly in the form
servers send, must agree with the ``email`` package in every form.
"""

import hashlib
import time
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exitkit.embedded.servers import LoopbackServer, find_executable
from exitkit.providers.boto import s3_client
from exitkit.providers.http_answers import http_date, local_name
from exitkit.providers.s3_transport import S3Transport
from exitkit.providers.sigv4 import EMPTY_SHA256, SigV4Signer, canonical_query, payload_hash

ACCESS_KEY, SECRET_KEY = "AKIAEXITKITTEST00001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXITKIT0001"
STAMP = "20261203T101112Z"
NOW = time.mktime(time.strptime(STAMP, "%Y%m%dT%H%M%SZ")) - time.timezone

# Header values as tools write them: words, runs of spaces and tabs inside, punctuation.
_words = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
                 max_size=12)
_gaps = st.sampled_from([" ", "  ", "\t", " \t ", "   "])
header_values = st.builds(lambda first, rest: first + "".join(g + w for g, w in rest),
                          _words, st.lists(st.tuples(_gaps, _words), max_size=4))
metadata = st.dictionaries(st.from_regex(r"x-amz-meta-[a-z0-9][a-z0-9-]{0,15}", fullmatch=True),
                           header_values, max_size=5)
key_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
params = st.dictionaries(st.sampled_from(["versionId", "uploadId", "partNumber", "prefix",
                                          "marker", "list-type", "max-keys", "tagging",
                                          "retention", "legal-hold", "uploads"]),
                         st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                                 max_size=20), max_size=4)


def botocore_signature(method: str, path: str, query: str, headers: dict[str, str],
                       body: bytes) -> tuple[str, str]:
    """SignedHeaders and Signature that botocore's S3 signer gives the same request."""
    url = f"http://{headers['Host']}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url,
                         headers={k: v for k, v in headers.items() if k != "Host"}, data=body)
    request.context["timestamp"] = STAMP
    auth = S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "eu-central-1")
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    return auth.signed_headers(auth.headers_to_sign(request)), signature


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]), key=key_text,
       meta=metadata, query_params=params, body=st.binary(max_size=64))
def test_the_signer_signs_as_botocore_does(method, key, meta, query_params, body):
    body = body if method in ("PUT", "POST") and body else b""
    path = "/estate-bucket/" + quote(key, safe="/~")
    query = canonical_query(query_params)
    headers = {"Host": "127.0.0.1:9000", "Content-Type": "application/octet-stream", **meta}
    SigV4Signer(ACCESS_KEY, SECRET_KEY, "eu-central-1").sign(
        method, path, query, headers, payload_hash(method, body or None), now=NOW)
    if not body and method in ("PUT", "POST"):  # libcloud's convention, kept
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        return
    assert headers["x-amz-content-sha256"] == (hashlib.sha256(body).hexdigest() if body
                                               else EMPTY_SHA256)
    signed, signature = botocore_signature(method, path, query, headers, body)
    credential, signed_part, signature_part = headers["Authorization"].split(", ")
    assert credential == (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261203/eu-central-1/"
                          f"s3/aws4_request")
    assert signed_part == f"SignedHeaders={signed}"
    assert signature_part == f"Signature={signature}"


def test_the_signer_keeps_its_secret_out_of_its_repr():
    signer = SigV4Signer(ACCESS_KEY, SECRET_KEY, "eu-central-1")
    assert SECRET_KEY not in repr(signer) and ACCESS_KEY not in repr(signer)


def _transport(server, connections: int = 2) -> S3Transport:
    url = urlsplit(server.endpoint)
    return S3Transport(SigV4Signer(server.access_key, server.secret_key, "us-east-1"), False,
                       url.hostname, url.port, connections, 30)


@pytest.mark.parametrize("value", ["scanned  by OCR", "J. de\tVries", "a \t b   c",
                                   "Q3 report  (final)\t\tv2"])
def test_metadata_with_runs_of_whitespace_is_accepted_and_stored(seaweed, value):
    """SeaweedFS checks the signature as SigV4 defines it (runs of whitespace as one)."""
    client = s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)
    bucket = f"ws-{hashlib.sha256(value.encode()).hexdigest()[:10]}"
    client.create_bucket(Bucket=bucket)
    answer = _transport(seaweed).send("PUT", f"/{bucket}/notes.txt", None,
                                      {"x-amz-meta-note": value, "Content-Type": "text/plain"},
                                      b"hello")
    assert answer.status == 200, answer.body
    stored = client.head_object(Bucket=bucket, Key="notes.txt")
    assert stored["Metadata"] == {"note": value}
    assert client.get_object(Bucket=bucket, Key="notes.txt")["Body"].read() == b"hello"


@pytest.mark.parametrize("headers", [{"x-amz-meta-a": "v\r\nX-Injected: 1"},
                                     {"x-amz-meta-a": "v\nX-Injected: 1"},
                                     {"x-amz-meta-a": "v\x00"},
                                     {"x-amz-meta-a b": "v"}, {"x-amz-meta-a:b": "v"}])
def test_a_header_that_would_split_the_request_is_refused_before_sending(seaweed, headers):
    transport = _transport(seaweed)
    with pytest.raises(ValueError):
        transport.send("PUT", "/anything/k", None, headers, b"x")
    assert not transport._connections.idle  # nothing was opened, nothing was sent


class RcloneS3Server(LoopbackServer):
    """``rclone serve s3`` of a local directory, one key pair."""

    name = "rclone-s3"
    access_key, secret_key = ACCESS_KEY, SECRET_KEY

    def __init__(self) -> None:
        super().__init__()
        self.root = self.workdir / "root"
        self.root.mkdir()

    def command(self) -> list[str]:
        """Serve :attr:`root` as S3 on loopback."""
        return [find_executable("rclone"), "serve", "s3", str(self.root), "--addr",
                f"127.0.0.1:{self.port}", "--auth-key", f"{self.access_key},{self.secret_key}",
                "--config", ""]


@pytest.fixture(scope="module")
def rclone_s3():
    with RcloneS3Server() as server:
        yield server


def test_chunked_answers_are_read_whole_and_the_connection_is_kept(rclone_s3):
    bucket = rclone_s3.root / "estate"
    bucket.mkdir()
    files = {f"finance/ledger/2026/entry {n:04d} – Übersicht.json": f'{{"entry": {n}}}\n'.encode()
             * (1 + n % 7) for n in range(400)}
    for name, body in files.items():
        (bucket / name).parent.mkdir(parents=True, exist_ok=True)
        (bucket / name).write_bytes(body)
    transport = _transport(rclone_s3, connections=1)
    listing = transport.send("GET", "/estate", {"list-type": "2", "max-keys": "1000"})
    assert listing.status == 200
    assert listing.headers.get("transfer-encoding") == "chunked"
    root = ElementTree.fromstring(listing.body)
    listed = {child.text: int(size.text) for item in root if local_name(item.tag) == "Contents"
              for child in item if local_name(child.tag) == "Key"
              for size in item if local_name(size.tag) == "Size"}
    assert listed == {name: len(body) for name, body in files.items()}
    link = transport._connections.idle[0]
    socket_before = link.sock
    name = sorted(files)[17]
    answer = transport.send("GET", "/estate/" + quote(name, safe="/"), stream=True)
    assert b"".join(answer.stream(7)) == files[name]
    answer.close()
    assert list(transport._connections.idle) == [link] and link.sock is socket_before



@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31),
                           timezones=st.just(timezone.utc)).map(lambda d: d.replace(microsecond=0)),
       form=st.sampled_from(["imf", "rfc850", "asctime", "offset"]))
def test_http_dates_read_directly_agree_with_the_email_package(moment, form):
    """IMF-fixdate is read without the ``email`` package; every form still agrees."""
    text = {"imf": format_datetime(moment, usegmt=True),
            "rfc850": moment.strftime("%A, %d-%b-%y %H:%M:%S GMT"),
            "asctime": moment.strftime("%a %b %d %H:%M:%S %Y"),
            "offset": format_datetime(moment)}[form]
    try:
        expected = parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError):
        expected = text
    assert http_date(text) == expected
    if form == "imf":
        assert http_date(text) == moment.isoformat()


@pytest.mark.parametrize("text", ["Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
                                  "Sun, 06 Nov 1994 25:49:37 GMT", "not a date", "Sun, 06 Nov"])
def test_odd_http_dates_are_read_as_the_email_package_reads_them(text):
    try:
        expected = parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError):
        expected = text
    assert http_date(text) == expected
