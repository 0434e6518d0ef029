"""Localized strings WhatsApp writes into "Export chat" files.

Design: plain data, no logic. ``bodies.py`` compiles these tables once at import time.
Each table is grouped by language so a new locale is an edit here and nowhere else.

Certainty. Every entry is tagged in a comment:
- [certain]  seen in a peer parser's fixtures / pattern tables (WhatsR ``Languages.csv``,
             Pustur, frozenspider) or in docs/whatsapp.md part D;
- [likely]   seen in several independent third-party code bases, not in an authoritative one;
- [guess]    our best reconstruction of WhatsApp's translation; matching is tolerant
             (case-insensitive, optional final period), and a miss only downgrades a line
             to ``system_event="other"`` or plain text, never loses it.

System patterns are regular expressions matched against the whole body of a system
candidate (Android line without ``Name: ``, or an iOS body that begins with U+200E), with
re.IGNORECASE. Order matters: specific patterns come before the broad "added"/"removed"/"left".
"""

from __future__ import annotations

# Sender-side quotes used around group names in system lines (“…”, „…“, «…», "…").
_Q = "[\"“”„«»‘’']"

# ---------------------------------------------------------------------------------------
# System lines: (event, regex). Events are the names in records.SYSTEM_EVENTS.
# ---------------------------------------------------------------------------------------

SYSTEM_EN: tuple[tuple[str, str], ...] = (
    # [certain] D4 / WhatsR, all variants of the notice
    ("encryption_notice", r"^Messages and calls are end-to-end encrypted\b"),
    (
        "encryption_notice",
        r"^Messages (?:you send )?(?:to|in) this (?:group|chat)(?: and calls)? are now secured",
    ),
    ("encryption_notice", r"^Messages to this group are now secured with end-to-end encryption"),
    ("security_code_changed", r"security code (?:with .+ )?changed"),  # [certain]
    ("number_changed", r"changed their phone number"),  # [certain]
    ("number_changed", r"^\+?[\d \-()]+ changed to \+?[\d \-()]+\.?$"),  # [certain]
    ("member_joined_via_link", r"joined using (?:this|a) group'?s? (?:invite )?link"),  # [certain]
    ("member_joined_via_link", r"joined (?:from|via) the community"),  # [likely]
    ("group_created", r"^.*\bcreated (?:the )?group\b"),  # [certain]
    ("group_created", r"^.*\bcreated this group\b"),  # [likely]
    ("group_renamed", r"changed (?:the|this group's) (?:subject|group name|name)\b"),  # [certain]
    (
        "group_icon_changed",
        r"(?:changed|deleted|removed) (?:this|the) group'?s? (?:icon|photo|picture)",
    ),  # [certain]
    ("group_description_changed", r"(?:changed|deleted) the group description"),  # [likely]
    ("disappearing_timer", r"message timer|disappearing messages"),  # [certain]
    ("unblocked", r"^You unblocked this (?:contact|business)"),  # [likely]
    ("blocked", r"^You blocked this (?:contact|business)"),  # [certain]
    ("business_account", r"business account|uses a secure service from Meta"),  # [likely]
    ("is_a_contact", r"^.+ is a contact\.?$"),  # [certain] D4
    ("call", r"^Missed (?:group )?(?:voice|video) call"),  # [certain]
    ("call", r"^(?:Voice|Video|Group voice|Group video) call\b"),  # [certain] D4
    ("call", r"started a (?:video )?call$"),  # [certain]
    ("member_left", r"^.+ left(?: the group)?\.?$"),  # [certain]
    ("member_removed", r"^.+ removed .+$"),  # [certain]
    ("member_removed", r"^You were removed"),  # [likely]
    ("member_added", r"^.+ added .+$"),  # [certain]
    ("member_added", r"^You were added"),  # [likely]
    ("other", r"^You're now an admin|^Waiting for this message|pinned a message"),  # [certain]
    ("other", r"changed (?:this )?group'?s? settings"),  # [likely]
)

