"""Reply text: HTML to plain text, and what a person newly wrote in a reply.

Used by ``replyparse`` (issue 6, replies by email). Pure functions on strings, no I/O.

``html_to_text`` renders an HTML body as a mail client's plain-text part would: a line per
``<p>``/``<div>``/``<br>``, ``<style>``/``<script>``/``<head>`` dropped, entities unescaped,
``<blockquote>`` as ``> `` lines. With ``marks=True`` it also writes what the splitter needs:
a CUT line where a client's quote or signature container starts (Gmail's ``gmail_quote``,
Outlook's ``divRplyFwdMsg``/``appendonsend`` and its border-top separator, Gmail/Outlook/Apple
signature containers, …) and ``[cid:…]`` where an inline image sits, so that an image can be told
apart as part of the new text or of the signature/history (``replyparse`` keeps only the former).

``split_reply`` finds the new text in a plain-text body (see its docstring for the rules, and
docs/decisions.md for why they are ours and where ``mail-parser-reply`` is used). Everything is
line-based and bounded: a huge body costs linear time, never a catastrophic regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote

from mailparser_reply.parser import EmailMessage as _LibraryMessage

CUT = "\x00onfile-cut\x00"  # a line the HTML conversion writes where quoted history starts
CUT_SIGNATURE = "\x00onfile-signature\x00"  # … and where a signature container starts

# ---- HTML to text ------------------------------------------------------------------------------

_SKIP = {"style", "script", "head", "title", "template", "noscript", "xml", "svg", "object", "iframe"}
_BLOCK = {"div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "tr", "blockquote",
          "pre", "hr", "address", "section", "article", "header", "footer", "center", "dl", "dt", "dd",
          "form", "fieldset", "figure", "figcaption", "main", "nav", "aside", "caption", "body", "html"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "embed", "param", "source",
         "track", "wbr"}
# Containers that start quoted history (everything from there on is history).
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "protonmail_quote", "zmail_extra", "outlookmessageheader")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "stopspelling",
              "x_divrplyfwdmsg", "olk_src_body_section")
# Outlook desktop (Word) separator: <div style="border:none;border-top:solid #E1E1E1 1.0pt;…"> (2013+)
# or #B5C4DF (2007/2010), holding the From:/Sent:/To:/Subject: paragraph.
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.I)
# Containers that hold a signature.
_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature", "gmail_signature_prefix")
_SIGNATURE_IDS = ("signature", "ms-outlook-mobile-signature", "applemailsignature",
                  "linebreakatbeginningofsignature", "x_signature", "ms-outlook-ios-signature")
_WS = re.compile(r"[ \t\n\r\f\v]+")  # HTML whitespace (not U+00A0, which is a real space to keep)


class _Renderer(HTMLParser):
    def __init__(self, marks: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.marks = marks
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.cur_depth = 0  # quote depth of the line being written
        self.depth = 0  # <blockquote> nesting
        self.skip = 0
        self.pre = 0
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, is_blockquote, paragraph)
        self.links: list[tuple[int, int, str]] = []  # (line count, piece count, href) at <a>
        self.cut_written = False
        self.signature_written = False

    # line handling
    def _text_so_far(self) -> str:
        return "".join(self.cur)

    def _ends_with_space(self) -> bool:
        for piece in reversed(self.cur):
            if piece:
                return piece.endswith(" ")
        return True

    def newline(self, force: bool = False) -> None:
        text = self._text_so_far()
        if text.strip(" ") or force:
            self.lines.append("> " * self.cur_depth + text.strip(" ") if text.strip(" ") else "> " * self.cur_depth)
        self.cur = []
        self.cur_depth = self.depth

    def blank_line(self) -> None:
        self.newline()
        if self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append("> " * self.depth)

    def write(self, text: str) -> None:
        if not self.cur:
            self.cur_depth = self.depth
        self.cur.append(text)

    def cut(self, signature: bool = False) -> None:
        if not self.marks or self.cut_written or (signature and self.signature_written):
            return
        self.newline()
        self.lines.append(CUT_SIGNATURE if signature else CUT)
        if signature:
            self.signature_written = True
        else:
            self.cut_written = True

    # parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip += 1
            return
        if self.skip:
            return
        classes = a.get("class", "").lower().split()
        ident = a.get("id", "").lower()
        if (any(c in _QUOTE_CLASSES for c in classes) or ident in _QUOTE_IDS
                or (tag == "div" and _OUTLOOK_BORDER.search(a.get("style", "")))):
            self.cut()
        if any(c in _SIGNATURE_CLASSES for c in classes) or ident in _SIGNATURE_IDS:
            self.cut(signature=True)
        if tag == "br":
            self.newline(force=True)
            return
        if tag == "img":
            src = a.get("src", "").strip()
            if self.marks and src[:4].lower() == "cid:":
                self.write(f" [cid:{unquote(src[4:])}] ")
            return
        if tag == "hr":
            self.newline()
            self.lines.append("_" * 32)
            return
        if tag in _VOID:
            return
        paragraph = False
        if tag in _BLOCK:
            self.newline()
            if tag == "p":
                style = a.get("style", "").replace(" ", "").lower()
                paragraph = not (any(c.startswith("mso") for c in classes) or "margin:0" in style)
                if paragraph:
                    self.blank_line()
        blockquote = tag == "blockquote"
        if blockquote:
            self.depth += 1
            self.cur_depth = self.depth
        if tag == "pre":
            self.pre += 1
        if tag == "li":
            self.write("- ")
        if tag in ("td", "th") and self.cur:
            self.write(" ")
        if tag == "a":
            self.links.append((len(self.lines), len(self.cur), a.get("href", "").strip()))
        self.stack.append((tag, blockquote, paragraph))

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip = max(0, self.skip - 1)
            return
        if self.skip or tag in _VOID:
            return
        if not any(t == tag for t, _, _ in self.stack):
            return  # a stray end tag: ignore, as browsers do
        while self.stack:
            t, blockquote, paragraph = self.stack.pop()
            self._close(t, blockquote, paragraph)
            if t == tag:
                break

    def _close(self, tag: str, blockquote: bool, paragraph: bool) -> None:
        if tag == "a" and self.links:
            lines_at, pieces_at, href = self.links.pop()
            if lines_at == len(self.lines) and href[:4].lower() in ("http", "mail"):
                label = "".join(self.cur[pieces_at:]).strip()
                target = href[7:] if href[:7].lower() == "mailto:" else href
                if label and target.lower() != label.lower():
                    self.write(f" <{target}>")
        if tag in _BLOCK:
            self.newline()
            if paragraph:
                self.blank_line()
        if blockquote:
            self.depth = max(0, self.depth - 1)
            self.cur_depth = self.depth
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.write(first)
            for line in rest:
                self.newline(force=True)
                self.write(line)
            return
        text = _WS.sub(" ", data)
        if self._ends_with_space():
            text = text.lstrip(" ")
        if text:
            self.write(text)

    def result(self) -> str:
        while self.stack:
            self._close(*self.stack.pop())
        self.newline()
        lines = [line.replace("\xa0", " ").rstrip() for line in self.lines]
        return "\n".join(lines)


def html_to_text(html: str, *, marks: bool = False, problems: list[str] | None = None) -> str:
    """Plain text of an HTML body; with ``marks``, CUT lines and ``[cid:…]`` image markers too.

    ``html.parser`` is lenient; should it still trip, the text ends there and ``problems`` says so."""
    renderer = _Renderer(marks)
    try:
        renderer.feed(_MARKED_SECTION.sub("&lt;![", html))
        renderer.close()
    except Exception as exc:
        if problems is not None:
            problems.append(f"the HTML could not be parsed ({exc}); its text was taken with the tags stripped")
        return _squeeze(_crude(html))
    return _squeeze(renderer.result())


# html.parser only knows <![CDATA[…]]> and Outlook's <![if …]>/<![endif]>; any other "<![" stops it.
_MARKED_SECTION = re.compile(r"<!\[(?!\s*(?:CDATA\[|if\b|endif\b|else\b))", re.I)
_CRUDE_DROP = re.compile(r"<(style|script|head|title)\b.*?</\1\s*>", re.I | re.S)
_CRUDE_BREAK = re.compile(r"<(?:br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.I)
_CRUDE_TAG = re.compile(r"<[^>]*>", re.S)


def _crude(html: str) -> str:
    """Text of HTML that the parser could not read: tags stripped, breaks kept, entities unescaped."""
    text = _CRUDE_TAG.sub("", _CRUDE_BREAK.sub("\n", _CRUDE_DROP.sub("", html)))
    lines = (" ".join(unescape(line).replace("\xa0", " ").split()) for line in text.split("\n"))
    return "\n".join(lines)


def _squeeze(text: str) -> str:
    """At most one blank line in a row (a quoted blank line counts as blank); no blank start or end."""
    out: list[str] = []
    for line in text.split("\n"):
        blank = not line.strip("> ")
        if blank and (not out or not out[-1].strip("> ")):
            continue
        out.append(line.rstrip() if not blank else line.rstrip(" "))
    while out and not out[-1].strip("> "):
        out.pop()
    return "\n".join(out)


# ---- format=flowed (RFC 3676) --------------------------------------------------------------------


def unflow(text: str, delsp: bool = False) -> str:
    """Join the soft line breaks of a ``format=flowed`` body (RFC 3676 §4)."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for raw in text.split("\n"):
        stripped = raw.lstrip(">")
        depth = len(raw) - len(stripped)
        if stripped.startswith(" "):
            stripped = stripped[1:]  # space-stuffing, or the space after the quote marks
        if pending is not None and depth != pending_depth:
            out.append(_quoted(pending_depth, pending))
            pending = None
        flowed = stripped.endswith(" ") and stripped != "-- "
        body = stripped[:-1] if (flowed and delsp) else stripped
        pending = body if pending is None else pending + body
        pending_depth = depth
        if not flowed:
            out.append(_quoted(depth, pending))
            pending = None
    if pending is not None:
        out.append(_quoted(pending_depth, pending))
    return "\n".join(out)


