"""Embedded loopback servers (moto_server, SeaweedFS) for the demo and the tests."""
