"""S3 errors that mean "not readable as it is" get their own class and a remedy; the
credentials are blamed only where they are the cause. The inputs are S3 error documents
and headers as AWS documents them
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); the adapter's
parsing of real answers is exercised against moto in test_real_buckets."""

from xml.etree import ElementTree

import pytest

from exitkit.errors import PermanentError, UnreadableError
from exitkit.providers.failures import error_for_status, requester_pays_error
from exitkit.providers.http_answers import child_text
from exitkit.providers.s3 import restore_status_of

# (status, error document, expected class, words the remedy must name)
DOCUMENTS = [
    (403, "<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the "
          "object's storage class</Message><StorageClass>DEEP_ARCHIVE</StorageClass></Error>",
     "archived", ("DEEP_ARCHIVE", "needs a restore", "bulk up to 48 h")),
    (403, "<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the "
          "object's storage class</Message><StorageClass>GLACIER</StorageClass>"
          "<AccessTier>ARCHIVE_ACCESS</AccessTier></Error>",
     "archived", ("GLACIER", "restore: {tier:", "expedited up to 5 min")),
    (403, "<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the "
          "object's access tier</Message><StorageClass>INTELLIGENT_TIERING</StorageClass>"
          "</Error>", "archived", ("INTELLIGENT_TIERING", "archive access tier", "restore it")),
    (400, "<Error><Code>InvalidRequest</Code><Message>The object was stored using a form of "
          "Server Side Encryption. The correct parameters must be provided to retrieve the "
          "object.</Message></Error>", "sse_c_key_required", ("SSE-C", "key")),
    (403, "<Error><Code>KMS.AccessDeniedException</Code><Message>User: arn:aws:iam::1:user/x "
          "is not authorized to perform: kms:Decrypt</Message></Error>",
     "kms_access_denied", ("kms:Decrypt",)),
    (403, "<Error><Code>AccessDenied</Code><Message>The ciphertext refers to a customer master "
          "key that does not exist, does not exist in this region, or you are not allowed to "
          "access. (KMS key)</Message></Error>", "kms_access_denied", ("kms:Decrypt",)),
    (400, "<Error><Code>KMS.DisabledException</Code><Message>arn:aws:kms:... is disabled."
          "</Message></Error>", "kms_access_denied", ("KMS",)),
]


def _diagnose(status: int, document: str) -> Exception:
    root = ElementTree.fromstring(document)
    return error_for_status(status, "GET k", None, child_text(root, "Code"),
                            child_text(root, "Message"), child_text(root, "StorageClass"))


@pytest.mark.parametrize(("status", "document", "kind", "words"), DOCUMENTS)
def test_unreadable_objects_get_their_class_and_remedy(status, document, kind, words):
    error = _diagnose(status, document)
    assert isinstance(error, UnreadableError) and error.kind == kind
    assert "credentials" not in str(error) and str(error).startswith("GET k: ")
    for word in words:
        assert word in str(error), (word, str(error))


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"])
def test_credential_errors_say_check_the_credentials(code):
    error = _diagnose(403, f"<Error><Code>{code}</Code><Message>m</Message></Error>")
    assert type(error) is PermanentError and "check the credentials" in str(error)


def test_other_refusals_do_not_blame_the_credentials():
    denied = _diagnose(403, "<Error><Code>AccessDenied</Code><Message>Access Denied"
                            "</Message></Error>")
    assert type(denied) is PermanentError and "permission" in str(denied)
    assert "check the credentials" not in str(denied)
    head = error_for_status(403, "HEAD k")  # a HEAD has no body to say why
    assert type(head) is PermanentError and "credentials" not in str(head)
    assert requester_pays_error("GET k").kind == "requester_pays"
    assert "Requester Pays" in str(requester_pays_error("GET k"))


@pytest.mark.parametrize(("header", "state"), [
    (None, "none"),
    ('ongoing-request="true"', "ongoing"),
    ('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"', "ready"),
])
def test_restore_header_states(header, state):
    assert restore_status_of(header).state == state
