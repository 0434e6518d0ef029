"""Reading staff's reply emails (issue 6): ``onfile.channels.email.replyparse.parse_reply``.

Pure: no database, no network. The samples in ``samples/`` are full raw emails as each client
writes them (headers, MIME structure, charsets, transfer encodings); each test states exactly
what the person newly wrote. Bad input must end in ``MalformedEmail`` and nothing else
(ARCHITECTURE "bad input gets a clear error").
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import random
import struct
import time
import tracemalloc
import zlib
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onfile.channels.email import replytext
from onfile.channels.email.replyparse import Attachment, AuthVerdict, MalformedEmail, parse_reply

SAMPLES = Path(__file__).parent / "samples"
REPLY_TO = "reply+k7qm2xt9vlpa@onfile.firm.example"
PARENT = "wa.3f9c2a7e1b0d4c6e8a5f7b9d1c3e5a7b@onfile.firm.example"
ROOT = "wa.thread.5d41402abc4b2a76b9719d911017c592@onfile.firm.example"

EXPECTED = {
    "outlook_desktop_windows.eml":
        "Hi Sam,\n\nYes, I have the signed lease – thank you. Thursday at 2pm works; I’ll send you the completion "
        "statement beforehand so you can look through it.",
    "outlook_desktop_german.eml":
        "Hallo Herr Patel,\n\nanbei der Entwurf des Übergabeprotokolls. Bitte prüfen Sie die Zählerstände – am "
        "Donnerstag um 14 Uhr passt es mir gut.",
    "outlook_desktop_french.eml":
        "Bonjour Madame Dubois,\n\nLe devis s'élève à 1 250 € HT. Je vous envoie la lettre de mission cet après-midi.",
    "outlook_web.eml": "Hi Sam – yes, the 14th is fine. I’ve booked the meeting room on the 2nd floor.",
    "outlook_ios.eml": "Thanks Sam, received. I'll call you after the hearing this afternoon.",
    "outlook_android.eml": "Thanks Sam, received. I'll call you after the hearing this afternoon.",
    "outlook_forward_as_attachment.eml": "Sam – the agent’s confirmation is attached, for your records.\n\nJane",
    "outlook_winmail_dat.eml": "Sam,\n\nThe revised plan is in the attachment.\n\nJane",
    "gmail_web.eml": "Hi Sam,\n\nThursday at 2pm is fine. Please bring photo ID and a recent utility bill.",
    "gmail_android.eml": "Got it 👍 I'll be there at 2.",
    "apple_mail_macos.eml":
        "Dear Sam,\n\nI’ve attached the completion statement (PDF). The balance due on completion is £12,450.00.",
    "iphone_mail.eml": "Here is the photo of the meter reading from this morning.",
    "thunderbird_interleaved.eml":
        "Hi Sam,\n\n"
        "> Did you get the signed lease?\n"
        "Yes, it arrived this morning – all pages initialled.\n\n"
        "> Can we meet on Thursday to go through the completion statement? What should I bring?\n"
        "Thursday at 2pm suits me. Please bring photo ID and your bank details for the completion funds.",
    "thebat_koi8r_bottom_post.eml": "Здравствуйте, Sam.\n\nДа, договор получила. Встреча в четверг в 14:00 подходит.",
    "thunderbird_japanese_iso2022jp.eml":
        "サム様\n\nお世話になっております。\n契約書を受け取りました。木曜日の14時で問題ありません。\n\nよろしくお願いいたします。\nジェーン",
    "foxmail_gb2312.eml": "Sam 您好：\n\n合同已收到，周四下午两点可以。\n\n此致\n敬礼\nJane",
    "outlook_out_of_office.eml":
        "I am out of the office until Monday 8 June with limited access to email. For urgent matters please contact "
        "my assistant, Priya Shah, on +44 20 7946 0124.\n\nJane Smith",
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def without_text_plain(raw: bytes) -> bytes:
    """The same email with the text/plain alternatives removed: only the HTML is left to read."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)

    def strip(part):  # type: ignore[no-untyped-def]
        if part.is_multipart():
            if part.get_content_type() == "multipart/alternative":
                part.set_payload([p for p in part.get_payload() if p.get_content_type() != "text/plain"])
            for child in part.get_payload():
                strip(child)

    strip(msg)
    return msg.as_bytes()


def simple(headers: str = "", body: str = "Fine, thanks.\n", content_type: str = "text/plain; charset=utf-8",
           base: str = "From: Jane Smith <jane@firm.example>\nTo: reply+abc@onfile.firm.example\n"
                       "Subject: Re: WhatsApp: Sam\nMessage-ID: <m1@firm.example>\n") -> bytes:
    return (base + headers + f"MIME-Version: 1.0\nContent-Type: {content_type}\n\n" + body).encode("utf-8")


