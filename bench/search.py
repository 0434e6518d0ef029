"""Search latency (issue 5): the facade against the same query run directly on the index.

Builds an archive of N messages (default 1,000,000) through the normal migrations in a
temporary data directory (``bench/archive.py``): clients with phone numbers, matters,
conversations and messages are bulk-inserted straight into the projection tables (the
search index is kept by the database, so it fills as the rows go in); one message in 100
was edited, its earlier text kept (compliance roles find messages by those too). Message text is
generated: a vocabulary with Zipf-like word frequencies (function words, chat words, legal
words, then a long tail of rare made-up words), stock phrases, names, amounts, dates, phone
numbers, and sentences in other languages with accents.

Then each query kind runs ``--repeat`` times per user through ``onfile.search.search`` —
as a compliance officer (sees everything) and as a fee earner (about 5 % of conversations,
some of them behind ethical walls) — and the same query runs as raw SQL on the index: the
same match, filters, order and page size in one statement, then the snippets of that page
made as the engine makes them; no access control, no count, no hit details, no earlier texts,
no ledger entry. The facade's figures include all of those (the compliance officer's searches
look in the earlier texts of edited messages too), the ledger entry (a durable commit) too.

    python bench/search.py                                   # 1,000,000 messages, SQLite
    python bench/search.py --messages 200000 --repeat 10
    python bench/search.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/search.py --data-dir /tmp/search-bench      # keep the archive, reuse it next run
    python bench/search.py --data-dir /tmp/pg-bench --database-url postgresql://…/search_bench  # kept, on PostgreSQL

Prints a Markdown table; writes everything to ``bench/out/search.json``.
Goal (issue 5): p95 < 200 ms and within 1.5x of the direct query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OUT = Path(__file__).resolve().parent / "out"
START = datetime(2021, 1, 1, tzinfo=UTC)
SPAN = 4 * 365 * 86400



def _words(text: str) -> list[str]:
    return text.split()


FUNCTION = _words("""the to and a of I you for is in it that we on be this will have with your can are as at me if
do not please thanks""")
CHAT = _words("""contract meeting documents payment property send call today tomorrow week ok yes no hi hello
get sent need just know about from our would could should there been has what when then them
they all any more some here now back see sure time good great fine sorry thank also still right""")
LEGAL = _words("""lease sale purchase completion exchange deposit mortgage solicitor client matter invoice fee
court hearing claim witness statement evidence signed signature sign signing draft agreement
settlement offer accept deadline date office email letter copy scan photo attached tenant
landlord rent notice clause terms conditions probate estate executor divorce custody child
employment tribunal dismissal redundancy compensation insurance policy accident injury medical
report bank transfer account funds money pounds urgent asap confirm confirmed question answer
advice update news problem issue perfect understood noted received review reviewed check
checked search searches survey valuation lender buyer seller vendor chain keys registry title
deeds boundary planning permission council tax stamp duty identity passport proof address
utility bill appointment monday tuesday wednesday thursday friday morning afternoon evening
later soon ready waiting chase chased progress estimate quote costs retainer engagement
instructions authority attorney power guardian trust trustee beneficiary inheritance gift
shares company director board resolution minutes dividend loan debt creditor insolvency
bankruptcy liquidation administrator arbitration mediation appeal judgment order injunction
damages liability negligence breach warranty indemnity guarantee confidential privileged
prejudice without disclosure bundle counsel barrister brief skeleton argument trial adjourned
listed contracts signatures""")
PHRASES = ["exchange of contracts", "completion date", "signed contract", "stamp duty", "land registry",
           "power of attorney", "without prejudice", "call me back", "please find attached", "let me know",
           "as discussed", "the deposit has been paid", "proof of identity", "completion statement", "draft lease",
           "notice period", "settlement agreement", "the hearing is listed", "the funds have cleared",
           "sorry for the delay", "can we meet on", "I have signed the", "the buyer's solicitor",
           "the landlord has agreed", "pre-action letter", "disclosure deadline", "witness statement"]
FOREIGN = ["Merci pour les documents, à demain", "Pouvez-vous m'envoyer le contrat signé ?",
           "Können Sie mir die Unterlagen schicken? Grüße", "Die Kaution ist überwiesen",
           "Gracias, el depósito está pagado", "¿Cuándo es la audiencia?", "Dziękuję, podpiszę umowę jutro",
           "Obrigado pela atualização, João", "Teşekkürler, sözleşmeyi imzaladım", "Zürich, café, naïve façade",
           "Señora Pérez confirmó la fecha", "Ευχαριστώ για τα έγγραφα", "Спасибо, документы получены"]
FIRST = ["Alice", "Bola", "Chen", "Dmitri", "Emma", "Farah", "George", "Hana", "Ibrahim", "Joanna", "Kofi",
         "Lena", "Mateo", "Niamh", "Olu", "Priya", "Rhys", "Sofia", "Tomás", "Uma", "Viktor", "Wen", "Yusuf", "Zoë"]
LAST = ["Okafor", "Smith", "Nowak", "García", "Khan", "Jones", "Müller", "Rossi", "Dubois", "Ivanova", "Patel",
        "O'Brien", "Nguyen", "Kowalski", "Silva", "Mensah", "Andersson", "Yilmaz", "Cohen", "Byrne"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "an", "el", "or", "is", "ut", "ber", "dan", "fel",
             "gor", "hil", "jun", "kas", "lem", "mor", "nal", "pen", "quor", "ris", "sel", "tor", "ul", "ven", "wil",
             "yar", "zen", "bra", "cre", "dro", "fli", "gna", "plo", "stu", "tri", "vex", "xo", "zu"]
TYPES = [("text", 0.93), ("image", 0.03), ("document", 0.02), ("voice", 0.02)]


# ---- the archive ---------------------------------------------------------------------------------


@dataclass
class Corpus:
    vocab: list[str]
    cum: list[float]
    rare: list[str]
    rng: random.Random

    @classmethod
    def make(cls, seed: int = 5) -> Corpus:
        rng = random.Random(seed)
        ordered = list(dict.fromkeys(FUNCTION + CHAT + LEGAL))
        seen = set(ordered)
        tail: list[str] = []
        while len(tail) < 20_000:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                tail.append(word)
        vocab = ordered + tail
        weights = [1.0 / (rank + 1.5) for rank in range(len(vocab))]
        return cls(vocab, list(accumulate(weights)), tail[14_000:14_010], rng)

    def body(self) -> str:
        rng = self.rng
        n = max(1, min(60, int(rng.lognormvariate(2.2, 0.6))))
        words = rng.choices(self.vocab, cum_weights=self.cum, k=n)
        roll = rng.random()
        if roll < 0.25:
            words.insert(rng.randint(0, len(words)), rng.choice(PHRASES))
        elif roll < 0.33:
            words.insert(rng.randint(0, len(words)), f"£{rng.randint(50, 900_000):,}")
        elif roll < 0.38:
            words.insert(rng.randint(0, len(words)), f"{rng.choice(FIRST)} {rng.choice(LAST)}")
        elif roll < 0.42:
            day = f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/202{rng.randint(1, 5)}"
            words.insert(rng.randint(0, len(words)), day)
        elif roll < 0.47:
            return rng.choice(FOREIGN)
        elif roll < 0.475:
            words.append(f"07700 9{rng.randint(0, 99_999):05d}")
        text = " ".join(words)
        return text[0].upper() + text[1:]


@dataclass
class Archive:
    label: str
    messages: int
    conversations: int
    compliance: Any = None
    fee_earner: Any = None
    fee_clients: list[int] = field(default_factory=list)  # clients whose conversations the fee earner sees
    phones: list[str] = field(default_factory=list)  # their numbers, national spelling
    seconds_to_build: float = 0.0
    size_mb: float = 0.0


def phone_of(i: int) -> str:
    return f"+447700{900000 + i}" if i < 100_000 else f"+447911{100000 + i}"


def build(messages: int, conversations: int, label: str) -> Archive:
    from django.db import connection, transaction

    from onfile.accounts.actions import do_create_user
    from onfile.conversations.models import Client, ClientIdentity, Conversation, Matter, Participant

    started = time.perf_counter()
    rng = random.Random(11)
    n_clients = max(1, conversations // 2)
    with transaction.atomic():
        Client.objects.bulk_create([Client(id=i + 1, name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}",
                                           created_seq=0) for i in range(n_clients)])
        ClientIdentity.objects.bulk_create([ClientIdentity(client_id=i + 1, kind="phone", value=phone_of(i))
                                            for i in range(n_clients)])
        Matter.objects.bulk_create([Matter(id=i + 1, reference=f"M-{i + 1:05d}", client_id=i % n_clients + 1,
                                           opened_at=START) for i in range(conversations)])
        Conversation.objects.bulk_create([Conversation(
            id=i + 1, key=f"bench:{i}", source="device", title=f"chat {i}", client_id=i % n_clients + 1,
            matter_id=i + 1, created_seq=0) for i in range(conversations)])
        Participant.objects.bulk_create([Participant(conversation_id=i + 1, display_name="client",
                                                     phone=phone_of(i % n_clients), client_id=i % n_clients + 1)
                                         for i in range(conversations)])
    _messages(messages, conversations, n_clients)
    archive = Archive(label, messages, conversations)
    archive.compliance = do_create_user("colp@bench.example", None, "compliance", actor="bench")
    archive.fee_earner = do_create_user("fee@bench.example", None, "fee_earner", actor="bench")
    _assign(archive, conversations, n_clients)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # As autovacuum leaves a table in service: statistics, and the visibility map that
            # index-only scans need (the edits left dead rows behind).
            cursor.execute("VACUUM ANALYZE")
    archive.seconds_to_build = time.perf_counter() - started
    return archive


def _messages(count: int, conversations: int, n_clients: int) -> None:
    """Conversation by conversation (as imports write them), big and small conversations."""
    from django.db import connection, transaction

    corpus = Corpus.make()
    rng = corpus.rng
    sizes = [1.0 / (i + 10) for i in range(conversations)]
    total = sum(sizes)
    per = [max(1, int(count * s / total)) for s in sizes]
    per[0] += count - sum(per)
    columns = ("conversation_id", "key", "wamid", "direction", "type", "system_event", "body", "sender_name",
               "sender_phone", "sent_at", "position", "reply_to_key", "forwarded", "edited", "deleted", "status",
               "data", "source_seq", "source_ref", "anomalies")
    kinds, weights = zip(*TYPES, strict=True)
    batch: list[tuple[Any, ...]] = []
    written = 0
    for conv in range(conversations):
        client = conv % n_clients
        times = sorted(rng.randrange(SPAN) for _ in range(per[conv]))
        for position, offset in enumerate(times):
            kind = rng.choices(kinds, weights)[0]
            inbound = rng.random() < 0.6
            body = "" if kind == "voice" else corpus.body()
            sent_at = START + timedelta(seconds=offset)
            batch.append((conv + 1, f"bench:{conv}:{position}", "", "in" if inbound else "out", kind, "", body,
                          "client" if inbound else "Staff Member", phone_of(client) if inbound else "",
                          sent_at, position, "", False, False, False, "", "{}", 0, f"row {position}", "[]"))
            if len(batch) == 20_000:
                written += _write(connection, transaction, columns, batch)
                batch = []
                print(f"\r  {written:,} messages", end="", file=sys.stderr, flush=True)
    written += _write(connection, transaction, columns, batch)
    print(f"\r  {written:,} messages", file=sys.stderr)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO conversations_attachment (message_id, mime_type, filename, size, sha256, "
                       "placeholder, media_id, caption) SELECT id, 'application/octet-stream', 'file', 1000, '', "
                       "'omitted', '', '' FROM conversations_message WHERE type IN ('image', 'document')")
    _edits(corpus)


EDITED_SHARE = 100  # one message in this many was edited by its sender: its earlier text is kept


def _edits(corpus: Corpus) -> None:
    """Edited messages, as the WhatsApp projector records them: a revision with the earlier text
    (compliance roles search those too), the message marked edited."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        chosen = f"body <> '' AND mod(id, {EDITED_SHARE}) = 7"
        cursor.execute(f"SELECT id, sent_at FROM conversations_message WHERE {chosen}")
        edited = cursor.fetchall()
        adapt = connection.ops.adapt_datetimefield_value
        at = [(sent if not isinstance(sent, str) else datetime.fromisoformat(sent)) for _, sent in edited]
        cursor.executemany("INSERT INTO conversations_messagerevision (message_id, kind, body, at, source_seq) "
                           "VALUES (%s, 'edit', %s, %s, 0)",
                           [(i, corpus.body(), adapt(t + timedelta(minutes=2))) for (i, _), t in zip(edited, at,
                                                                                                    strict=True)])
        cursor.execute(f"UPDATE conversations_message SET edited = %s WHERE {chosen}", [True])
    print(f"  {len(edited):,} of them edited (their earlier texts kept)", file=sys.stderr)