SYSTEM_DE: tuple[tuple[str, str], ...] = (
    ("encryption_notice", r"^Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt"),  # [certain] WhatsR
    (
        "encryption_notice",
        r"^Nachrichten, die du (?:in diese[rm]? )?(?:Gruppe|Chat) sendest, sind jetzt",
    ),  # [guess]
    ("security_code_changed", r"Sicherheitsnummer (?:für .+ )?hat sich geändert"),  # [certain]
    ("number_changed", r"hat eine neue Telefonnummer"),  # [certain]
    ("number_changed", r"^\+?[\d \-()]+ hat zu \+?[\d \-()]+ gewechselt\.?$"),  # [certain]
    ("member_joined_via_link", r"über (?:den|einen) Einladungslink"),  # [guess]
    ("group_created", r"(?:hat|hast) die Gruppe .+ erstellt"),  # [certain]
    (
        "group_renamed",
        r"(?:hat|hast) den (?:Betreff|Gruppennamen)",
    ),  # [certain] Betreff; [guess] Gruppennamen
    ("group_icon_changed", r"(?:hat|hast) das Gruppenbild"),  # [certain]
    ("group_description_changed", r"(?:hat|hast) die Gruppenbeschreibung"),  # [guess]
    ("disappearing_timer", r"selbstlöschende|Nachrichten-Timer"),  # [guess]
    ("unblocked", r"^Du hast diesen Kontakt (?:freigegeben|entsperrt)"),  # [guess]
    ("blocked", r"^Du hast diesen Kontakt blockiert"),  # [guess]
    ("business_account", r"Unternehmenskonto|Business-Konto"),  # [guess]
    ("is_a_contact", r"^.+ ist ein Kontakt\.?$"),  # [guess]
    ("call", r"^Verpasster (?:Gruppen)?(?:Sprach|Video)anruf"),  # [certain]
    ("call", r"^(?:Sprachanruf|Videoanruf)\b"),  # [guess]
    ("call", r"(?:hat|hast) einen (?:Video)?[Aa]nruf gestartet"),  # [certain]
    ("member_left", r"(?:hat|hast) die Gruppe verlassen"),  # [certain]
    ("member_removed", r"^.+ (?:hat|hast) .+ entfernt\.?$"),  # [certain]
    ("member_added", r"^.+ (?:hat|hast) .+ hinzugefügt\.?$"),  # [certain]
)

SYSTEM_ES: tuple[tuple[str, str], ...] = (
    (
        "encryption_notice",
        r"^Los mensajes y (?:las )?llamadas están cifrados de extremo a extremo",
    ),  # [likely]
    ("encryption_notice", r"^Los mensajes (?:que envíes a|enviados a) este (?:grupo|chat)"),  # [guess]
    ("security_code_changed", r"código de seguridad (?:con .+ )?(?:cambió|ha cambiado)"),  # [likely]
    ("number_changed", r"cambió su (?:número|teléfono)"),  # [guess]
    ("number_changed", r"^\+?[\d \-()]+ cambió (?:al|a) \+?[\d \-()]+\.?$"),  # [guess]
    (
        "member_joined_via_link",
        r"se unió (?:al grupo )?(?:usando|mediante|con|a través de)(?: el)? enlace",
    ),  # [likely]
    ("group_created", r"^(?:.+ creó|Creaste) el grupo"),  # [likely]
    ("group_renamed", r"cambi(?:ó|aste) (?:el asunto|el nombre del grupo)"),  # [likely]
    (
        "group_icon_changed",
        r"(?:cambi|elimin)(?:ó|aste) (?:el ícono|el icono|la imagen|la foto) (?:de este|del) grupo",
    ),
    ("group_description_changed", r"(?:cambi|elimin)(?:ó|aste) la descripción del grupo"),  # [guess]
    ("disappearing_timer", r"mensajes temporales"),  # [likely]
    ("unblocked", r"^Desbloqueaste a este contacto"),  # [guess]
    ("blocked", r"^Bloqueaste a este contacto"),  # [guess]
    ("business_account", r"cuenta (?:de )?(?:empresa|business)"),  # [guess]
    ("is_a_contact", r"^.+ es un contacto\.?$"),  # [guess]
    ("call", r"^(?:Llamada de voz|Videollamada) perdida"),  # [likely]
    ("call", r"^(?:Llamada de voz|Videollamada)\b"),  # [guess]
    ("member_left", r"^(?:.+ salió|Saliste)(?: del grupo)?\.?$"),  # [likely]
    ("member_removed", r"^(?:.+ eliminó|Eliminaste) a .+$"),  # [likely]
    ("member_added", r"^(?:.+ (?:añadió|agregó)|Añadiste|Agregaste) a .+$"),  # [likely]
)