# ---- what was newly written, per client ---------------------------------------------------------


def test_every_sample_has_an_expectation() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.eml")) == sorted(
        [*EXPECTED, "postfix_bounce.eml", "outlook_read_receipt.eml"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_new_text_of_each_client(name: str) -> None:
    reply = parse_reply(sample(name))
    assert reply.text == EXPECTED[name]
    # The only defects in these real-world formats: Outlook and Apple Mail write a file name as an
    # encoded-word inside quotes (name="=?utf-8?Q?…?="), which RFC 2047 does not allow. It is read anyway.
    assert [d for d in reply.defects if "encoded word inside quoted string" not in d
            and "missing trailing whitespace after encoded-word" not in d] == []


HTML_SAMPLES = sorted(n for n in EXPECTED if b"text/html" in sample(n))


@pytest.mark.parametrize("name", HTML_SAMPLES)
def test_html_alone_gives_the_same_text(name: str) -> None:
    """With no text/plain the HTML is converted, and its structure (Gmail's gmail_quote, Outlook's
    divRplyFwdMsg and border-top separator, signature containers, blockquote type=cite) finds the
    same new text."""
    raw = without_text_plain(sample(name))
    assert b"text/plain" not in raw.split(b"\n\n", 1)[1] or name == "outlook_out_of_office.eml"
    reply = parse_reply(raw)
    assert reply.html is True
    assert reply.text == EXPECTED[name]


def test_outlook_desktop_headers_logo_and_microsoft_365_verdicts() -> None:
    raw = sample("outlook_desktop_windows.eml")
    reply = parse_reply(raw)
    assert reply.message_id == "AM9PR07MB72013C5D1E2F3A4B5C6D7E8F9A0B1@AM9PR07MB7201.eurprd07.prod.outlook.com"
    assert (reply.from_address, reply.from_name) == ("jane.smith@firm.example", "Jane Smith")
    assert reply.recipients == [REPLY_TO]
    assert reply.subject == "RE: WhatsApp: Sam Patel (+447700900123) — M-2026-0142"
    assert reply.in_reply_to == PARENT
    assert reply.references == [ROOT, PARENT]
    assert reply.date is not None and reply.date.isoformat() == "2026-06-02T09:14:21+00:00"
    # The signature logo (image001.png, referenced from the signature only) is no attachment.
    assert b"image001.png" in raw and reply.attachments == []
    # Outlook puts X-Auto-Response-Suppress on ordinary mail: not a sign of an automatic reply.
    assert b"X-Auto-Response-Suppress: All" in raw and reply.auto_reply == ""
    assert [(v.authserv_id, v.method, v.result, v.domain) for v in reply.auth_results] == [
        ("", "spf", "pass", "firm.example"), ("", "dkim", "pass", "firm.example"),
        ("", "dmarc", "pass", "firm.example"), ("", "compauth", "pass", "")]
    assert reply.auth_results[3].reason == "100"
    assert "Thursday at 2pm" in reply.full_text and "From: Sam Patel via WhatsApp" in reply.full_text


def test_outlook_german_windows_1252_and_encoded_word_file_name() -> None:
    reply = parse_reply(sample("outlook_desktop_german.eml"))
    assert reply.subject == "AW: WhatsApp: Sam Patel (+447700900123) — M-2026-0142"
    assert [(a.filename, a.mime_type) for a in reply.attachments] == [
        ("Entwurf Übergabeprotokoll.pdf", "application/pdf")]
    assert reply.attachments[0].data.startswith(b"%PDF-1.4")
    assert "Mit freundlichen Grüßen" in reply.full_text


def test_apple_mail_rfc2231_file_name_and_a_failing_dmarc() -> None:
    reply = parse_reply(sample("apple_mail_macos.eml"))
    assert [(a.filename, a.mime_type, a.inline) for a in reply.attachments] == [
        ("Completion statement – 12 Elm Road.pdf", "application/pdf", False)]
    assert reply.message_id == "4A7B9C2D-1E3F-4A5B-8C6D-7E8F9A0B1C2D@firm.example"
    assert [(v.method, v.result, v.domain, v.header_index) for v in reply.auth_results] == [
        ("dmarc", "fail", "firm.example", 0), ("dkim", "none", "", 1), ("dkim-atps", "neutral", "", 1),
        ("spf", "softfail", "firm.example", 2)]


def test_iphone_pasted_photo_is_an_attachment() -> None:
    reply = parse_reply(sample("iphone_mail.eml"))
    assert len(reply.attachments) == 1
    photo = reply.attachments[0]
    assert (photo.filename, photo.mime_type, photo.inline) == ("IMG_4127.jpeg", "image/jpeg", True)
    assert photo.content_id == "3b6f4c1e-9d2a-4e7b-a5c8-1f2e3d4c5b6a"
    assert photo.data[:2] == b"\xff\xd8" and len(photo.data) > 4000


def test_gmail_signature_icon_is_not_an_attachment_and_postfix_verdicts_in_order() -> None:
    raw = sample("gmail_web.eml")
    reply = parse_reply(raw)
    assert b"linkedin.png" in raw and reply.attachments == []
    assert reply.from_address == "jane.smith.law@gmail.com"
    assert [(v.authserv_id, v.method, v.result, v.domain, v.header_index) for v in reply.auth_results] == [
        ("mx.onfile.firm.example", "dmarc", "pass", "gmail.com", 0),
        ("mx.onfile.firm.example", "dkim", "pass", "gmail.com", 1),
        ("mx.onfile.firm.example", "dkim-atps", "neutral", "", 1),
        ("mx.onfile.firm.example", "spf", "pass", "gmail.com", 2)]
    assert ("header.s", "20230601") in reply.auth_results[1].properties


def test_attached_email_is_an_eml_named_after_its_subject() -> None:
    reply = parse_reply(sample("outlook_forward_as_attachment.eml"))
    assert [(a.filename, a.mime_type) for a in reply.attachments] == [
        ("Lease – 12 Elm Road (signed).eml", "message/rfc822")]
    inner = BytesParser(policy=policy.default).parsebytes(reply.attachments[0].data)
    assert str(inner["Subject"]) == "Lease – 12 Elm Road (signed)"
    assert "signed counterpart" in inner.get_body().get_content()  # type: ignore[union-attr]


def test_winmail_dat_is_returned_as_it_is() -> None:
    reply = parse_reply(sample("outlook_winmail_dat.eml"))
    assert [(a.filename, a.mime_type) for a in reply.attachments] == [("winmail.dat", "application/ms-tnef")]
    assert reply.attachments[0].data[:4] == b"\x78\x9f\x3e\x22"  # the TNEF signature, not unpacked


def test_charsets_of_the_other_clients() -> None:
    assert parse_reply(sample("thebat_koi8r_bottom_post.eml")).subject == "Re: WhatsApp: Сэм Пател (+447700900123)"
    japanese = parse_reply(sample("thunderbird_japanese_iso2022jp.eml"))
    assert japanese.from_name == "ジェーン・スミス"
    assert parse_reply(sample("foxmail_gb2312.eml")).subject == "回复：WhatsApp: Sam Patel (+447700900123)"


# ---- attachments: the decoration rule -----------------------------------------------------------


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))  # incompressible: a real size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def related(html: str, images: list[tuple[str, str, bytes, str]]) -> bytes:
    """An HTML reply (multipart/related) with images: (cid, file name, data, disposition)."""
    parts = ["--R\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n"]
    for cid, name, data, disposition in images:
        parts.append(f"--R\nContent-Type: image/png; name=\"{name}\"\nContent-Disposition: {disposition}; "
                     f"filename=\"{name}\"\nContent-ID: <{cid}>\nContent-Transfer-Encoding: base64\n\n"
                     + base64.encodebytes(data).decode() + "\n")
    return simple(body="".join(parts) + "--R--\n", content_type='multipart/related; boundary="R"')