def _write(connection: Any, transaction: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            raw = connection.connection
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY conversations_message ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            at = columns.index("sent_at")
            prepared = [(*r[:at], adapt(r[at]), *r[at + 1:]) for r in rows]
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO conversations_message ({', '.join(columns)}) "
                                   f"VALUES ({', '.join(['%s'] * len(columns))})", prepared)
    return len(rows)


def _assign(archive: Archive, conversations: int, n_clients: int) -> None:
    """The fee earner: every 20th conversation assigned to them; three of their matters walled."""
    from onfile.conversations.actions import do_set_wall
    from onfile.conversations.models import Conversation, Matter

    mine = list(range(1, conversations + 1, 20))
    Conversation.objects.filter(pk__in=mine).update(assignee=archive.fee_earner)
    walled = mine[1:4]
    for matter in Matter.objects.filter(pk__in=walled):
        do_set_wall(matter, "except", [archive.fee_earner.pk], actor="bench")
    visible = [c for c in mine if c not in walled]
    archive.fee_clients = [(c - 1) % n_clients + 1 for c in visible[:5]]
    import phonenumbers

    archive.phones = [phonenumbers.format_number(phonenumbers.parse(phone_of(c - 1), None),
                                                 phonenumbers.PhoneNumberFormat.NATIONAL)
                      for c in archive.fee_clients]


