"""Time real Python tooz HashRing.get_nodes on the same shape as benches/ring.rs.

8 members x 32 partitions, 10,000 36-byte uuid-like keys generated exactly like
`uuid_like` in ring.rs (md5 of "<seed>-<i>", formatted as a uuid4). Prints lookups/s
(best of several rounds, single thread) and a checksum of owners so the Rust and
Python sides can be seen to agree.
"""

import hashlib
import sys
import time

from tooz import hashring


def uuid_like(seed, i):
    x = hashlib.md5(f"{seed}-{i}".encode()).hexdigest()
    return f"{x[0:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    members = [uuid_like("member", i).encode() for i in range(8)]
    ring = hashring.HashRing([], partitions=32)
    for m in members:
        ring.add_node(m, weight=1)
    keys = [uuid_like("key", i).encode() for i in range(10_000)]
    assert all(len(k) == 36 for k in keys)

    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for k in keys:
            ring.get_nodes(k)
        best = min(best, time.perf_counter() - start)
    # Context only: hashlib md5 alone on the same keys, the floor of any Python lookup.
    md5_best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for k in keys:
            hashlib.md5(k).digest()
        md5_best = min(md5_best, time.perf_counter() - start)
    owners = [members.index(next(iter(ring.get_nodes(k)))) for k in keys[:1000]]
    print(f"tooz {hashring.__name__} get_nodes: {len(keys) / best:,.0f} lookups/s "
          f"(best of {rounds} x {len(keys)} keys, {best * 1e6 / len(keys):.2f} us/lookup)")
    print(f"python hashlib.md5 alone: {len(keys) / md5_best:,.0f} digests/s")
    print(f"owner index of first 20 keys: {owners[:20]}")


if __name__ == "__main__":
    main()
