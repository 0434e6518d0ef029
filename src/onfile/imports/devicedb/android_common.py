"""What the current and legacy Android readers share: names, kinds, system-event wording.

Names come from ``wa.db`` (``wa_contacts.display_name`` = the custodian's address-book name,
else ``wa_name`` = the contact's own push name), then msgstore's ``lid_display_name``, then
the phone number. Newer databases identify some people by a privacy "LID" (``…@lid``);
``jid_map`` (lid_row_id → jid_row_id) gives the phone JID behind it when the device knows it.
An unmapped LID keeps its full JID as ``sender_id`` so it is never mistaken for a phone number.
The owner's own JID is not stored reliably (see frozenspider's notes); only the push name in
``props.user_push_name`` is used.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from onfile.imports import records as r
from onfile.imports.devicedb import codes
from onfile.imports.devicedb.common import DeviceDbError, Schema, as_int, as_str, open_readonly, phone_of

ME_FALLBACK = "Me"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a row refers to: the JID as stored, the phone JID behind it, and how to show them."""

    jid: str | None
    name: str | None
    sender_id: str | None


@dataclass(slots=True)
class AndroidContacts:
    """JID rows, the LID map and display names, loaded once per database."""

    wa_names: dict[str, str] = field(default_factory=dict)
    jid_rows: dict[int, str] = field(default_factory=dict)
    lid_to_phone: dict[str, str] = field(default_factory=dict)
    lid_names: dict[str, str] = field(default_factory=dict)
    me_name: str | None = None
    notes: list[str] = field(default_factory=list)  # copied into every chat's anomalies

    @classmethod
    def load(cls, conn: sqlite3.Connection, schema: Schema, wa_db: Path | None) -> AndroidContacts:
        contacts = cls()
        contacts._load_jids(conn, schema)
        contacts._load_props(conn, schema)
        if wa_db is not None:
            contacts._load_wa_db(wa_db)
        return contacts

    def _load_jids(self, conn: sqlite3.Connection, schema: Schema) -> None:
        if schema.has("jid", "_id", "user", "server"):
            raw = "raw_string" if schema.has("jid", "raw_string") else "NULL"
            sql = f"SELECT _id, user, server, {raw} FROM jid"  # noqa: S608 (schema identifiers)
            for row in conn.execute(sql):
                text = as_str(row[3]) or f"{as_str(row[1]) or ''}@{as_str(row[2]) or ''}"
                self.jid_rows[int(row[0])] = text
        if schema.has("jid_map", "lid_row_id", "jid_row_id"):
            for lid_row, phone_row in conn.execute("SELECT lid_row_id, jid_row_id FROM jid_map"):
                lid, phone = (
                    self.jid_rows.get(as_int(lid_row) or 0),
                    self.jid_rows.get(as_int(phone_row) or 0),
                )
                if lid and phone:
                    self.lid_to_phone[lid] = phone
        if schema.has("lid_display_name", "lid_row_id", "display_name"):
            for lid_row, name in conn.execute("SELECT lid_row_id, display_name FROM lid_display_name"):
                lid = self.jid_rows.get(as_int(lid_row) or 0)
                if lid and as_str(name):
                    self.lid_names[lid] = str(name)

    def _load_props(self, conn: sqlite3.Connection, schema: Schema) -> None:
        if schema.has("props", "key", "value"):
            row = conn.execute("SELECT value FROM props WHERE key = 'user_push_name'").fetchone()
            self.me_name = as_str(row[0]) if row else None

    def _load_wa_db(self, wa_db: Path) -> None:
        try:
            conn = open_readonly(wa_db)
        except DeviceDbError as exc:
            self.notes.append(f"wa.db not used: {exc}")
            return
        try:
            wa_schema = Schema.read(conn)
            if not wa_schema.has("wa_contacts", "jid"):
                self.notes.append(f"wa.db not used: {wa_db.name} has no wa_contacts table")
                return
            cols = wa_schema.pick("wa_contacts", "w", {"display_name": "display_name", "wa_name": "wa_name"})
            sql = f"SELECT w.jid, {', '.join(cols)} FROM wa_contacts w"  # noqa: S608 (schema identifiers)
            for row in conn.execute(sql):
                jid, name = as_str(row[0]), as_str(row[1]) or as_str(row[2])
                if jid and name and jid not in self.wa_names:
                    self.wa_names[jid] = name
        finally:
            conn.close()

    # -- lookups -------------------------------------------------------------

    def by_row(self, row_id: int | None) -> Person | None:
        if not row_id or row_id <= 0:
            return None
        raw = self.jid_rows.get(row_id)
        return self.by_jid(raw) if raw else Person(jid=None, name=None, sender_id=None)

    def by_jid(self, raw: str) -> Person:
        phone_jid = self.lid_to_phone.get(raw, raw)
        phone = phone_of(phone_jid)
        name = self.wa_names.get(phone_jid) or self.wa_names.get(raw) or self.lid_names.get(raw)
        if not name:
            name = f"+{phone}" if phone else raw
        return Person(jid=raw, name=name, sender_id=phone or phone_jid)

    def phones_of(self, raw: str | None) -> list[str | None]:
        """Phone numbers a chat can be found by (its own and the one behind a LID)."""
        if not raw:
            return []
        return [phone_of(raw), phone_of(self.lid_to_phone.get(raw))]

    def me(self) -> Person:
        return Person(jid=None, name=self.me_name or ME_FALLBACK, sender_id=None)


