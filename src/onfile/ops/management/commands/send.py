"""``onfile send``: send to a client's WhatsApp through the outbox."""

from __future__ import annotations

import getpass
import json
import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.channels.whatsapp.config import NotConfigured
from onfile.channels.whatsapp.sending import Outgoing, SendError, deliver_sends, do_send, templates, window_open
from onfile.conversations.models import Conversation, Message


class Command(BaseCommand):
    help = "Send text, a file, a reply, a reaction or a template to a conversation's client on WhatsApp."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversation", type=int, required=True)
        parser.add_argument("--text", default="")
        parser.add_argument("--file", type=Path, help="an image, video, audio file or document to send")
        parser.add_argument("--as", dest="kind", default="", choices=["", "image", "video", "audio", "document",
                                                                      "sticker"], help="how to send --file")
        parser.add_argument("--caption", default="")
        parser.add_argument("--reply-to", default="", help="wamid of the message to quote")
        parser.add_argument("--react", default="", help="wamid of the message to react to (with --emoji)")
        parser.add_argument("--emoji", default="")
        parser.add_argument("--template", default="")
        parser.add_argument("--language", default="")
        parser.add_argument("--param", action="append", default=[], help="a template body parameter (repeatable)")
        parser.add_argument("--templates", action="store_true", help="list the templates that can be sent")
        parser.add_argument("--now", action="store_true", help="deliver at once instead of leaving it to the worker")
        parser.add_argument("--actor", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        conversation = Conversation.objects.filter(pk=options["conversation"]).select_related("firm_number").first()
        if conversation is None:
            raise CommandError(f"there is no conversation {options['conversation']} (see 'onfile conversations')")
        if options["templates"]:
            self._templates(conversation)
            return
        out = Outgoing(text=options["text"], caption=options["caption"], reply_to=options["reply_to"],
                       react_to=options["react"], emoji=options["emoji"], template=options["template"],
                       language=options["language"], params=options["param"], kind=options["kind"])
        if options["file"] is not None:
            path: Path = options["file"]
            try:
                out.data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None
            out.filename = path.name
            out.mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            message = do_send(conversation, out, options["actor"] or f"cli:{getpass.getuser()}")
            if options["now"]:
                deliver_sends()
        except (SendError, NotConfigured) as exc:
            raise CommandError(str(exc)) from None
        message = Message.objects.get(pk=message.pk)
        result = {"message": message.key, "status": message.status, "wamid": message.wamid or None,
                  "window_open": window_open(conversation)}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"queued {message.key} ({message.type}); status {message.status}"
                              + (f", wamid {message.wamid}" if message.wamid else ""))

    def _templates(self, conversation: Conversation) -> None:
        try:
            found = templates(conversation)
        except NotConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"window_open": window_open(conversation), "templates": found}))