def _quoted(depth: int, text: str) -> str:
    return ("> " * depth) + text if depth else text


# ---- what a person newly wrote ------------------------------------------------------------------

MAX_LINE = 300  # longer lines are never a quote header; the library's patterns see a stand-in
WINDOW = 400  # lines the library's header patterns look at (new text is at the top)

_QUOTED = re.compile(r"^\s*>")
_RULE = re.compile(r"^\s*[_\-—=]{10,}\s*$")  # ____ / ---- separator lines (Outlook on the web, …)
_SEPARATORS = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|"
    r"Messaggio originale|Oorspronkelijk bericht|Oprindelig meddelelse|Originalmeddelande|Forwarded message|"
    r"Weitergeleitete Nachricht|Message transféré|Mensaje reenviado|Messaggio inoltrato|Original|"
    r"原始邮件|原始郵件)\s*-{2,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:|Début du message réexpédié\s?:)\s*$",
    re.I)
# Outlook's header block: a From line, then within three lines one of Sent/Date/To/Subject — in the
# languages Outlook writes them (en, de, fr, es, it, nl, pt, da, sv). Bold markers (*From:*) allowed.
_FROM_LABEL = re.compile(r"^[>\s]*\*?(?:From|Von|De|Da|Van|Fra|Från|Od)\s?\*?\s?:", re.I)
_NEXT_LABEL = re.compile(
    r"^[>\s]*\*?(?:Sent|Date|To|Cc|Subject|Gesendet|Datum|An|Betreff|Envoyé|À|Objet|Enviado(?: el)?|Fecha|Para|"
    r"Asunto|Inviato|Data|A|Oggetto|Verzonden|Aan|Onderwerp|Enviada em|Assunto|Sendt|Til|Emne|Skickat|Till|Ämne"
    r")\s?\*?\s?:", re.I)
