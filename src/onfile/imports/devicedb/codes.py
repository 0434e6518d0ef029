"""Type-code tables for the WhatsApp device databases.

None of these codes is documented by WhatsApp. They were reverse-engineered by other projects
and are listed here with their source (see docs/whatsapp.md part D6):
  [K] KnugiHK/WhatsApp-Chat-Exporter (android_handler.py, utility.determine_metadata, ios_handler.py)
  [F] frozenspider/chat-history-manager (whatsapp_android.rs MessageType / SystemActionType)
  [I] sepinf-inc/IPED (ExtractorIOS.decodeMessageType, message status)
Everything is [unverified] against real app source; unknown codes are kept, never dropped, and
reported in ``anomalies`` so a new app version shows up instead of silently losing data.
"""

from __future__ import annotations

from onfile.imports import records as r

# Android ``message.message_type`` (legacy ``messages.media_wa_type``) → (kind, description). [F][K]
ANDROID_MESSAGE_TYPES: dict[int, tuple[str, str]] = {
    0: (r.KIND_TEXT, "text"),
    1: (r.KIND_IMAGE, "image"),
    2: (r.KIND_AUDIO, "audio or voice note"),
    3: (r.KIND_VIDEO, "video"),
    4: (r.KIND_CONTACT, "contact card"),
    5: (r.KIND_LOCATION, "location"),
    7: (r.KIND_SYSTEM, "system message (see action_type)"),
    9: (r.KIND_DOCUMENT, "document"),
    10: (r.KIND_CALL, "missed call"),
    11: (r.KIND_UNSUPPORTED, "waiting for this message (not decrypted on the device)"),
    13: (r.KIND_GIF, "GIF"),
    15: (r.KIND_TEXT, "deleted (revoked) message"),
    16: (r.KIND_LOCATION, "live location"),
    20: (r.KIND_STICKER, "sticker"),
    23: (r.KIND_UNSUPPORTED, "business product"),
    25: (r.KIND_UNSUPPORTED, "business product (template)"),
    27: (r.KIND_UNSUPPORTED, "one-time password"),
    28: (r.KIND_UNSUPPORTED, "WhatsApp service message"),
    36: (r.KIND_SYSTEM, "disappearing-message timer set"),
    42: (r.KIND_IMAGE, "view-once photo"),
    43: (r.KIND_VIDEO, "view-once video"),
    44: (r.KIND_UNSUPPORTED, "cart / order"),
    85: (r.KIND_UNSUPPORTED, "template / interactive message"),
    90: (r.KIND_CALL, "call"),
    99: (r.KIND_MEDIA, "album (container of the following media)"),
}
ANDROID_REVOKED = 15
ANDROID_SYSTEM = 7
ANDROID_TIMER = 36
ANDROID_WAITING = 11

# Android ``message_system.action_type`` → (system_event, description). [K][F]
ANDROID_ACTIONS: dict[int, tuple[str, str]] = {
    1: ("group_renamed", "changed the group name"),
    4: ("member_added", "was added"),
    5: ("member_left", "left"),
    6: ("group_icon_changed", "changed the group icon"),
    7: ("member_removed", "you were removed"),
    9: ("other", "created a broadcast list"),
    10: ("number_changed", "changed their phone number"),
    11: ("group_created", "created the group"),
    12: ("member_added", "added"),
    13: ("member_left", "left"),
    14: ("member_removed", "removed"),
    15: ("other", "admin rights changed"),
    18: ("security_code_changed", "security code changed"),
    19: ("encryption_notice", "messages are end-to-end encrypted"),
    20: ("member_joined_via_link", "joined using an invite link"),
    27: ("group_description_changed", "changed the group description"),
    28: ("number_changed", "changed their phone number"),
    46: ("business_account", "business account notice"),
    47: ("business_account", "this is an official business account"),
    50: ("business_account", "account changed from business to standard"),
    56: ("disappearing_timer", "disappearing-message timer changed"),
    57: ("security_code_changed", "security code changed"),
    58: ("blocked", "blocked this contact"),
    59: ("disappearing_timer", "disappearing messages turned off"),
    67: ("other", "privacy provider notice"),
    69: ("business_account", "business account state notice"),
    129: ("is_a_contact", "is a contact"),
}
ANDROID_BLOCK_ACTION = 58