# ---- the queries ---------------------------------------------------------------------------------


@dataclass
class Query:
    kind: str
    text: str
    filters: dict[str, Any]
    fts: str  # the same match, written by hand in FTS5 syntax
    pg: str  # … and as a PostgreSQL tsquery expression
    phone: str = ""  # E.164, for the phone kind


def queries(archive: Archive) -> list[Query]:
    corpus = Corpus.make()
    out: list[Query] = []
    for w in ("contract", "meeting", "documents", "payment", "property"):
        out.append(Query("common word", w, {}, f'"{w}"', f"plainto_tsquery('onfile_search', '{w}')"))
    for w in corpus.rare[:5]:
        out.append(Query("rare word", w, {}, f'"{w}"', f"plainto_tsquery('onfile_search', '{w}')"))
    for a, b in (("deposit", "completion"), ("signed", "contract"), ("lease", "tenant"), ("invoice", "payment"),
                 ("hearing", "court")):
        out.append(Query("two words", f"{a} {b}", {}, f'"{a}" "{b}"', f"plainto_tsquery('onfile_search', '{a} {b}')"))
    for p in ("exchange of contracts", "power of attorney", "completion statement", "without prejudice",
              "call me back"):
        out.append(Query("phrase", f'"{p}"', {}, f'"{p}"', f"phraseto_tsquery('onfile_search', '{p}')"))
    for p in ("sign", "contr", "complet", "invo", "mortg"):
        out.append(Query("prefix", f"{p}*", {}, f'"{p}" *', f"to_tsquery('onfile_search', '{p}:*')"))
    for i, w in enumerate(("invoice", "hearing", "deposit", "signed", "payment")):
        start = date(2022 + i % 3, 1 + 3 * i % 12, 1)
        out.append(Query("word + date range", w, {"sent_from": start, "sent_to": start + timedelta(days=90)},
                         f'"{w}"', f"plainto_tsquery('onfile_search', '{w}')"))
    for client in archive.fee_clients:
        out.append(Query("word + client", "contract", {"client": client}, '"contract"',
                         "plainto_tsquery('onfile_search', 'contract')"))
    import phonenumbers

    for phone in archive.phones:
        number = phonenumbers.parse(phone, "GB")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        spellings = [phone, e164[1:], phone.replace(" ", ""), "44 " + phone[1:]]
        out.append(Query("phone number", phone, {}, " OR ".join(f'"{s}"' for s in spellings),
                         " || ".join(f"phraseto_tsquery('onfile_search', '{s}')" for s in spellings), e164))
    for w in ("the", "to", "and"):
        out.append(Query("stop word (stress)", w, {}, f'"{w}"', f"plainto_tsquery('onfile_search', '{w}')"))
    return out