# Attribution lines: "On Tue, 2 Jun 2026 at 10:02, Sam <sam@x> wrote:" (maybe wrapped onto two lines),
# and the same in the other languages mail clients write it.
_SUBJECT_LABEL = re.compile(
    r"^[>\s]*\*?(?:Subject|Betreff|Objet|Asunto|Oggetto|Onderwerp|Assunto|Emne|Ämne)\s?\*?\s?:", re.I)
_ATTRIBUTION_END = re.compile(
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napsal\(a\)|napisał\(a\)|писал\(а\)|"
    r"писала|писал|写道)\s?[:：]\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"^[>\s]*(?:On|Am|Le|El|Il|Op|Em|Den|Dne|Dnia)\s", re.I)

_MOBILE = re.compile(
    r"^\s*(?:Sent from my \S.*|Sent from Outlook for \S.*|Get Outlook for (?:iOS|Android)\S*.*|"
    r"Sent from (?:Mail|Yahoo Mail|Samsung|my Samsung|my Galaxy|Proton Mail)\b.*|Sent via \S.*|"
    r"Von meinem \S.*gesendet\.?|Gesendet von (?:meinem|Outlook|Mail)\b.*|Outlook für (?:iOS|Android) beziehen.*|"
    r"Envoyé de mon \S.*|Envoyé depuis \S.*|Télécharger Outlook pour \S.*|Enviado desde mi \S.*|"
    r"Inviato da \S.*|Verzonden (?:vanaf|met) \S.*|Enviado do meu \S.*|Sendt fra min \S.*|Skickat från min \S.*)$",
    re.I)
_VALEDICTIONS = (
    "kind regards", "best regards", "warm regards", "warmest regards", "kindest regards", "many regards", "regards",
    "best wishes", "with best wishes", "all the best", "best", "many thanks", "thanks", "thank you", "thanks again",
    "thanks so much", "cheers", "sincerely", "yours sincerely", "yours faithfully", "yours truly", "yours",
    "with thanks", "speak soon", "talk soon",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "freundliche grüsse", "viele grüße",
    "viele grüsse", "beste grüße", "beste grüsse", "liebe grüße", "liebe grüsse", "herzliche grüße", "grüße", "gruß",
    "mfg", "cordialement", "bien cordialement", "bien à vous", "salutations", "meilleures salutations",
    "sincères salutations", "bonne journée", "atentamente", "saludos", "un saludo", "saludos cordiales",
    "cordiali saluti", "distinti saluti", "saluti", "met vriendelijke groet", "met vriendelijke groeten",
    "vriendelijke groet", "groeten", "mvg", "med venlig hilsen", "venlig hilsen", "med vänliga hälsningar",
    "vänliga hälsningar", "atenciosamente", "cumprimentos",
)
# The valediction, then at most a name on the same line ("Thanks, Jane", "Best, J.") — capitalised words.
_VALEDICTION = re.compile(
    r"^\s*(?i:" + "|".join(re.escape(v) for v in sorted(_VALEDICTIONS, key=len, reverse=True)) + r")"
    r"\s*[,.!]*\s*(?:[A-ZÀ-Þ][\w.'’-]*(?:\s+[A-ZÀ-Þ][\w.'’-]*){0,2}\s*[,.]?)?\s*$")
_VALEDICTION_TAIL = 15  # a valediction starts the signature only with at most this many lines after it
_PLACEHOLDER = re.compile(r"\s*\[(?:cid:[^\]\s]*|image: [^\]]*)\]\s*", re.I)

# mail-parser-reply's header patterns (attribution lines and Outlook header blocks in many languages).
# Polish is left out: its header rule accepts a single "Od:"/"Do:"/"Data:" line, which cuts real text.
_LIBRARY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "cs", "ja", "ko", "zh"]
_library_header: re.Pattern[str] | None = None


