"""Generate a large, realistic WhatsApp "Export chat" file for benchmarks (deterministic, seeded).

Formats (see shared/docs/whatsapp.md, part D):
    android24  ``7/1/19, 08:05 - Alice Johnson: text``              (day first, 24 h)
    android12  ``1/7/19, 8:05\u202fAM - Alice Johnson: text``        (month first, 12 h, U+202F)
    ios        ``[07/01/2019, 08:05:13] Alice Johnson: text``        (day first, 24 h, seconds)

The chat is a group of a few senders (names with spaces, a ``~\u202f`` push name, a
``+44 7700 900123`` number), bodies of varied length (some with ``": "`` inside, emoji,
URLs), about 10 % multi-line messages (2–4 lines), about 1 % attachments (``(file attached)``
on Android, ``<attached: …>`` on iOS, with an optional caption line), some ``<Media omitted>``
/ ``image omitted``, a few deleted and edited messages and system lines. Timestamps never
decrease and span five years, so the date order can be detected; they come in conversation
bursts (``--uniform-times`` spreads them evenly instead: nearly one header minute per message).

    python bench/gen_export.py --format android24 --messages 1000000 -o /tmp/x.txt
    python bench/gen_export.py --format ios --messages 2000 --zip -o /tmp/x.zip   # _chat.txt + tiny media

Prints what was written (counts per kind) as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

FORMATS = ("android24", "android12", "ios")
GROUP = "Project Falcon – Ops"
SENDERS = (
    ("Alice Johnson", 30),
    ("Bob", 20),
    ("María José García-López", 15),
    ("~\u202fPriya", 12),
    ("+44 7700 900123", 10),
    ("Tom O'Brien (Sales)", 8),
    ("Chen Wei 陈伟", 5),
)
START = datetime(2019, 1, 7, 8, 0, 0)
SPAN_SECONDS = 5 * 365 * 86400
BURST_SHARE = 0.7  # share of messages that reply within a conversation burst
BURST_GAP = 30.0  # mean seconds between the messages of a burst
ENCRYPTION = ("Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, "
              "can read or listen to them. Tap to learn more.")
LRM = "\u200e"

_VOCABULARY = (
    "the a to and of we I you it is for on in that this can will be have with at please thanks ok yes no "
    "meeting client invoice report draft contract call tomorrow today morning afternoon price quote order "
    "shipment delivery update review sign approve budget Q3 numbers deck slides team office Monday Friday "
    "send check confirm sorry late running minutes agenda notes follow-up deadline urgent fine great done "
    "file attached version final legal compliance account portfolio trade position risk limit booked"
)
WORDS = tuple(_VOCABULARY.split())
EMOJI = ("👍", "🙏", "😂", "✅", "🚀", "🤔", "❤️", "👨‍👩‍👧")
PREFIXES = ("Note: ", "Re: ", "FYI: ", "Update: ", "Q: ", "Action: ")
URLS = ("https://example.com/docs/q3-report?id=42", "http://intranet.example.org/wiki/Onboarding")
MEDIA = (("IMG", "jpg", "PHOTO"), ("VID", "mp4", "VIDEO"), ("PTT", "opus", "AUDIO"), ("STK", "webp", "STICKER"))
IOS_OMITTED = ("image omitted", "video omitted", "audio omitted", "sticker omitted", "GIF omitted")
DOCUMENTS = ("Quarterly report.pdf", "Term sheet v3.docx", "Trades 2021.xlsx")


@dataclass
class Stats:
    """What was written; the expected parse, for checking parsers' counts."""

    format: str
    messages: int = 0  # message headers = messages a faithful parser returns
    lines: int = 0
    bytes: int = 0
    multiline: int = 0  # messages spanning more than one line (captions included)
    attached: int = 0  # attachments present ("file attached" / "<attached: …>")
    omitted: int = 0  # "<Media omitted>" / "image omitted"
    system: int = 0  # system lines (Android: no "Name: "; iOS: attributed to the group name)
    deleted: int = 0
    edited: int = 0
    first: str = ""
    last: str = ""
    senders: list[str] = field(default_factory=list)
    media_files: list[str] = field(default_factory=list)  # attachment names, in order (first few only)