def direct(q: Query, conversations: list[int] | None = None) -> int:
    """The same search as one hand-written statement on the index, then that page's snippets;
    with ``conversations``, narrowed to those (the fee earner's, written out as a list)."""
    from django.db import connection

    where, params = [], []
    if conversations is not None:
        where.append(f"m.conversation_id IN ({', '.join(str(int(c)) for c in conversations)})")
    if "sent_from" in q.filters:
        adapt = connection.ops.adapt_datetimefield_value
        lo = datetime.combine(q.filters["sent_from"], datetime.min.time(), UTC)
        hi = datetime.combine(q.filters["sent_to"] + timedelta(days=1), datetime.min.time(), UTC)
        where.append("m.sent_at >= %s AND m.sent_at < %s")
        params += [adapt(lo), adapt(hi)]
    if "client" in q.filters:
        where.append("m.conversation_id IN (SELECT id FROM conversations_conversation WHERE client_id = %s)")
        params.append(q.filters["client"])
    extra = "".join(f" AND {w}" for w in where)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            if q.phone:
                cursor.execute(
                    "SELECT id FROM (SELECT m.id AS id, m.sent_at AS sent_at FROM search_message_fts CROSS JOIN "
                    "conversations_message m ON m.id = search_message_fts.rowid WHERE search_message_fts MATCH %s "
                    "UNION SELECT m.id, m.sent_at FROM conversations_message m WHERE m.conversation_id IN "
                    "(SELECT c.id FROM conversations_conversation c WHERE c.client_id IN (SELECT client_id FROM "
                    "conversations_clientidentity WHERE kind = 'phone' AND value = %s))) "
                    "ORDER BY sent_at DESC, id DESC LIMIT 26", [q.fts, q.phone])
            else:
                cursor.execute("SELECT m.id FROM search_message_fts CROSS JOIN conversations_message m "
                               "ON m.id = search_message_fts.rowid WHERE search_message_fts MATCH %s" + extra +
                               " ORDER BY m.sent_at DESC, m.id DESC LIMIT 26", [q.fts, *params])
            ids = [r[0] for r in cursor.fetchall()][:25]
            if ids:
                # The snippets as the engine makes them: snippet() over a temporary FTS5 table
                # holding only the page's messages (asked of the index, FTS5 expands a prefix
                # over the whole index again for each message: "sign*" 160 ms against 2 ms).
                cursor.execute(f"SELECT id, body FROM conversations_message WHERE id IN "
                               f"({', '.join(['%s'] * len(ids))})", ids)
                bodies = cursor.fetchall()
                cursor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.bench_snippets USING "
                               "fts5(body, tokenize='unicode61 remove_diacritics 2')")
                cursor.execute("INSERT INTO temp.bench_snippets(rowid, body) VALUES "
                               + ", ".join(["(%s, %s)"] * len(bodies)), [v for pair in bodies for v in pair])
                cursor.execute("SELECT rowid, snippet(bench_snippets, 0, char(1), char(2), '…', 24) FROM "
                               "temp.bench_snippets WHERE bench_snippets MATCH %s", [q.fts])
                cursor.fetchall()
                cursor.execute("DELETE FROM temp.bench_snippets")
        else:
            if q.phone:
                cursor.execute(
                    f"SELECT m.id FROM conversations_message m WHERE m.search_tsv @@ ({q.pg}) OR m.conversation_id "
                    "IN (SELECT c.id FROM conversations_conversation c WHERE c.client_id IN (SELECT client_id FROM "
                    "conversations_clientidentity WHERE kind = 'phone' AND value = %s)) "
                    "ORDER BY m.sent_at DESC, m.id DESC LIMIT 26", [q.phone])
            else:
                cursor.execute(f"SELECT m.id FROM conversations_message m WHERE m.search_tsv @@ ({q.pg})" + extra +
                               " ORDER BY m.sent_at DESC, m.id DESC LIMIT 26", params)
            ids = [r[0] for r in cursor.fetchall()][:25]
            if ids:
                cursor.execute(f"SELECT id, ts_headline('onfile_search', body, ({q.pg}), "
                               "'MaxWords=30, MinWords=15, ShortWord=0') FROM conversations_message "
                               "WHERE id = ANY(%s)", [ids])
                cursor.fetchall()
    return len(ids)