QUOTE = ('<div id="divRplyFwdMsg"><b>From:</b> Sam<br><b>Sent:</b> Monday<br><b>To:</b> Jane<br>'
         '<b>Subject:</b> WhatsApp</div><div>Can I send you a photo? <img src="cid:their@x"></div>')


def test_pasted_photo_is_kept_and_signature_logo_is_not() -> None:
    photo, logo = png(400, 300), png(200, 60)
    html = ('<div>Here is the plan of the flat:</div><div><img src="cid:photo@x"></div><div><br></div>'
            '<div>Kind regards,</div><div>Jane Smith</div><div>Smith &amp; Co LLP</div>'
            '<div><img src="cid:logo@x"></div>' + QUOTE)
    reply = parse_reply(related(html, [("photo@x", "image001.png", photo, "inline"),
                                       ("logo@x", "image002.png", logo, "inline"),
                                       ("their@x", "image003.png", png(300, 300), "inline")]))
    assert reply.text == "Here is the plan of the flat:"
    assert [(a.filename, a.inline, a.data == photo) for a in reply.attachments] == [("image001.png", True, True)]


def test_signature_image_marked_as_attachment_is_still_decoration() -> None:
    """Outlook for Mac and some gateways mark inline signature images "attachment"."""
    html = '<div>Yes.</div><div class="gmail_signature">Jane<img src="cid:logo@x"></div>'
    reply = parse_reply(related(html, [("logo@x", "logo.png", png(200, 60), "attachment")]))
    assert reply.attachments == []