SYSTEM_FR: tuple[tuple[str, str], ...] = (
    ("encryption_notice", r"^Les messages et (?:les )?appels sont chiffrés de bout en bout"),  # [likely]
    ("encryption_notice", r"^Les messages envoyés (?:dans|à) ce (?:groupe|chat|discussion)"),  # [guess]
    ("security_code_changed", r"code de sécurité (?:avec .+ )?a changé"),  # [likely]
    ("number_changed", r"a changé (?:de numéro|son numéro)"),  # [guess]
    (
        "member_joined_via_link",
        r"a rejoint (?:le groupe )?(?:en utilisant|via|avec) (?:le|un) lien",
    ),  # [likely]
    ("group_created", r"(?:a|avez) créé (?:le|ce) groupe"),  # [likely]
    ("group_renamed", r"(?:a|avez) (?:modifié|changé) (?:le sujet|le nom du groupe)"),  # [likely]
    (
        "group_icon_changed",
        r"(?:a|avez) (?:changé|modifié|supprimé) (?:l['’]icône|la photo) (?:de ce|du) groupe",
    ),
    (
        "group_description_changed",
        r"(?:a|avez) (?:modifié|changé|supprimé) la description du groupe",
    ),  # [guess]
    ("disappearing_timer", r"messages éphémères"),  # [likely]
    ("unblocked", r"^Vous avez débloqué ce contact"),  # [guess]
    ("blocked", r"^Vous avez bloqué ce contact"),  # [guess]
    ("business_account", r"compte (?:professionnel|business)"),  # [guess]
    ("is_a_contact", r"^.+ est un contact\.?$"),  # [guess]
    ("call", r"^Appel (?:vocal|vidéo) manqué"),  # [likely]
    ("call", r"^Appel (?:vocal|vidéo)\b"),  # [guess]
    ("member_left", r"^(?:.+ est parti(?:e)?|Vous êtes parti(?:e)?)\.?$"),  # [guess]
    ("member_left", r"a quitté le groupe"),  # [likely]
    ("member_removed", r"^.+ (?:a|avez) retiré .+$"),  # [likely]
    ("member_added", r"^.+ (?:a|avez) ajouté .+$"),  # [likely]
)

SYSTEM_PT: tuple[tuple[str, str], ...] = (
    # PT-BR wording first, PT-PT ("encriptadas") second.
    (
        "encryption_notice",
        r"^As mensagens e (?:as )?(?:chamadas|ligações) (?:são protegidas|estão)",
    ),  # [likely]
    ("encryption_notice", r"^Mensagens e (?:chamadas|ligações) são protegidas"),  # [guess]
    ("security_code_changed", r"código de segurança (?:com .+ )?mudou"),  # [likely]
    ("number_changed", r"mudou (?:seu|o seu|o) número"),  # [guess]
    ("number_changed", r"^\+?[\d \-()]+ mudou para \+?[\d \-()]+\.?$"),  # [guess]
    ("member_joined_via_link", r"entrou (?:no grupo )?usando o link"),  # [likely]
    ("group_created", r"(?:criou|criou o|criou este) grupo|^Você criou"),  # [likely]
    ("group_renamed", r"(?:mudou|alterou) o (?:assunto|nome)"),  # [likely]
    (
        "group_icon_changed",
        r"(?:mudou|alterou|apagou|removeu) a (?:imagem|foto) (?:deste|do) grupo",
    ),  # [likely]
    ("group_description_changed", r"(?:mudou|alterou|apagou) a descrição do grupo"),  # [guess]
    ("disappearing_timer", r"mensagens temporárias"),  # [likely]
    ("unblocked", r"^Você desbloqueou este contato"),  # [guess]
    ("blocked", r"^Você bloqueou este contato"),  # [guess]
    ("business_account", r"conta comercial|conta business"),  # [guess]
    ("is_a_contact", r"^.+ é um contato\.?$"),  # [guess]
    ("call", r"^(?:Chamada|Ligação) de (?:voz|vídeo) perdida"),  # [likely]
    ("call", r"^(?:Chamada|Ligação) de (?:voz|vídeo)\b"),  # [guess]
    ("member_left", r"^(?:.+ saiu|Você saiu)(?: do grupo)?\.?$"),  # [likely]
    ("member_removed", r"^(?:.+ removeu|Você removeu) .+$"),  # [likely]
    ("member_added", r"^(?:.+ adicionou|Você adicionou) .+$"),  # [likely]
)

