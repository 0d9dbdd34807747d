"""Streaming digests: what a copy checks before it lets a write complete."""

import hashlib

import pytest

from exitkit.errors import TransientError
from exitkit.verify.digest import (DigestingStream, are_plain_md5, is_plain_md5,
                                   multipart_parts)

PART = 5 * 2**20
BODY = bytes(range(256)) * (12 * 2**20 // 256 + 7)


def chunks(data, size=2**20 - 3):
    return (data[i:i + size] for i in range(0, len(data), size))


def s3_multipart_etag(data, part):
    digests = b"".join(hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part))
    return f"{hashlib.md5(digests).hexdigest()}-{-(-len(data) // part)}"


def test_multipart_etag_is_recomputed_across_chunk_boundaries():
    etag = s3_multipart_etag(BODY, PART)
    assert multipart_parts(etag) == 3 and multipart_parts("d41d8cd98f00b204e9800998ecf8427e") is None
    stream = DigestingStream(chunks(BODY), len(BODY), expected_multipart=(etag, PART))
    assert b"".join(stream) == BODY
    assert stream.multipart_etag() == etag
    # every part's MD5, the short last one included, for a writer sending the same parts
    assert stream.part_size == PART and stream.part_md5s == [
        hashlib.md5(BODY[i:i + PART]).digest() for i in range(0, len(BODY), PART)]


@pytest.mark.parametrize("expectation", [
    {"expected_multipart": (s3_multipart_etag(BODY, PART), PART)},
    {"expected_md5": hashlib.md5(BODY).hexdigest()},
    {"expected_sha256": hashlib.sha256(BODY).hexdigest()},
    {"expected_size": len(BODY) + 1},
])
def test_a_flipped_byte_or_short_read_stops_the_stream_before_its_end(expectation):
    damaged = BODY[:777] + bytes([BODY[777] ^ 1]) + BODY[778:]
    data = damaged if "expected_size" not in expectation else BODY
    stream = DigestingStream(chunks(data), expectation.pop("expected_size", len(data)),
                             **expectation)
    with pytest.raises(TransientError):
        b"".join(stream)


MD5 = "d41d8cd98f00b204e9800998ecf8427e"
NOT_PLAIN_MD5 = [None, "", MD5.upper(), MD5[:31], MD5 + "0", MD5 + "\n", f"{MD5}-2",
                 MD5[:31] + "g", MD5[:31] + "٣", '"' + MD5[:30] + '"']


@pytest.mark.parametrize("odd", NOT_PLAIN_MD5)
def test_only_32_lowercase_hex_digits_are_a_plain_md5_alone_or_in_a_run(odd):
    assert is_plain_md5(MD5) and are_plain_md5([MD5, "0" * 32]) and are_plain_md5([])
    assert not is_plain_md5(odd)
    # a run fails as a whole on one odd ETag, wherever it sits and whatever its length
    assert not are_plain_md5([MD5, odd, MD5])
    assert not are_plain_md5([odd])