class Writer:
    """Turns (timestamp, sender, body lines) into export lines of one format."""

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.fmt = fmt
        self.header: Callable[[datetime], str] = getattr(self, f"_{fmt}")
        self.ios = fmt == "ios"
        self.ios_seq = 0
        self.android_seq: dict[str, int] = {}

    @staticmethod
    def _android24(t: datetime) -> str:
        return f"{t.day}/{t.month}/{t.year % 100:02d}, {t.hour:02d}:{t.minute:02d} - "

    @staticmethod
    def _android12(t: datetime) -> str:
        hour = t.hour % 12 or 12
        return f"{t.month}/{t.day}/{t.year % 100:02d}, {hour}:{t.minute:02d}\u202f{'PM' if t.hour >= 12 else 'AM'} - "

    @staticmethod
    def _ios(t: datetime) -> str:
        return f"[{t.day:02d}/{t.month:02d}/{t.year}, {t.hour:02d}:{t.minute:02d}:{t.second:02d}] "

    def message(self, t: datetime, sender: str, lines: list[str], lrm: bool = False) -> str:
        first = f"{self.header(t)}{sender}: {lines[0]}"
        if lrm:
            first = LRM + first
        return "\n".join([first, *lines[1:]])

    def system(self, t: datetime, text: str) -> str:
        if self.ios:
            return f"{LRM}{self.header(t)}{GROUP}: {LRM}{text}"
        return f"{self.header(t)}{text}"

    def media_name(self, t: datetime, rng: random.Random) -> str:
        """An exported media file name; the same random draws whatever the format."""
        document = DOCUMENTS[rng.randrange(len(DOCUMENTS))] if rng.random() < 0.1 else None
        tag, ext, ios_tag = MEDIA[rng.randrange(len(MEDIA))]
        if self.ios:
            self.ios_seq += 1
            if document is not None:
                return f"{self.ios_seq:08d}-{document}"
            return f"{self.ios_seq:08d}-{ios_tag}-{t:%Y-%m-%d-%H-%M-%S}.{ext}"
        if document is not None:
            return document
        day = f"{t:%Y%m%d}"
        seq = self.android_seq[day] = self.android_seq.get(day, -1) + 1
        return f"{tag}-{day}-WA{seq:04d}.{ext}"

    def attachment(self, name: str) -> str:
        return f"{LRM}<attached: {name}>" if self.ios else f"{name} (file attached)"

    def omitted(self, rng: random.Random) -> str:
        ios = rng.choice(IOS_OMITTED)
        return f"{LRM}{ios}" if self.ios else "<Media omitted>"


def sentence(rng: random.Random) -> str:
    """One line of text of varied length: mostly short, sometimes long."""
    r = rng.random()
    n = rng.randint(1, 8) if r < 0.6 else rng.randint(9, 25) if r < 0.97 else rng.randint(26, 120)
    text = " ".join(rng.choices(WORDS, k=n))
    text = text[0].upper() + text[1:]
    r = rng.random()
    if r < 0.08:
        text = rng.choice(PREFIXES) + text  # ": " inside the body
    elif r < 0.11:
        text = f"{text} {rng.choice(URLS)}"
    elif r < 0.14:
        text = f"{text} at {rng.randint(8, 18)}:{rng.choice(('00', '15', '30', '45'))}: ok?"
    if rng.random() < 0.1:
        text += " " + rng.choice(EMOJI)
    return text


def continuation(rng: random.Random, i: int) -> str:
    """A continuation line; some look list-like, a few are empty."""
    r = rng.random()
    if r < 0.1:
        return ""
    if r < 0.3:
        return f"{i}. {sentence(rng)}"
    if r < 0.45:
        return f"- {sentence(rng)}"
    return sentence(rng)


def system_text(rng: random.Random, names: list[str]) -> str:
    a, b = rng.sample(names, 2)
    return rng.choice((
        f"{a} added {b}", f"{a} left", f"{a} removed {b}", f"{a} changed this group's icon",
        f'{a} changed the group name from "Falcon" to "{GROUP}"', f"{a} joined using this group's invite link",
    ))