SYSTEM_IT: tuple[tuple[str, str], ...] = (
    ("encryption_notice", r"^I messaggi e le chiamate sono crittografati end-to-end"),  # [likely]
    ("encryption_notice", r"^I messaggi inviati a questo (?:gruppo|chat) sono ora protetti"),  # [likely]
    ("security_code_changed", r"codice di sicurezza (?:con .+ )?è cambiato"),  # [guess]
    ("number_changed", r"ha cambiato (?:il suo )?numero"),  # [guess]
    (
        "member_joined_via_link",
        r"(?:si è unit[oa]|è entrat[oa]) (?:usando|tramite|con) (?:il )?link",
    ),  # [likely]
    ("group_created", r"(?:ha|hai) creato (?:il|questo) gruppo"),  # [likely]
    ("group_renamed", r"(?:ha|hai) (?:modificato|cambiato) (?:l['’]oggetto|il nome del gruppo)"),  # [likely]
    (
        "group_icon_changed",
        r"(?:ha|hai) (?:cambiato|modificato|eliminato) l['’]immagine (?:di questo|del) gruppo",
    ),
    ("group_description_changed", r"(?:ha|hai) (?:modificato|cambiato|eliminato) la descrizione del gruppo"),
    ("disappearing_timer", r"messaggi effimeri"),  # [likely]
    ("unblocked", r"^Hai sbloccato questo contatto"),  # [guess]
    ("blocked", r"^Hai bloccato questo contatto"),  # [guess]
    ("business_account", r"account business|account aziendale"),  # [guess]
    ("is_a_contact", r"^.+ è un contatto\.?$"),  # [guess]
    ("call", r"^(?:Chiamata vocale|Videochiamata) persa"),  # [likely]
    ("call", r"^(?:Chiamata vocale|Videochiamata)\b"),  # [guess]
    ("member_left", r"^(?:.+ è uscit[oa]|Sei uscit[oa])\.?$|(?:ha|hai) abbandonato il gruppo"),  # [likely]
    ("member_removed", r"^.+ (?:ha|hai) rimosso .+$"),  # [likely]
    ("member_added", r"^.+ (?:ha|hai) aggiunto .+$|ti ha aggiunto"),  # [likely]
)

# Languages in the order they are tried. English first: it is the most common export
# language even on phones set to other regions.
SYSTEM_PATTERNS: tuple[tuple[str, str], ...] = (
    SYSTEM_EN + SYSTEM_DE + SYSTEM_ES + SYSTEM_FR + SYSTEM_PT + SYSTEM_IT
)

# Bodies that may be a system line even without the iOS U+200E prefix (older iOS exports,
# Android call lines attributed to a sender). ``str.startswith(tuple)`` keeps the gate cheap.
SYSTEM_PREFIXES: tuple[str, ...] = (
    "Messages and calls are end-to-end",
    "Messages to this group",
    "Messages you send to",
    "Your security code",
    "Missed voice call",
    "Missed video call",
    "Missed group",
    "Nachrichten und Anrufe",
    "Deine Sicherheitsnummer",
    "Verpasster ",
    "Los mensajes y",
    "Tu código de seguridad",
    "Llamada de voz perdida",
    "Videollamada perdida",
    "Les messages et",
    "Votre code de sécurité",
    "Appel vocal manqué",
    "Appel vidéo manqué",
    "As mensagens e",
    "Mensagens e",
    "Seu código de segurança",
    "O seu código de segurança",
    "Chamada de voz perdida",
    "Chamada de vídeo perdida",
    "Ligação de voz perdida",
    "Ligação de vídeo perdida",
    "I messaggi e",
    "I messaggi inviati",
    "Il tuo codice di sicurezza",
    "Chiamata vocale persa",
    "Videochiamata persa",
)

# Events that only happen in groups (used by the is_group heuristic).
GROUP_EVENTS = frozenset(
    {
        "group_created",
        "group_renamed",
        "group_icon_changed",
        "group_description_changed",
        "member_added",
        "member_removed",
        "member_left",
        "member_joined_via_link",
    }
)

# ---------------------------------------------------------------------------------------
# Deleted / edited
# ---------------------------------------------------------------------------------------

# Whole-body deletion placeholders; compared after stripping U+200E and one final period.
DELETED: tuple[str, ...] = (
    "This message was deleted",
    "You deleted this message",
    "Message deleted",  # [certain]
    "Diese Nachricht wurde gelöscht",
    "Du hast diese Nachricht gelöscht",  # [certain] WhatsR
    "Se eliminó este mensaje",
    "Eliminaste este mensaje",  # [likely]
    "Este mensaje fue eliminado",  # [guess]
    "Ce message a été supprimé",
    "Vous avez supprimé ce message",  # [likely]
    "Mensagem apagada",
    "Você apagou esta mensagem",
    "Esta mensagem foi apagada",  # [likely]/[guess]
    "Apagou esta mensagem",
    "Eliminou esta mensagem",  # [guess] PT-PT
    "Questo messaggio è stato eliminato",
    "Hai eliminato questo messaggio",  # [likely]
)