def test_tiny_inline_images_are_not_attachments_unless_attached() -> None:
    html = '<div>See the attached.</div>'
    reply = parse_reply(related(html, [("pixel@x", "pixel.png", png(1, 1), "inline"),
                                       ("icon@x", "icon.png", png(16, 16), "attachment"),
                                       ("pic@x", "pic.png", png(65, 20), "inline")]))
    assert [a.filename for a in reply.attachments] == ["icon.png", "pic.png"]
    assert reply.attachments[1].inline is False  # not referenced from the text: attached, not shown


def test_file_names_are_sanitised_or_made_up() -> None:
    body = ("--M\nContent-Type: text/plain\n\nSee attached.\n"
            "--M\nContent-Type: application/pdf\n"
            "Content-Disposition: attachment; filename=\"..\\\\..\\\\evil\\\\a:b?.pdf\"\n"
            "Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
            "--M\nContent-Type: image/jpeg\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(b"\xff\xd8" + os.urandom(2000)).decode()
            + "--M\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"   \"\n\nxyz\n"
            "--M--\n")
    reply = parse_reply(simple(body=body, content_type="multipart/mixed; boundary=M"))
    assert [(a.filename, a.mime_type) for a in reply.attachments] == [
        ("a_b_.pdf", "application/pdf"), ("image-2.jpg", "image/jpeg"),
        ("attachment-3.bin", "application/octet-stream")]


# ---- automatic mail -----------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "reason"), [
    ("Auto-Submitted: auto-replied\n", "Auto-Submitted: auto-replied"),
    ("Auto-Submitted: auto-generated; owner-email=\"jane@firm.example\"\n", "Auto-Submitted: auto-generated"),
    ("X-Autoreply: yes\n", "X-Autoreply header"),
    ("X-Autorespond: Out of office\n", "X-Autorespond header"),
    ("Precedence: bulk\n", "Precedence: bulk"),
    ("Precedence: junk\n", "Precedence: junk"),
    ("Precedence: list\n", "Precedence: list"),
    ("List-Id: Firm news <news.firm.example>\n", "List-Id header"),
    ("List-Unsubscribe: <mailto:leave@firm.example>\n", "List-Unsubscribe header"),
    ("Return-Path: <>\n", "null sender (Return-Path: <>)"),
    ("X-Loop: onfile@firm.example\n", "X-Loop header"),
    ("X-Onfile-Loop: 1\n", "X-Onfile-Loop"),
])
def test_automatic_mail_is_recognised(headers: str, reason: str) -> None:
    assert parse_reply(simple(headers)).auto_reply.startswith(reason)


def test_onfile_own_email_coming_back_is_automatic() -> None:
    """compliance.md §2.5: onfile's emails carry Auto-Submitted and Precedence (compose._common)."""
    raw = simple("Auto-Submitted: auto-generated\nPrecedence: bulk\n",
                 base="From: Sam Patel via WhatsApp <whatsapp@firm.example>\nTo: jane@firm.example\n"
                      "Subject: WhatsApp: Sam Patel (+447700900123)\n")
    assert parse_reply(raw).auto_reply == "Auto-Submitted: auto-generated"


@pytest.mark.parametrize("subject", [
    "Automatic reply: WhatsApp: Sam", "Out of Office: WhatsApp: Sam", "Out of Office AutoReply: WhatsApp",
    "Abwesenheitsnotiz: WhatsApp: Sam", "Automatische Antwort: WhatsApp: Sam", "Réponse automatique : WhatsApp: Sam",
    "=?utf-8?Q?R=C3=A9ponse_automatique=C2=A0:_WhatsApp?=",
])
def test_out_of_office_subjects(subject: str) -> None:
    base = f"From: Jane <jane@firm.example>\nTo: reply+abc@onfile.firm.example\nSubject: {subject}\n"
    assert parse_reply(simple(base=base)).auto_reply.startswith("out-of-office subject")


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.firm.example", "postmaster@firm.example"])
def test_mailer_daemon_and_postmaster(sender: str) -> None:
    base = f"From: Mail Delivery System <{sender}>\nTo: reply+abc@onfile.firm.example\nSubject: Undeliverable\n"
    assert parse_reply(simple(base=base)).auto_reply.startswith("sender is ")


def test_envelope_sender() -> None:
    assert parse_reply(simple(), envelope_sender="").auto_reply == "null envelope sender (<>)"
    assert parse_reply(simple(), envelope_sender="<>").auto_reply == "null envelope sender (<>)"
    assert parse_reply(simple(), envelope_sender="jane@firm.example").auto_reply == ""