# Outgoing ``message.status`` (Android). 4/5/13/8 are widely reported, [unverified].
ANDROID_STATUS: dict[int, str] = {4: "sent", 5: "delivered", 13: "read", 8: "played"}
# Legacy schema marks metadata (system) rows with status 6. [K]
ANDROID_LEGACY_SYSTEM_STATUS = 6
# Legacy schema marks deleted rows with edit_version 7. [K]
ANDROID_LEGACY_DELETED_EDIT_VERSION = 7

# iOS ``ZWAMESSAGE.ZMESSAGETYPE`` → (kind, description). [I][K]; 38/39 are a guess (view-once).
IOS_MESSAGE_TYPES: dict[int, tuple[str, str]] = {
    0: (r.KIND_TEXT, "text"),
    1: (r.KIND_IMAGE, "image"),
    2: (r.KIND_VIDEO, "video"),
    3: (r.KIND_AUDIO, "audio or voice note"),
    4: (r.KIND_CONTACT, "contact card"),
    5: (r.KIND_LOCATION, "location"),
    6: (r.KIND_SYSTEM, "group event (see ZGROUPEVENTTYPE)"),
    7: (r.KIND_TEXT, "link"),
    8: (r.KIND_DOCUMENT, "document"),
    10: (r.KIND_SYSTEM, "call or chat event (see ZGROUPEVENTTYPE)"),
    11: (r.KIND_GIF, "GIF"),
    12: (r.KIND_SYSTEM, "system message of unknown meaning"),
    14: (r.KIND_TEXT, "deleted (revoked) message"),
    15: (r.KIND_STICKER, "sticker"),
    38: (r.KIND_IMAGE, "image (probably view-once)"),
    39: (r.KIND_VIDEO, "video (probably view-once)"),
}
IOS_GROUP_EVENT = 6
IOS_CHAT_EVENT = 10
IOS_REVOKED = 14

# iOS ZGROUPEVENTTYPE for ZMESSAGETYPE 6 → (system_event, description). [I]; 1 from [K].
IOS_GROUP_EVENTS: dict[int, tuple[str, str]] = {
    1: ("group_renamed", "group name changed"),
    2: ("member_added", "member joined"),
    3: ("member_left", "member left"),
    4: ("group_icon_changed", "group icon changed"),
    5: ("group_icon_changed", "group icon removed"),
    7: ("member_removed", "member removed"),
    10: ("other", "admin rights granted"),
    12: ("group_created", "group created"),
    50: ("member_added", "members joined"),
}

# iOS ZGROUPEVENTTYPE for ZMESSAGETYPE 10 → (kind, system_event, description). [I]
IOS_CHAT_EVENTS: dict[int, tuple[str, str | None, str]] = {
    1: (r.KIND_CALL, None, "missed voice call"),
    2: (r.KIND_SYSTEM, "encryption_notice", "messages are end-to-end encrypted"),
    3: (r.KIND_SYSTEM, "security_code_changed", "security code changed"),
    4: (r.KIND_CALL, None, "missed video call"),
    22: (r.KIND_CALL, None, "missed group video call"),
    26: (r.KIND_SYSTEM, "business_account", "this is a business account"),
    30: (r.KIND_SYSTEM, "business_account", "account changed from business to standard"),
    34: (r.KIND_SYSTEM, "blocked", "blocked this contact"),
    35: (r.KIND_SYSTEM, "unblocked", "unblocked this contact"),
    40: (r.KIND_CALL, None, "group video call"),
    41: (r.KIND_CALL, None, "group video call"),
}

# Outgoing ``ZMESSAGESTATUS`` (iOS). [I] (9 = "unsent" is left unmapped).
IOS_STATUS: dict[int, str] = {1: "sent", 6: "delivered", 8: "read"}
# Forwarded flag bit in ZFLAGS. [I] uses 1 << 7; other write-ups say 256. [unverified]
IOS_FORWARDED_FLAG = 1 << 7

# Kinds that carry a file.
MEDIA_KINDS = frozenset(
    {r.KIND_IMAGE, r.KIND_VIDEO, r.KIND_AUDIO, r.KIND_VOICE, r.KIND_DOCUMENT, r.KIND_STICKER, r.KIND_GIF}
)
