"""The projection: clients, matters, firm numbers, conversations, messages, attachments.

Every row here is derived from the ledger and its blobs (ARCHITECTURE invariant 3) by the
projectors in ``projectors.py``; ``onfile rebuild`` drops these tables and replays the
ledger to recreate them identically. Nothing writes these models except a projector.
Edits and deletions never overwrite: ``MessageRevision`` keeps every earlier text.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Client(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person"
        COMPANY = "company"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=300)
    email = models.EmailField(blank=True)
    created_seq = models.BigIntegerField(help_text="ledger entry that created it")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.name


class ClientIdentity(models.Model):
    """A way to reach a client: an E.164 number (normalised by phonenumbers) or a WhatsApp
    business-scoped user id, which may come without any phone number."""

    class Kind(models.TextChoices):
        PHONE = "phone"
        BSUID = "bsuid"
        EMAIL = "email"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="unique_client_identity")]


class Matter(models.Model):
    reference = models.CharField(max_length=100, unique=True, help_text="the firm's matter reference")
    title = models.CharField(max_length=300, blank=True)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="matters")
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    practice_area = models.CharField(max_length=120, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Ethical wall (invariant 6): "" = none; "only" = only the listed people may see the
    # matter's conversations; "except" = everyone who otherwise could, except the listed people.
    wall_mode = models.CharField(max_length=10, blank=True, default="")
    wall_members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="wall_matters")
    # File-by-email (channels/email/filing.py): the document system's address for this matter (an
    # iManage/NetDocuments filing address); "" = not filed. Set by ``do_update_matter``, sealed in the ledger.
    filing_address = models.EmailField(blank=True, default="")
    filing_mode = models.CharField(max_length=10, choices=[("message", "each message"), ("day", "daily digest")],
                                   default="message")

    class Meta:
        # The access layer finds walled matters on every read (access.walled_matters).
        indexes = [models.Index(fields=["wall_mode"], name="matter_walled")]

    def __str__(self) -> str:
        return self.reference


class FirmNumber(models.Model):
    """A firm WhatsApp number on the Business Platform (phone_number_id → number)."""

    phone_number_id = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=32, help_text="E.164")
    display_name = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL)
    configured = models.BooleanField(default=True, help_text="false when seen in a webhook but not configured")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              help_text="whose WhatsApp Business app shares this number (coexistence)")

    def __str__(self) -> str:
        return f"{self.display_name or self.number} ({self.phone_number_id})"


class Conversation(models.Model):
    class Source(models.TextChoices):
        LIVE = "live", "Live capture"
        DEVICE = "device", "Collected from a device"

    key = models.CharField(max_length=200, unique=True, help_text="stable identity across replays")
    source = models.CharField(max_length=10, choices=Source.choices)
    title = models.CharField(max_length=300, blank=True)
    is_group = models.BooleanField(default=False)
    firm_number = models.ForeignKey(FirmNumber, null=True, blank=True, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL)
    matter = models.ForeignKey(Matter, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="conversations")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_conversations")
    flags = models.JSONField(default=list, blank=True, help_text='e.g. ["unconfigured-number"]')
    # Provenance of device collections (REQ-OCC-3): who collected, when, from which device.
    collected_by = models.CharField(max_length=200, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    custodian = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="custodian_conversations")
    device = models.CharField(max_length=200, blank=True)
    created_seq = models.BigIntegerField()
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True, help_text="opens the 24-hour window")
    recipient = models.CharField(max_length=64, blank=True, help_text="E.164 number or BSUID to send to")

    class Meta:
        indexes = [models.Index(fields=["recipient"], name="conversation_recipient")]  # search by phone number

    def __str__(self) -> str:
        return self.title or self.key


class Participant(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    display_name = models.CharField(max_length=300)
    phone = models.CharField(max_length=32, blank=True)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    is_firm = models.BooleanField(default=False, help_text="the firm's side (custodian or firm number)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "display_name"], name="unique_participant_name"),
        ]
        indexes = [models.Index(fields=["phone"], name="participant_phone")]  # search by phone number


class Message(models.Model):
    class Direction(models.TextChoices):
        IN = "in", "From the client"
        OUT = "out", "From the firm"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    key = models.CharField(max_length=200, unique=True, help_text="wamid, or a derived id for imports")
    wamid = models.CharField(max_length=200, blank=True, db_index=True)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    type = models.CharField(max_length=20, default="text")
    system_event = models.CharField(max_length=40, blank=True)
    body = models.TextField(blank=True)
    sender = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.SET_NULL)
    sender_name = models.CharField(max_length=300, blank=True)
    sender_phone = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(null=True, blank=True)
    position = models.BigIntegerField(default=0, help_text="order within the conversation")
    reply_to_key = models.CharField(max_length=200, blank=True)
    forwarded = models.BooleanField(default=False)
    edited = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False, help_text="deleted by its sender; the original is kept")
    status = models.CharField(max_length=12, blank=True, help_text="latest delivery status (outgoing)")
    data = models.JSONField(default=dict, blank=True, help_text="type-specific fields: location, contacts …")
    # Provenance: the ledger entry that recorded it, the capture it came from, where in it.
    source_seq = models.BigIntegerField()
    capture_seq = models.BigIntegerField(null=True, blank=True)
    source_ref = models.CharField(max_length=100, blank=True, help_text='e.g. "lines 12-14" or "row 873"')
    anomalies = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["conversation", "position"]
        indexes = [models.Index(fields=["conversation", "position"])]


class MessageRevision(models.Model):
    """An earlier text of an edited or deleted message (never overwritten; REQ-SEC-4)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=10)  # "edit" | "delete"
    body = models.TextField(blank=True)
    at = models.DateTimeField()
    source_seq = models.BigIntegerField()


class MessageStatus(models.Model):
    message = models.ForeignKey(Message, null=True, on_delete=models.CASCADE, related_name="statuses")
    message_key = models.CharField(max_length=200, db_index=True)
    status = models.CharField(max_length=12)
    at = models.DateTimeField()
    error = models.JSONField(default=dict, blank=True)
    source_seq = models.BigIntegerField()


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    sender_name = models.CharField(max_length=300)
    emoji = models.CharField(max_length=32, blank=True, help_text="empty when the reaction was removed")
    at = models.DateTimeField(null=True, blank=True)
    source_seq = models.BigIntegerField()


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    blob = models.ForeignKey("ledger.Blob", null=True, blank=True, on_delete=models.PROTECT)
    mime_type = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="of the original file")
    placeholder = models.CharField(max_length=40, blank=True,
                                   help_text='why there are no bytes: "omitted", "missing", "not-fetched"')
    media_id = models.CharField(max_length=64, blank=True, help_text="the WhatsApp media id, until fetched")
    caption = models.TextField(blank=True)


class Note(models.Model):
    """An internal note on a conversation: ledgered, never sent to the client."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    body = models.TextField()
    at = models.DateTimeField()
    source_seq = models.BigIntegerField()


class ReadMarker(models.Model):
    """How far a staff member has read a conversation: projected from their audited views, so
    "unread" is exactly "not yet shown to you" and survives a rebuild."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="read_markers")
    position = models.BigIntegerField(default=-1)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="unique_read_marker")]