def timestamps(rng: random.Random, count: int, fmt: str, *, bursty: bool = True) -> Iterator[datetime]:
    """Non-decreasing times spanning about SPAN_SECONDS (minute resolution on Android, seconds on iOS).

    Bursty (the default, as chats are): BURST_SHARE of the gaps are replies within a
    conversation (mean BURST_GAP s), the rest are pauses sized so that the file spans
    SPAN_SECONDS. Uniform: every gap is drawn from one exponential distribution, so on
    Android almost every message has a header (minute) of its own.
    """
    mean = SPAN_SECONDS / max(count, 1)
    pause = max((mean - BURST_SHARE * BURST_GAP) / (1 - BURST_SHARE), BURST_GAP) if bursty else mean
    t = 0.0
    for _ in range(count):
        gap = BURST_GAP if bursty and rng.random() < BURST_SHARE else pause
        t += rng.expovariate(1 / gap)
        when = START + timedelta(seconds=int(t))
        yield when if fmt == "ios" else when.replace(second=0)


def generate(fmt: str, count: int, out: Path, *, seed: int = 2024, zip_media: int = -1, bursty: bool = True) -> Stats:
    """Write ``count`` messages in ``fmt`` to ``out`` (a zip with media when ``zip_media`` >= 0)."""
    rng = random.Random(f"{seed}:{count}")
    writer = Writer(fmt)
    names = [name for name, _ in SENDERS]
    weights = [w for _, w in SENDERS]
    stats = Stats(format=fmt, senders=names)
    text_path = out.with_suffix(".txt.tmp") if zip_media >= 0 else out
    with open(text_path, "w", encoding="utf-8", newline="\n") as f:
        chunk: list[str] = []
        for i, t in enumerate(timestamps(rng, count, fmt, bursty=bursty)):
            chunk.append(_one(i, t, rng, writer, names, weights, stats))
            if len(chunk) >= 10_000:
                _flush(f, chunk, stats)
        _flush(f, chunk, stats)
    stats.messages = count
    if zip_media >= 0:
        _zip(text_path, out, fmt, stats.media_files[:zip_media])
    stats.bytes = out.stat().st_size
    stats.media_files = stats.media_files[:20]
    return stats


def _flush(f: TextIO, chunk: list[str], stats: Stats) -> None:
    if not chunk:
        return
    text = "\n".join(chunk) + "\n"
    f.write(text)
    stats.lines += text.count("\n")
    chunk.clear()


def _one(i: int, t: datetime, rng: random.Random, w: Writer, names: list[str], weights: list[int], st: Stats) -> str:
    """One message (possibly several lines) as text; updates the stats."""
    if i == 0:
        st.first = t.isoformat()
        st.system += 1
        return w.system(t, ENCRYPTION)
    st.last = t.isoformat()
    r = rng.random()
    if r < 0.001:
        st.system += 1
        return w.system(t, system_text(rng, names))
    sender = rng.choices(names, weights)[0]
    if r < 0.008:
        name = w.media_name(t, rng)
        st.attached += 1
        if len(st.media_files) < 1000:
            st.media_files.append(name)
        lines = [w.attachment(name)]
        if rng.random() < 0.4:
            lines.append(sentence(rng))  # caption on the next line
            st.multiline += 1
        return w.message(t, sender, lines, lrm=w.ios)
    if r < 0.011:
        st.omitted += 1
        return w.message(t, sender, [w.omitted(rng)], lrm=w.ios)
    if r < 0.013:
        st.deleted += 1
        return w.message(t, sender, [f"{LRM}This message was deleted." if w.ios else "This message was deleted"])
    lines = [sentence(rng)]
    if rng.random() < 0.1:
        lines += [continuation(rng, k) for k in range(1, rng.randint(2, 4))]
        st.multiline += 1
    if r > 0.995:
        st.edited += 1
        lines[-1] += f" {LRM}<This message was edited>" if w.ios else " <This message was edited>"
    return w.message(t, sender, lines)


def _zip(text_path: Path, out: Path, fmt: str, media: list[str]) -> None:
    member = "_chat.txt" if fmt == "ios" else f"WhatsApp Chat with {GROUP}.txt"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(text_path, member)
        for name in media:
            z.writestr(name, f"onfile bench media {name}\n".encode())
    text_path.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=FORMATS, default="android24")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--zip", action="store_true", help="write a zip: the chat text plus tiny media files")
    ap.add_argument("--media", type=int, default=12, help="with --zip: how many attachments get a file")
    ap.add_argument("--uniform-times", action="store_true", help="no conversation bursts: evenly spread messages")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args(argv)
    stats = generate(args.format, args.messages, args.output, seed=args.seed,
                     zip_media=args.media if args.zip else -1, bursty=not args.uniform_times)
    json.dump(asdict(stats), sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