def _library_header_regex() -> re.Pattern[str]:
    global _library_header
    if _library_header is None:
        _library_header = _LibraryMessage(text="", languages=list(_LIBRARY_LANGUAGES)).HEADER_REGEX
    return _library_header


@dataclass(frozen=True)
class Split:
    text: str  # what the person newly wrote
    interleaved: bool  # answers were written between quoted lines (the answered lines are kept as context)
    marked: str = ""  # the same with its ``[cid:…]`` markers still in (which images are in the new text)


def _is_blank(line: str) -> bool:
    return not line.strip("> \t\xa0")


def _is_block(lines: list[str], i: int) -> bool:
    """An Outlook header block (From, then Subject and one more label within six lines) or a separator."""
    line = lines[i]
    if _SEPARATORS.match(line):
        return True
    if not _FROM_LABEL.match(line):
        return False
    following = [x for x in lines[i + 1:i + 7] if len(x) <= MAX_LINE]
    return any(_SUBJECT_LABEL.match(x) for x in following) and sum(bool(_NEXT_LABEL.match(x)) for x in following) >= 2


def _is_attribution(lines: list[str], i: int) -> int:
    """How many lines the attribution starting at line i takes (0: none)."""
    line = lines[i]
    if _ATTRIBUTION_START.match(line):
        if _ATTRIBUTION_END.search(line):
            return 1
        if i + 1 < len(lines) and len(lines[i + 1]) <= MAX_LINE and _ATTRIBUTION_END.search(lines[i + 1]):
            return 2
    if _ATTRIBUTION_END.search(line) and _quote_follows(lines, i + 1):
        return 1  # "Sam Patel <sam@x> wrote:" and other forms, when quoted lines follow
    return 0


def _quote_follows(lines: list[str], i: int) -> bool:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and bool(_QUOTED.match(lines[i]))


_LABEL_LINE = re.compile(r"^[>\s*]*[^\W\d_][^\W\d_ -]*(?:[ -][^\W\d_]+){0,2}\s?\*?\s?[:：]")


