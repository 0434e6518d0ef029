"""Exports of conversations (REQ-SEC-8): JSON lines (``jsonl``), the PDF transcript
(``transcript/``) and the zip with media and manifest. ``conversation`` is the one entry point:
access check, checkpoint, production and ledger entry; ``views`` are the page's download links.
Long conversations are exported by the background worker instead (``jobs``, ``models``), into
files sealed at rest (``sealed``) that the person who asked downloads from "My exports"."""