def test_ordinary_replies_are_not_automatic() -> None:
    assert parse_reply(simple("Auto-Submitted: no\nX-Auto-Response-Suppress: DR, OOF, AutoReply\n")).auto_reply == ""
    for name in EXPECTED:
        if name != "outlook_out_of_office.eml":
            assert parse_reply(sample(name)).auto_reply == "", name


def test_reports_and_out_of_office_samples() -> None:
    assert parse_reply(sample("outlook_out_of_office.eml")).auto_reply == "Auto-Submitted: auto-generated"
    bounce = parse_reply(sample("postfix_bounce.eml"))
    assert bounce.auto_reply == "Auto-Submitted: auto-replied"
    assert bounce.from_address == "mailer-daemon@mx.firm.example" and bounce.attachments == []
    receipt = parse_reply(sample("outlook_read_receipt.eml"))
    assert receipt.auto_reply == "multipart/report (disposition-notification)"
    # Without the other signs, a delivery report is still recognised by its MIME type.
    stripped = sample("postfix_bounce.eml").replace(b"Auto-Submitted: auto-replied\r\n", b"").replace(
        b"Return-Path: <>\r\n", b"").replace(b"MAILER-DAEMON@", b"mail@")
    assert parse_reply(stripped).auto_reply == "multipart/report (delivery-status)"


# ---- Authentication-Results ---------------------------------------------------------------------


def verdicts(*values: str) -> list[AuthVerdict]:
    return parse_reply(simple("".join(f"Authentication-Results: {v}\n" for v in values))).auth_results


def test_microsoft_365_header_without_authserv_id() -> None:
    got = verdicts("spf=pass (sender IP is 209.85.208.47)\n smtp.mailfrom=gmail.com; dkim=pass (signature was "
                   "verified)\n header.d=gmail.com;dmarc=pass action=none header.from=gmail.com;compauth=pass\n"
                   " reason=100")
    assert [(v.authserv_id, v.method, v.result, v.domain, v.reason) for v in got] == [
        ("", "spf", "pass", "gmail.com", ""), ("", "dkim", "pass", "gmail.com", ""),
        ("", "dmarc", "pass", "gmail.com", ""), ("", "compauth", "pass", "", "100")]
    failing = verdicts("spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=firm.example; dkim=none (message not "
                       "signed) header.d=none;dmarc=fail action=quarantine header.from=firm.example;compauth=fail "
                       "reason=001")
    assert [(v.method, v.result, v.domain) for v in failing] == [
        ("spf", "fail", "firm.example"), ("dkim", "none", ""), ("dmarc", "fail", "firm.example"),
        ("compauth", "fail", "")]


def test_google_header() -> None:
    got = verdicts("mx.google.com;\n       dkim=pass header.i=@firm.example header.s=google header.b=\"AbCd1234\";\n"
                   "       spf=pass (google.com: domain of jane@firm.example designates 209.85.220.41 as permitted "
                   "sender) smtp.mailfrom=jane@firm.example;\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) "
                   "header.from=firm.example")
    assert [(v.authserv_id, v.method, v.result, v.domain) for v in got] == [
        ("mx.google.com", "dkim", "pass", "firm.example"), ("mx.google.com", "spf", "pass", "firm.example"),
        ("mx.google.com", "dmarc", "pass", "firm.example")]
    assert ("smtp.mailfrom", "jane@firm.example") in got[1].properties


def test_postfix_opendmarc_gateway_headers_in_header_order() -> None:
    got = verdicts("mail.firm.example; dmarc=pass (p=reject dis=none) header.from=firm.example",
                   "mail.firm.example;\n\tdkim=pass (2048-bit key; unprotected) header.d=firm.example "
                   "header.i=@firm.example header.a=rsa-sha256 header.s=mail header.b=Xy12AbCd",
                   "mail.firm.example; spf=pass smtp.mailfrom=firm.example")
    assert [(v.authserv_id, v.method, v.result, v.domain, v.header_index) for v in got] == [
        ("mail.firm.example", "dmarc", "pass", "firm.example", 0),
        ("mail.firm.example", "dkim", "pass", "firm.example", 1),
        ("mail.firm.example", "spf", "pass", "firm.example", 2)]


def test_malformed_authentication_results_are_skipped_and_keep_their_place() -> None:
    raw = simple("Authentication-Results: mx.onfile.firm.example;;; dmarc\n"
                 "Authentication-Results: attacker.example; dmarc=pass header.from=firm.example\n")
    reply = parse_reply(raw)
    assert [(v.authserv_id, v.header_index) for v in reply.auth_results] == [("attacker.example", 1)]
    assert any("Authentication-Results header 1 could not be read" in d for d in reply.defects)
    none = parse_reply(simple("Authentication-Results: mx.onfile.firm.example; none\n"))
    assert none.auth_results == [] and none.defects == []


# ---- headers and charsets -----------------------------------------------------------------------


