"""How the transcript is built for speed: a plain message is one paragraph, the collector pauses.

WeasyPrint's time goes per element and per line of text (docs/benchmarks.md, issue 5): the
common message (a header and its text) is a single element; a message with more parts keeps a
block per part. What the transcript says is checked in test_export_pdf.py.
"""

from __future__ import annotations

import gc
import re
from typing import Any

import pytest

from onfile.exports import transcript
from onfile.exports.transcript import _no_cyclic_gc
from onfile.exports.transcript.data import AttachmentView, MessageView, header

pytestmark = pytest.mark.django_db


def _html(conversation: Any) -> str:
    from onfile.exports.conversation import make_seal

    h = header(conversation, firm="Example Law LLP", generated_at=conversation.last_message_at, generated_by="x",
               originals=True, seal=make_seal("test"))
    return transcript.render_html(conversation, h)


def test_a_plain_message_is_one_paragraph_and_a_richer_one_a_block_per_part(import_chat: Any) -> None:
    html = _html(import_chat())
    # Header line, then the text (two lines of it), in one pre-wrap paragraph.
    assert re.search(r'<p class="m in">2024-01-12 09:16:00Z Alice Smith · from the client · ledger #\d+\n'
                     r'Hello, I have a question about the lease\nit is about clause 4</p>', html)
    assert re.search(r'<p class="m out">2024-01-13 10:00:00Z Bob Solicitor · from the firm · ledger #\d+\n'
                     r'Sure: send it over</p>', html)
    # With an attachment: the same header, then a block each for the text and the file.
    rich = re.search(r'<div class="m in"><p class="h">2024-01-13 10:03:00Z Alice Smith · from the client · '
                     r'document · ledger #\d+</p>(.*?)</div>\n', html, re.S)
    assert rich and "<b>scan.pdf</b>" in rich.group(1) and "sha256 " in rich.group(1)
    main = html[html.index("<main>"):]
    assert main.count('class="m ') == 5 and "End of transcript: 5 messages." in main  # one element each
    plain = re.findall(r'<p class="m \w+">(.*?)</p>', main, re.S)
    assert len(plain) == 2 and not any("<" in p for p in plain)  # no inline element inside


def test_what_makes_a_message_plain() -> None:
    def view(**kw: Any) -> MessageView:
        fields: dict[str, Any] = {"day": "", "time": "t", "sender": "s", "sender_phone": "", "direction": "in",
                                  "direction_label": "from the client", "type": "text", "text": "hi",
                                  "deleted": False, "edited": False, "forwarded": False, "withheld": False, "seq": 1}
        return MessageView(**(fields | kw))

    assert view().plain and view(edited=True, forwarded=True, type="image", text="").plain
    file = AttachmentView(name="a", mime="b", size="c", sha256="d", caption="", missing="", path="")
    for richer in (view(deleted=True), view(deleted=True, withheld=True, text=""), view(quote="q"),
                   view(revisions=[("before", "x")]), view(details=[("Location", "x")]), view(attachments=[file]),
                   view(reactions=["r"]), view(statuses=["sent"]), view(notes=["n"])):
        assert not richer.plain


def test_the_cycle_collector_pauses_while_rendering_and_comes_back() -> None:
    assert gc.isenabled()
    with _no_cyclic_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), _no_cyclic_gc():
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with _no_cyclic_gc():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_rendering_leaves_the_collector_on(import_chat: Any) -> None:
    import io

    out = io.BytesIO()
    transcript.write_pdf(_html(import_chat()), out)
    assert out.getvalue().startswith(b"%PDF-") and gc.isenabled()
