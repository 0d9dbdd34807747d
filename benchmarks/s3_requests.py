"""Micro-benchmark: client CPU per S3 request of exitkit's S3 adapter, in process.

Starts moto_server (or SeaweedFS, which keeps connections alive where moto_server closes
each one) on loopback, then sends --count small PUTs (4 KiB, Content-MD5, as the copy
does), --count HEADs and --count GETs (streamed, read to the end) from one thread through
``S3Store``, and prints the client's CPU time per request (``time.process_time()``: this
process only, the server runs in its own).

    PYTHONPATH=src python3 benchmarks/s3_requests.py --count 1000 [--server seaweedfs]
"""

import argparse
import os
import time

from pydantic import SecretStr

from exitkit.drill.spec import Credentials, TargetEndpoint
from exitkit.drill.spec_file import Keys
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.providers.contract import Attributes
from exitkit.providers.registry import open_target

BODY_SIZE = 4096


def _cpu_per_request(count: int, send) -> float:
    """Client CPU microseconds per call of *send* (its index), over *count* calls."""
    started = time.process_time()
    for index in range(count):
        send(index)
    return (time.process_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--server", choices=("moto", "seaweedfs"), default="moto")
    args = parser.parse_args()
    body = os.urandom(BODY_SIZE)
    server, provider = ((MotoServer(), "aws-s3") if args.server == "moto"
                        else (SeaweedServer(), "seaweedfs"))
    with server:
        endpoint = TargetEndpoint(provider=provider, endpoint=server.endpoint,
                                  region="us-east-1", bucket="bench", create_bucket=True,
                                  credentials=Credentials(access_key_env="UNUSED_A",
                                                          secret_key_env="UNUSED_B"))
        store = open_target(endpoint, Keys(SecretStr(server.access_key),
                                           SecretStr(server.secret_key)), part_size=5 << 20)
        store.prepare(create=True)
        attributes = Attributes("application/octet-stream")
        put = _cpu_per_request(args.count, lambda index: store.put(
            f"k/{index}", iter([body]), BODY_SIZE, attributes))
        head = _cpu_per_request(args.count, lambda index: store.head(f"k/{index}"))

        def get(index: int) -> None:
            with store.open(f"k/{index}") as stream:
                for _chunk in stream.chunks:
                    pass

        read = _cpu_per_request(args.count, get)
    print(f"{args.server}: client CPU per request over {args.count} requests each (us): "
          f"PUT {put:.0f}  HEAD {head:.0f}  GET {read:.0f}")


if __name__ == "__main__":
    main()