def facade(user: Any, q: Query, count: bool = False) -> int:
    """As the web page asks (``count=False``: the number of matches is fetched after the results),
    or as the CLI and API ask (``count=True``: counted up to 1,000 before answering)."""
    from onfile.search import SearchFilters, search

    return len(search(user, q.text, SearchFilters(**q.filters), count=count).hits)


# ---- measuring -----------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


SERIES = ("direct", "direct, fee earner's conversations", "compliance", "fee earner", "compliance, counted",
          "fee earner, counted")


def measure(archive: Archive, repeat: int, kinds: list[str] | None = None) -> dict[str, Any]:
    from onfile import access
    from onfile.ops.worker import Worker

    worker = Worker()

    qs = [q for q in queries(archive) if not kinds or q.kind in kinds]
    if not qs:
        raise SystemExit(f"no query of kind {', '.join(kinds or [])}: see queries() for the kinds")
    mine = sorted(access.visible_conversations(archive.fee_earner).values_list("pk", flat=True))
    runs: dict[str, Any] = {
        "direct": lambda q: direct(q),
        "direct, fee earner's conversations": lambda q: direct(q, mine),
        "compliance": lambda q: facade(archive.compliance, q),
        "fee earner": lambda q: facade(archive.fee_earner, q),
        "compliance, counted": lambda q: facade(archive.compliance, q, count=True),
        "fee earner, counted": lambda q: facade(archive.fee_earner, q, count=True),
    }
    for q in qs:  # warm the caches once
        for run in runs.values():
            run(q)
    times: dict[tuple[str, str], list[float]] = {}
    hits: dict[tuple[str, str], list[int]] = {}
    for _ in range(repeat):
        for q in qs:
            for name, run in runs.items():
                started = time.perf_counter()
                n = run(q)
                times.setdefault((q.kind, name), []).append(time.perf_counter() - started)
                hits.setdefault((q.kind, name), []).append(n)
            # What the worker does every half second in service (untimed): copy SQLite's WAL back
            # into the database. Without it the WAL grows by the searches' ledger entries (~36 kB
            # each) and every read slows down with it (a prefix: 112 → 135 ms over 1,200 entries).
            worker.wal_checkpoint()
    return {"times": times, "hits": hits, "kinds": list(dict.fromkeys(q.kind for q in qs)),
            "ledger": ledger_entry_cost(archive.compliance, 20 * repeat)}


