"""Names of files inside an export zip and of downloads: safe whatever the sender called them."""

from __future__ import annotations

import pytest

from onfile.conversations.models import Attachment
from onfile.exports.common import media_path, safe_filename, size_text


@pytest.mark.parametrize("given,safe", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("..", ""),
    ("  .hidden ", "hidden"),
    ("contract\x00.pdf", "contract_.pdf"),
    ('what?<is>:this|"*.pdf', "what__is__this___.pdf"),
    ("Vertrag Müller.pdf", "Vertrag Müller.pdf"),
    ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
])
def test_a_sender_s_file_name_cannot_leave_the_media_folder(given: str, safe: str) -> None:
    assert safe_filename(given) == safe


def test_media_paths_carry_the_hash_and_a_made_up_name_when_there_is_none() -> None:
    digest = "3763a7e53e53fa86c5d6f50236f11c5f7d1622f1cba70edc8bde767f6800a011"
    photo = Attachment(sha256=digest, mime_type="image/jpeg", filename="")
    assert media_path(photo, "image") == "media/3763a7e53e53fa86-image.jpg"
    voice = Attachment(sha256=digest, mime_type="audio/ogg; codecs=opus", filename="")
    assert media_path(voice, "voice") == "media/3763a7e53e53fa86-voice.ogg"
    unknown = Attachment(pk=7, sha256="", mime_type="", filename="../x")
    assert media_path(unknown, "document") == "media/attachment7-x"


def test_sizes_read_well() -> None:
    assert size_text(None) == "size unknown" and size_text(512) == "512 bytes"
    assert size_text(48016) == "46.9 KB (48,016 bytes)" and size_text(3 * 2**30) == "3.0 GB (3,221,225,472 bytes)"