def test_addresses_ids_and_recipients() -> None:
    raw = simple(base="From: \"Smith, Jane\" <Jane.Smith@Firm.Example>\n"
                      "To: Sam via WhatsApp <Reply+ABC@onfile.firm.example>, other@firm.example\n"
                      "Cc: team@firm.example, other@firm.example\n"
                      "Delivered-To: reply+abc@onfile.firm.example\nX-Original-To: reply+abc@onfile.firm.example\n"
                      "Reply-To: Jane <jane.private@example.org>\nSubject: =?utf-8?B?UmU6IMOcYmVyZ2FiZQ==?=\n"
                      "Message-ID: abc-no-brackets@firm.example\nIn-Reply-To: Sam's message <p1@x> <p2@x>\n"
                      "References: <r1@x>\n <r2@x> <r1@x>\n")
    reply = parse_reply(raw)
    assert (reply.from_address, reply.from_name) == ("jane.smith@firm.example", "Smith, Jane")
    assert reply.recipients == ["reply+abc@onfile.firm.example", "other@firm.example", "team@firm.example"]
    assert reply.reply_to_addresses == ["jane.private@example.org"]
    assert reply.subject == "Re: Übergabe"
    assert reply.message_id == "abc-no-brackets@firm.example"
    assert reply.in_reply_to == "p1@x"
    assert reply.references == ["r1@x", "r2@x"]


def test_missing_headers_are_empty() -> None:
    reply = parse_reply(b"Subject: hello\n\nJust this.\n")
    assert (reply.message_id, reply.from_address, reply.from_name, reply.in_reply_to) == ("", "", "", "")
    assert reply.recipients == [] and reply.references == [] and reply.date is None
    assert reply.text == "Just this."


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252() -> None:
    raw = ("From: Jörg Müller <joerg@firm.example>\nSubject: Grüße\n\nok\n").encode()
    assert (parse_reply(raw).from_name, parse_reply(raw).subject) == ("Jörg Müller", "Grüße")
    latin = ("From: Jörg Müller <joerg@firm.example>\nSubject: Grüße\n\nok\n").encode("cp1252")
    assert (parse_reply(latin).from_name, parse_reply(latin).subject) == ("Jörg Müller", "Grüße")


def test_unknown_charset_falls_back_and_says_so() -> None:
    reply = parse_reply(simple(body="Prüfung bestanden.\n", content_type="text/plain; charset=x-no-such"))
    assert reply.text == "Prüfung bestanden."
    assert any("unknown charset 'x-no-such': read as UTF-8" in d for d in reply.defects)
    cp = simple(content_type="text/plain; charset=x-no-such").replace(
        b"Fine, thanks.", "Caf\xe9 \x93ok\x94 \x81".encode("latin-1"))
    reply = parse_reply(cp)
    assert reply.text == "Café “ok” \x81"  # every byte kept: 0x81 has no windows-1252 meaning
    assert any("read as windows-1252" in d for d in reply.defects)


def test_iso_8859_1_is_read_as_windows_1252_and_bad_utf8_is_replaced() -> None:
    raw = simple(content_type="text/plain; charset=iso-8859-1").replace(b"Fine, thanks.", b"\x93Fine\x94 \x80 5")
    assert parse_reply(raw).text == "“Fine” € 5"
    bad = simple().replace(b"Fine, thanks.", b"Fine \xff thanks.")
    reply = parse_reply(bad)
    assert reply.text == "Fine \ufffd thanks." and any("'utf-8'" in d for d in reply.defects)


def test_transfer_encodings() -> None:
    qp = simple("Content-Transfer-Encoding: quoted-printable\n", body="Gr=C3=BC=C3=9Fe, sch=C3=B6n=\nes Wetter.\n")
    assert parse_reply(qp).text == "Grüße, schönes Wetter."
    b64 = simple("Content-Transfer-Encoding: base64\n", body=base64.encodebytes("Grüße 👋".encode()).decode())
    assert parse_reply(b64).text == "Grüße 👋"
    broken = simple("Content-Transfer-Encoding: base64\n", body="R3LDvMOfZ\n")
    reply = parse_reply(broken)
    assert reply.text == "Grüß"  # whatever decodes is kept, and the broken base64 is reported
    assert reply.defects == ["message: invalid base64 length"]


def test_format_flowed() -> None:
    body = "This is a long line that \nwas wrapped by the client.\n\n> quoted text that \n> goes on.\n"
    assert replytext.unflow(body) == (
        "This is a long line that was wrapped by the client.\n\n> quoted text that goes on.\n")
    assert replytext.unflow("abc \ndef\n", delsp=True) == "abcdef\n"
    assert replytext.unflow("-- \nJane\n") == "-- \nJane\n"  # the signature delimiter is not flowed