def ledger_entry_cost(user: Any, n: int) -> list[float]:
    """What the facade's ledger entry alone costs (one durable commit): part of every search."""
    from onfile import access

    out = []
    for _ in range(n):
        started = time.perf_counter()
        access.audit(user, "search", "search", {"query": "bench", "filters": {}, "results": 0, "page": 1})
        out.append(time.perf_counter() - started)
    return out


def report(archive: Archive, result: dict[str, Any], command: str) -> str:
    times, hits = result["times"], result["hits"]
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f}"

    built = f"built in {archive.seconds_to_build:.0f} s" if archive.seconds_to_build else "reused"
    typical = [k for k in result["kinds"] if "stress" not in k]

    def cell(values: list[float]) -> str:
        return f"{ms(statistics.median(values))} / {ms(pct(values, 95))}"

    def ratio(values: list[float], base: list[float]) -> str:
        return f"{statistics.median(values) / statistics.median(base):.2f} / {pct(values, 95) / pct(base, 95):.2f}"

    def series(kind: str | None, name: str) -> list[float]:
        return times[(kind, name)] if kind else [t for k in typical for t in times[(k, name)]]

    def table(title: str, compliance: str, fee: str) -> list[str]:
        out = [title, "", "| query | direct | compliance | ratio | direct, fee earner's conversations | fee earner "
               "| ratio to direct | ratio to direct, same conversations | hits/page (direct, compliance, fee) |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for kind in [*result["kinds"], None]:
            d, dm = series(kind, "direct"), series(kind, "direct, fee earner's conversations")
            c, f = series(kind, compliance), series(kind, fee)
            avg = "" if kind is None else ", ".join(
                f"{statistics.mean(hits[(kind, w)]):.0f}" for w in ("direct", compliance, fee))
            label = kind or "**all typical**"
            out.append(f"| {label} | {cell(d)} | {cell(c)} | {ratio(c, d)} | {cell(dm)} | {cell(f)} | {ratio(f, d)} "
                       f"| {ratio(f, dm)} | {avg} |")
        return out

    lines = [f"{archive.label}: {archive.messages:,} messages, {archive.conversations:,} conversations "
             f"({built}, {archive.size_mb:,.0f} MB); p50 / p95 in ms, ratios facade / direct", ""]
    lines += table("As the search page asks (results first; the number of matches is a second request):",
                   "compliance", "fee earner")
    lines += [""]
    lines += table("Counted before answering (as `onfile search --json` asks):", "compliance, counted",
                   "fee earner, counted")
    ledger = result["ledger"]
    lines += ["", "of which the ledger entry of each search (a durable commit): "
              f"p50 {ms(statistics.median(ledger))} ms, p95 {ms(pct(ledger, 95))} ms", "", f"command: `{command}`"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=20, help="runs of every query per user")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--kind", action="append", default=[], help="only this kind of query (repeatable), "
                        "e.g. --kind prefix")
    parser.add_argument("--data-dir", default="", help="keep the archive here (and in --database-url's database, "
                        "which must exist) and reuse it when present")
    args = parser.parse_args()
    archive = _open(args)
    result = measure(archive, args.repeat, args.kind)
    command = "python " + " ".join(sys.argv)
    text = report(archive, result, command)
    print(text)
    OUT.mkdir(exist_ok=True)
    load = os.getloadavg()
    (OUT / "search.json").write_text(json.dumps({
        "label": archive.label, "messages": archive.messages, "conversations": archive.conversations,
        "build_seconds": archive.seconds_to_build, "size_mb": archive.size_mb, "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg": load},
        "times_ms": {f"{k[0]} | {k[1]}": [round(v * 1000, 2) for v in vs] for k, vs in result["times"].items()},
        "report": text}, indent=1))