def _library_starts(lines: list[str]) -> tuple[int, int]:
    """(first block, first attribution) that mail-parser-reply's header patterns find in the window.

    Its matches are checked: a header block must hold three "Label:" lines or more (its own rule
    takes any two lines like "From: 1 June" / "To: 5 June"), an attribution must end with a colon
    and be followed by quoted lines or nothing."""
    n = len(lines)
    window = [line if len(line) <= MAX_LINE else "x" for line in lines[:WINDOW]]
    text = "\n".join(window)
    block = attribution = n
    for match in _library_header_regex().finditer(text):
        matched = match.group(0).strip("\n")
        if not matched.strip():
            continue
        first = text.count("\n", 0, match.start() + (len(match.group(0)) - len(match.group(0).lstrip("\n"))))
        last = first + matched.count("\n")
        if sum(bool(_LABEL_LINE.match(x)) for x in matched.split("\n")) >= 3 and block == n:
            block = first
        elif matched.rstrip().endswith(":") and (last + 1 >= n or _quote_follows(lines, last + 1)) and attribution == n:
            attribution = first
        if block < n and attribution < n:
            break
    return block, attribution


def split_reply(text: str, *, signature_hint: str = "") -> Split:
    """The part of a plain-text reply that its author newly wrote.

    1. History starts at the earliest of: a CUT line (from the HTML), an Outlook header block
       ("From:" then "Sent:"/"To:"/"Subject:", in the languages Outlook writes them;
       "-----Original Message-----"), an attribution line ("On … wrote:", "Am … schrieb …:",
       "Le … a écrit :", … — ours and mail-parser-reply's patterns), or the first ``>`` line.
       A line of underscores or dashes just above it goes with it.
    2. After a CUT line or a header block everything is history. After an attribution or ``>``
       lines, unquoted lines are answers (interleaved or bottom-posted): every answer is kept; with
       more than one answer, or quoted lines after the answer, the quoted paragraph just above each
       answer is kept as ``> `` context.
    3. The signature goes: from a "-- " line, a "Sent from my iPhone"/"Get Outlook for iOS" line,
       a valediction line ("Kind regards,", "Thanks, Jane", "Mit freundlichen Grüßen", …) that
       follows some text and has at most 15 lines after it, a signature container of the HTML, or
       (``signature_hint``) the last line equal to that container's first line.
    4. ``[cid:…]``/``[image: …]`` placeholders go; blank runs shrink to one; trimmed.
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    n = len(lines)
    block = attribution = quote = n
    attribution_lines = 0
    for i, line in enumerate(lines):
        if line == CUT:
            block = i
            break
        if len(line) > MAX_LINE or line == CUT_SIGNATURE:
            continue
        if quote == n and _QUOTED.match(line):
            quote = i
        if attribution == n:
            attribution_lines = _is_attribution(lines, i)
            if attribution_lines:
                attribution = i
        if _is_block(lines, i):
            block = i
            break
    library_block, library_attribution = _library_starts(lines)
    block = min(block, library_block)
    if library_attribution < attribution:
        attribution, attribution_lines = library_attribution, 1
    if quote < min(block, attribution):
        # An attribution in a form we do not know ("Вы писали 1 июня 2026 г., 10:02:"): the line
        # ending with a colon right above the first quoted line.
        j = quote - 1
        if j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and lines[j].rstrip().endswith((":", "：")) and 0 < len(lines[j]) <= 200 and not _QUOTED.match(
                lines[j]):
            attribution, attribution_lines = j, 1
    start = min(block, attribution, quote)
    cut_at = start
    j = start - 1
    while j >= 0 and _is_blank(lines[j]):
        j -= 1
    if j >= 0 and _RULE.match(lines[j]):
        cut_at = j
    body = lines[:cut_at]
    interleaved = False
    if start < block:
        region = lines[start:block]
        if start == attribution and not _QUOTED.match(lines[start]):
            region = region[attribution_lines:]
        answers = _answers(region)
        if answers is not None:
            body, interleaved = body + answers[0], answers[1]
    kept = _strip_signature(body, signature_hint)
    return Split(_finish(kept), interleaved, _finish(kept, keep_placeholders=True))


def signature_hint(marked: str) -> str:
    """The first line of the signature container in HTML converted with ``marks`` ("" if none):
    ``split_reply`` cuts the text/plain alternative there too (Outlook on the web's ``<div
    id="Signature">`` has no "-- " in its text/plain)."""
    lines = marked.split("\n")
    for i, line in enumerate(lines):
        if line == CUT:
            return ""
        if line == CUT_SIGNATURE:
            for following in lines[i + 1:]:
                if following in (CUT, CUT_SIGNATURE):
                    return ""
                cleaned = _normal(following)
                if cleaned:
                    return cleaned
            return ""
    return ""


def unmark(marked: str) -> str:
    """The plain text of ``html_to_text(…, marks=True)`` output: CUT lines and image markers removed."""
    lines = [line for line in marked.split("\n") if line not in (CUT, CUT_SIGNATURE)]
    return _finish(lines)


def _normal(line: str) -> str:
    return " ".join(_PLACEHOLDER.sub(" ", line).replace("\xa0", " ").split())


def _answers(rest: list[str]) -> tuple[list[str], bool] | None:
    """Lines written between/after quoted lines, or None when nothing new follows the quote."""
    blocks: list[tuple[bool, list[str]]] = []  # (quoted, lines)
    for line in rest:
        if line == CUT:
            break
        quoted = bool(_QUOTED.match(line))
        if _is_blank(line):
            if blocks:
                blocks[-1][1].append(line)
            continue
        if blocks and blocks[-1][0] == quoted:
            blocks[-1][1].append(line)
        else:
            blocks.append((quoted, [line]))
    answers = [i for i, (quoted, block) in enumerate(blocks) if not quoted and not _only_signature(block)]
    if not answers:
        return None
    quoted_after = any(quoted for quoted, _ in blocks[answers[-1] + 1:])
    interleaved = len(answers) > 1 or quoted_after
    out: list[str] = []
    for i, (quoted, block) in enumerate(blocks):
        if quoted:
            continue
        if i not in answers:  # the signature below the last answer: no context for it
            out += block
            break
        if interleaved and i > 0 and blocks[i - 1][0]:
            out += _last_paragraph(blocks[i - 1][1])
        out += block
        out.append("")
    return out, interleaved


def _only_signature(block: list[str]) -> bool:
    lines = [x for x in block if not _is_blank(x)]
    return not lines or lines[0].strip() in ("--", "-- ") or bool(_MOBILE.match(lines[0]))


def _last_paragraph(quoted: list[str]) -> list[str]:
    lines = list(quoted)
    while lines and _is_blank(lines[-1]):
        lines.pop()
    start = len(lines)
    while start > 0 and not _is_blank(lines[start - 1]):
        start -= 1
    return ["> " + line.lstrip("> ").rstrip() for line in lines[start:]]


def _strip_signature(lines: list[str], hint: str = "") -> list[str]:
    n = len(lines)
    if hint:
        for i in range(n - 1, 0, -1):
            if not _QUOTED.match(lines[i]) and _normal(lines[i]) == hint:
                if any(not _is_blank(x) for x in lines[:i]):
                    lines = lines[:i]
                    n = i
                break
    # After line i: how many unquoted non-blank lines, and whether any quoted line (computed once).
    after = [0] * (n + 1)
    quoted_after = [False] * (n + 1)
    for i in range(n - 1, -1, -1):
        quoted = bool(_QUOTED.match(lines[i]))
        after[i] = after[i + 1] + (0 if quoted or _is_blank(lines[i]) else 1)
        quoted_after[i] = quoted_after[i + 1] or quoted
    content_seen = False
    for i, line in enumerate(lines):
        if line == CUT_SIGNATURE:
            return lines[:i]
        if _QUOTED.match(line):
            continue
        stripped = line.strip()
        if stripped in ("--", "-- ") or (len(line) <= 120 and _MOBILE.match(line)):
            return lines[:i]
        if (content_seen and after[i + 1] <= _VALEDICTION_TAIL and not quoted_after[i + 1]
                and len(line) <= 120 and _VALEDICTION.match(line)):
            return lines[:i]
        if stripped:
            content_seen = True
    return lines


def _finish(lines: list[str], keep_placeholders: bool = False) -> str:
    cleaned = []
    for line in lines:
        if line in (CUT, CUT_SIGNATURE):
            break
        if "[" in line and not keep_placeholders:
            line = _PLACEHOLDER.sub(" ", line).strip(" ") if _PLACEHOLDER.fullmatch(line) else _PLACEHOLDER.sub(
                " ", line).rstrip()
        cleaned.append(line.replace("\xa0", " ").rstrip())
    return _squeeze("\n".join(cleaned)).strip("\n")


def cids_in(text: str) -> set[str]:
    """The Content-IDs of the ``[cid:…]`` markers in a text (lower case)."""
    return {m.lower() for m in re.findall(r"\[cid:([^\]\s]*)\]", text)}