# ---- the splitter on its own: what it must not cut ----------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # Lines that look like header fields but are the reply (mail-parser-reply cuts at "From: 1 June").
    ("The hearing window is:\nFrom: 1 June\nTo: 5 June\n\nJane",
     "The hearing window is:\nFrom: 1 June\nTo: 5 June\n\nJane"),
    ("The hearing window is:\nFrom: 1 June\nTo: 5 June\nPlease confirm by Friday.",
     "The hearing window is:\nFrom: 1 June\nTo: 5 June\nPlease confirm by Friday."),
    # A list with hyphens is not a signature.
    ("The steps are:\n- sign the lease\n- send it back\n\nJane",
     "The steps are:\n- sign the lease\n- send it back\n\nJane"),
    # "Thanks, …" that goes on is a sentence, not a valediction.
    ("Hi Sam,\n\nThanks, that's received. I'll file it today.\n\nJane",
     "Hi Sam,\n\nThanks, that's received. I'll file it today.\n\nJane"),
    # A valediction with a long text after it is not the start of a signature.
    ("Hi Sam,\n\nThanks!\n\n" + "\n".join(f"Point {i}." for i in range(20)),
     "Hi Sam,\n\nThanks!\n\n" + "\n".join(f"Point {i}." for i in range(20))),
    ("Thanks!", "Thanks!"),
    ("> Can we meet?\n\nYes, at 2.", "Yes, at 2."),
    ("Fine.\n\n-----Original Message-----\nFrom: Sam\nSent: Monday\nTo: Jane\nSubject: x\n\nhello", "Fine."),
    ("OK\n\nOn Mon, 1 Jun 2026, 10:02 Sam Patel, <sam@example.com> wrote:\n> hello", "OK"),
    ("Ja.\n\nAm 01.06.2026 um 10:02 schrieb Sam Patel <sam@example.com>:\n> hallo", "Ja."),
    ("Oui.\n\nLe lun. 1 juin 2026 à 10:02, Sam Patel <sam@example.com> a écrit :\n> bonjour", "Oui."),
    ("Sí.\n\nEl lun, 1 jun 2026 a las 10:02, Sam Patel (<sam@example.com>) escribió:\n> hola", "Sí."),
    ("Sì.\n\nDa: Sam Patel <sam@example.com>\nInviato: lunedì 1 giugno 2026 10:02\nA: Jane\nOggetto: WhatsApp\n\nciao",
     "Sì."),
    ("はい。\n\n2026年6月1日(月) 10:02 Sam Patel <sam@example.com>:\n> こんにちは", "はい。"),
    ("Yes.\n\nSent from my Galaxy\n\n-------- Original message --------\nFrom: Sam", "Yes."),
    # Outlook header blocks that only mail-parser-reply's patterns know (Chinese, Czech, Korean Outlook).
    ("好的。\n\n发件人: Sam Patel <sam@example.com>\n发送时间: 2026年6月1日 10:02\n收件人: Jane\n"
     "主题: WhatsApp\n\n你好", "好的。"),
    ("Ano.\n\nOd: Sam Patel <sam@example.com>\nOdesláno: pondělí 1. června 2026 10:02\nKomu: Jane\n"
     "Předmět: WhatsApp\n\nahoj", "Ano."),
    ("네.\n\n보낸 사람: Sam Patel <sam@example.com>\n보낸 날짜: 2026년 6월 1일 월요일 오전 10:02\n받는 사람: Jane\n"
     "제목: WhatsApp\n\n안녕", "네."),
    ("Yes.\n\nVon meinem iPhone gesendet\n\n> Am 01.06.2026 um 10:02 schrieb Sam:", "Yes."),
])
def test_split_reply(text: str, expected: str) -> None:
    assert replytext.split_reply(text).text == expected


def test_html_to_text() -> None:
    html = ("<html><head><title>t</title><style>p {color:red}</style><script>alert(1)</script></head><body>"
            "<p>First &amp; <b>second</b>&nbsp;word</p><p>Next paragraph<br>new line</p>"
            "<div>A div</div><div><br></div><div>After a blank</div>"
            "<ul><li>one</li><li>two</li></ul><a href=\"https://example.com/x\">the form</a>"
            "<blockquote>quoted<blockquote>deeper</blockquote></blockquote><![weird section<p>still here</p>"
            "</body></html>")
    assert replytext.html_to_text(html) == (
        "First & second word\n\nNext paragraph\nnew line\n\nA div\n\nAfter a blank\n- one\n- two\n"
        "the form <https://example.com/x>\n> quoted\n> > deeper\n<![weird section\n\nstill here")


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"", b"   \r\n\r\n", b"\x00\x01\x02binary\x00junk", b"just some words, no headers at all\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"Foo: bar\nBaz: qux\n\nnot an email either\n",
    b"%PDF-1.4\n1 0 obj\n", b"Subject: x\x00y\n\nbody",
])
def test_not_an_email(raw: bytes) -> None:
    with pytest.raises(MalformedEmail) as caught:
        parse_reply(raw)
    assert "not an email" in str(caught.value) or "empty" in str(caught.value)


