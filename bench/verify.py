"""``onfile verify`` throughput in MB/s, against bare ``hashlib.sha256`` over the same bytes.

Two archives: (a) only 1 KB captures — the worst case, where per-entry work dominates;
(b) a realistic mix — 90 % webhook-sized captures (1–4 KB) and 10 % media (100 KB–2 MB),
as an archive with photos and documents is. For each, verify's rate (bytes of leaves and
ciphertext hashed per second of the whole verify) is compared with SHA-256 alone over
exactly the bytes verify hashes, read from the same store.

    python bench/verify.py [--entries 20000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def populate(entries: int, mix: bool) -> None:
    from onfile.ledger.actions import do_capture

    rng = random.Random(7)
    for i in range(entries):
        if mix and rng.random() < 0.10:
            data = os.urandom(rng.randint(100_000, 2_000_000))
            do_capture(io.BytesIO(data), kind="capture.media", actor="bench", attrs={"i": i})
        else:
            size = rng.randint(1024, 4096) if mix else 1024
            do_capture(os.urandom(size), kind="capture.webhook", actor="bench", attrs={"i": i})


def bare_sha256() -> tuple[int, float]:
    """SHA-256 over the same bytes verify hashes (leaf texts and ciphertexts), nothing else."""
    from django.db import connection

    from onfile.ledger.blobs import blob_dir
    from onfile.ledger.log import leaf_bytes

    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT e.seq, e.time, e.kind, e.actor, e.subject, e.attrs, e.blob_id, e.commitment,"
                       " b.inline, b.path FROM ledger_entry e LEFT JOIN ledger_blob b ON b.id = e.blob_id")
        for row in cursor.fetchall():
            chunks.append(leaf_bytes(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]))
            if row[8] is not None:
                chunks.append(bytes(row[8]))
            elif row[9]:
                chunks.append((blob_dir() / row[9]).read_bytes())
    total = sum(len(c) for c in chunks)
    started = time.perf_counter()
    for chunk in chunks:
        hashlib.sha256(chunk).digest()
    return total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--mix", action="store_true", help="realistic mix instead of 1 KB only")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    from bench.archive import setup

    label = setup(args.database_url)
    populate(args.entries, args.mix)
    from onfile.ledger.checkpoints import do_checkpoint
    from onfile.ledger.verify import verify

    do_checkpoint()
    verify()  # warm the page cache, as a nightly verify of a live archive would find it
    report = verify()
    assert report.ok, report.problems
    total, bare_seconds = bare_sha256()
    verify_rate = report.bytes_hashed / report.seconds / 1e6
    bare_rate = total / bare_seconds / 1e6
    print(json.dumps({
        "database": label, "archive": "mix" if args.mix else "1 KB captures", "entries": report.entries,
        "mb_hashed": round(report.bytes_hashed / 1e6, 1), "verify_seconds": round(report.seconds, 2),
        "verify_mb_per_s": round(verify_rate), "bare_sha256_mb_per_s": round(bare_rate),
        "ratio": round(verify_rate / bare_rate, 2),
    }))


if __name__ == "__main__":
    main()