# Texts inside the "<…>" suffix appended to edited messages.
EDITED: tuple[str, ...] = (
    "This message was edited",  # [certain] D4
    "Diese Nachricht wurde bearbeitet",  # [likely]
    "Se editó este mensaje.",
    "Se editó este mensaje",  # [likely]
    "Ce message a été modifié",  # [likely]
    "Mensagem editada",  # [likely]
    "Questo messaggio è stato modificato",  # [likely]
)

# ---------------------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------------------

# Android "<file> (file attached)"; the caption follows on the next line.
ATTACHED_SUFFIX: tuple[str, ...] = (
    "file attached",  # [certain]
    "Datei angehängt",  # [certain] WhatsR
    "archivo adjunto",  # [likely]
    "fichier joint",  # [likely]
    "arquivo anexado",  # [likely] PT-BR
    "ficheiro anexado",
    "ficheiro anexo",  # [guess] PT-PT
    "file allegato",  # [likely]
)

# iOS "<attached: file>" tags.
ATTACHED_TAG: tuple[str, ...] = (
    "attached",  # [certain]
    "Anhang",
    "angehängt",  # [certain] brief / WhatsR
    "adjunto",  # [likely]
    "pièce jointe",
    "fichier joint",  # [guess]
    "anexado",
    "anexo",  # [guess]
    "allegato",  # [likely]
)

# Android text-only exports: whole-body placeholders -> message kind.
OMITTED_ANDROID: dict[str, str] = {
    "<Media omitted>": "media",  # [certain]
    "<Video message omitted>": "video",  # [certain] D4
    "<Medien ausgeschlossen>": "media",  # [certain] WhatsR
    "<Medien weggelassen>": "media",  # [guess]
    "<Multimedia omitido>": "media",  # [likely]
    "<Médias omis>": "media",
    "<Média omis>": "media",  # [likely]
    "<Mídia oculta>": "media",  # [likely] PT-BR
    "<Multimédia omitido>": "media",
    "<Ficheiro multimédia omitido>": "media",  # [guess] PT-PT
    "<Media omessi>": "media",  # [likely]
}

# iOS text-only exports: "image omitted" and friends -> kind.
OMITTED_IOS: dict[str, str] = {
    # [certain] D4
    "image omitted": "image",
    "video omitted": "video",
    "audio omitted": "audio",
    "sticker omitted": "sticker",
    "GIF omitted": "gif",
    "Contact card omitted": "contact",
    "document omitted": "document",
    # [guess] German
    "Bild weggelassen": "image",
    "Video weggelassen": "video",
    "Audio weggelassen": "audio",
    "Sticker weggelassen": "sticker",
    "GIF weggelassen": "gif",
    "Kontaktkarte weggelassen": "contact",
    "Dokument weggelassen": "document",
    # [likely] Spanish
    "imagen omitida": "image",
    "video omitido": "video",
    "audio omitido": "audio",
    "sticker omitido": "sticker",
    "GIF omitido": "gif",
    "tarjeta de contacto omitida": "contact",
    "documento omitido": "document",
    # [guess] French
    "image absente": "image",
    "vidéo absente": "video",
    "audio absent": "audio",
    "autocollant absent": "sticker",
    "GIF absent": "gif",
    "fiche contact absente": "contact",
    "document absent": "document",
    # [guess] Portuguese
    "imagem ocultada": "image",
    "vídeo ocultado": "video",
    "áudio ocultado": "audio",
    "figurinha omitida": "sticker",
    "cartão de contato omitido": "contact",
    "documento ocultado": "document",
    # [guess] Italian
    "immagine omessa": "image",
    "video omesso": "video",
    "audio omesso": "audio",
    "sticker omesso": "sticker",
    "GIF omessa": "gif",
    "scheda contatto omessa": "contact",
    "documento omesso": "document",
}

# Other whole-body placeholders.
LIVE_LOCATION: tuple[str, ...] = (
    "live location shared",  # [certain]
    "Live-Standort wird geteilt",  # [certain] WhatsR
    "ubicación en tiempo real compartida",  # [guess]
    "position en direct partagée",  # [guess]
    "localização em tempo real compartilhada",  # [guess]
    "posizione in tempo reale condivisa",  # [guess]
)

# Known prefixes of the exported zip / text names, stripped to derive a display title.
TITLE_PREFIXES: tuple[str, ...] = (
    "WhatsApp Chat with ",
    "WhatsApp Chat - ",
    "WhatsApp Chat mit ",
    "WhatsApp-Chat mit ",
    "Chat de WhatsApp con ",
    "Chat WhatsApp con ",
    "Chat di WhatsApp con ",
    "Discussion WhatsApp avec ",
    "Conversa do WhatsApp com ",
    "Conversa no WhatsApp com ",
)