def test_defects_are_recorded_not_raised() -> None:
    raw = (b"From: Jane <jane@firm.example>\nSubject: x\nContent-Type: multipart/mixed; boundary=Q\n\n"
           b"--Q\nContent-Type: text/plain\n\nThe text.\n")  # no closing boundary
    reply = parse_reply(raw)
    assert reply.text == "The text."
    assert any("close boundary" in d for d in reply.defects)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_raise_nothing_but_malformed_email(raw: bytes) -> None:
    with contextlib.suppress(MalformedEmail):
        parse_reply(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(p.name for p in SAMPLES.glob("*.eml"))), st.randoms(use_true_random=False),
       st.integers(min_value=1, max_value=12))
def test_mutated_samples_raise_nothing_but_malformed_email(name: str, rnd: random.Random, edits: int) -> None:
    data = bytearray(sample(name))
    tokens = [b"\r\n", b"--", b"=?", b"?=", b"<", b">", b":", b";", b"\"", b"=", b"\x00", b"\xff", b"<![",
              b"Content-Type: multipart/mixed; boundary=", b"charset=", b"base64", b"<blockquote>", b"cid:"]
    for _ in range(edits):
        if not data:
            break
        at = rnd.randrange(len(data))
        action = rnd.randrange(4)
        if action == 0:
            data[at] = rnd.randrange(256)
        elif action == 1:
            del data[at:at + rnd.randrange(1, 200)]
        elif action == 2:
            data[at:at] = rnd.choice(tokens)
        else:
            data = data[:at]
    try:
        reply = parse_reply(bytes(data))
    except MalformedEmail:
        return
    assert isinstance(reply.text, str) and all(isinstance(a, Attachment) for a in reply.attachments)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"<>/!-[]&;#=\"' \nabpdivbrqoteclass:cid>", "<div>", "</div>", "<blockquote>",
                                  "</blockquote>", "<br>", "<![", "<!--", "-->", "&nbsp;", "> ", "On x wrote:",
                                  "From: a", "Subject: b", "-- ", "Thanks,", "\x00onfile-cut\x00"]),
                max_size=200).map("".join))
def test_html_and_split_never_raise(text: str) -> None:
    for marks in (False, True):
        rendered = replytext.html_to_text(text, marks=marks)
        assert isinstance(replytext.split_reply(rendered).text, str)
    assert isinstance(replytext.split_reply(text).text, str)


# ---- size ---------------------------------------------------------------------------------------


def big_email() -> bytes:
    data = os.urandom(6 * 1024 * 1024)
    text = ("A long reply about the lease and the completion statement, and then some more words. " * 2 + "\n") * 20000
    return (b"From: Jane <jane@firm.example>\r\nTo: reply+abc@onfile.firm.example\r\nSubject: big\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
            b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() + b"\r\n"
            b"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")
            + b"--B--\r\n")


def test_memory_is_a_small_multiple_of_the_input() -> None:
    """The peak is the email package's own parser (it holds the message as text, as lines while
    reading, and the decoded parts); parse_reply adds little to it."""
    raw = big_email()
    tracemalloc.start()
    try:
        BytesParser(policy=policy.default).parsebytes(raw)
        parser_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        tracemalloc.stop()
        tracemalloc.start()
        reply = parse_reply(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(reply.attachments[0].data) == 6 * 1024 * 1024
    assert peak < parser_peak * 1.3
    assert peak < 9 * len(raw)


def test_long_lines_and_large_html_take_linear_time() -> None:
    started = time.monotonic()
    reply = parse_reply(b"From: a@firm.example\nSubject: x\n\nOn " + b"Monday " * 300_000 + b" wrote:\n> q\n")
    assert reply.text.startswith("On Monday")
    html = b"From: a@firm.example\nContent-Type: text/html\n\n" + b"<div>Hello <b>Sam</b></div>\n" * 50_000
    assert parse_reply(html).text.count("\n") == 49_999
    assert time.monotonic() - started < 20


def test_large_inputs_io_roundtrip() -> None:
    """parse_reply takes bytes-like input as it comes from a socket or a file."""
    raw = sample("gmail_web.eml")
    assert parse_reply(bytearray(raw)).text == parse_reply(memoryview(raw)).text == EXPECTED["gmail_web.eml"]
    with pytest.raises(TypeError):
        parse_reply(io.BytesIO(raw))  # type: ignore[arg-type]