def _open(args: argparse.Namespace) -> Archive:
    if args.data_dir:
        # A kept archive: this data directory, and with --database-url that very database
        # (create it first), reused by the next run.
        os.environ["ONFILE_DATA_DIR"] = args.data_dir
        os.environ["ONFILE_LOG_LEVEL"] = "WARNING"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onfile.settings")
        if args.database_url:
            os.environ["ONFILE_DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("ONFILE_DATABASE_URL", None)
        import django

        django.setup()
        from onfile.ops.install import initialise

        initialise()
        label = "PostgreSQL (synchronous_commit=on)" if args.database_url else "SQLite (WAL, synchronous=FULL)"
    else:
        from bench import archive as bench_archive

        label = bench_archive.setup(args.database_url)
    from onfile.accounts.models import User
    from onfile.conversations.models import Conversation, Message

    existing = User.objects.filter(email="colp@bench.example").first()
    if existing is None:
        archive = build(args.messages, args.conversations, label)
    else:
        print("  reusing the archive in", args.data_dir, file=sys.stderr)
        archive = Archive(label, Message.objects.count(), Conversation.objects.count(), existing,
                          User.objects.get(email="fee@bench.example"))
        n_clients = max(1, archive.conversations // 2)
        fee = archive.fee_earner
        mine = sorted(Conversation.objects.filter(assignee=fee).values_list("pk", flat=True))
        walled = mine[1:4]
        visible = [c for c in mine if c not in walled]
        archive.fee_clients = [(c - 1) % n_clients + 1 for c in visible[:5]]
        import phonenumbers

        archive.phones = [phonenumbers.format_number(phonenumbers.parse(phone_of(c - 1), None),
                                                     phonenumbers.PhoneNumberFormat.NATIONAL)
                          for c in archive.fee_clients]
    archive.size_mb = _size_mb()
    return archive


def _size_mb() -> float:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return float(cursor.fetchone()[0]) / 1e6
    path = Path(settings.DATABASES["default"]["NAME"])
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


if __name__ == "__main__":
    main()