# --------------------------------------------------------------------------- kinds


def message_kind(code: int | None, anomalies: list[str]) -> str:
    """The record kind of an Android type code; unknown codes are kept as 'unsupported'."""
    if code is None:
        anomalies.append("message_type is empty")
        return r.KIND_UNSUPPORTED
    known = codes.ANDROID_MESSAGE_TYPES.get(code)
    if known is None:
        anomalies.append(f"unknown message_type {code}")
        return r.KIND_UNSUPPORTED
    return known[0]


def refine_audio(kind: str, file_path: str | None, mime: str | None) -> str:
    """Type 2 covers voice notes and audio files alike; voice notes are opus files kept in
    ``WhatsApp Voice Notes`` (heuristic, [unverified] for every app version)."""
    if kind != r.KIND_AUDIO:
        return kind
    if (file_path and "Voice Notes" in file_path) or (mime and "opus" in mime.lower()):
        return r.KIND_VOICE
    return kind


def outgoing_status(from_me: bool, status: object) -> str | None:
    code = as_int(status)
    return codes.ANDROID_STATUS.get(code) if from_me and code is not None else None


@dataclass(slots=True)
class SystemFacts:
    """What a system row says besides its action code."""

    action: int | None
    text: str
    targets: list[str] = field(default_factory=list)
    old_number: str | None = None
    new_number: str | None = None
    is_blocked: int | None = None


def describe_system(facts: SystemFacts, anomalies: list[str]) -> tuple[str, str]:
    """(system_event, text) for an Android system row; the actor is the message's sender."""
    if facts.action is None:
        anomalies.append("system message without a message_system row")
        return "other", "system event (no action_type)"
    known = codes.ANDROID_ACTIONS.get(facts.action)
    if known is None:
        anomalies.append(f"unknown system action_type {facts.action}")
        return "other", f"system event (action_type {facts.action})"
    event, description = known
    if facts.action == codes.ANDROID_BLOCK_ACTION and facts.is_blocked == 0:
        return "unblocked", "unblocked this contact"
    return event, _wording(event, description, facts)


def _wording(event: str, description: str, facts: SystemFacts) -> str:
    quoted = f' "{facts.text}"' if facts.text else ""
    if event == "group_created" and quoted:
        return f"created group{quoted}"
    if event == "group_renamed" and quoted:
        return f"changed the group name to{quoted}"
    if event == "group_description_changed" and quoted:
        return f"changed the group description to{quoted}"
    if event in ("member_added", "member_removed") and facts.targets:
        verb = "added" if event == "member_added" else "removed"
        return f"{verb} {', '.join(facts.targets)}"
    if event == "number_changed" and (facts.old_number or facts.new_number):
        return f"changed their phone number from {facts.old_number or '?'} to {facts.new_number or '?'}"
    if event == "other":
        return f"{description} (action_type {facts.action})"
    return description
