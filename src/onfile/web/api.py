"""The ledger API: the latest signed checkpoint, inclusion and consistency proofs.

Proofs carry hashes only, never content, but they are still behind authentication:
the log's size and growth are the firm's business. An auditor account (REQ-SEC-11) is
enough to fetch them; every check can then be done offline with the verifier key.
"""

from __future__ import annotations

import base64

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from onfile.ledger.checkpoints import latest_checkpoint
from onfile.ledger.keys import signer
from onfile.ledger.proofs import ProofError, consistency, inclusion_bundle


def _int(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name, "")
    if not raw.isdigit():
        raise ProofError(f"the query parameter {name} must be a whole number")
    return int(raw)


@login_required
@require_GET
def checkpoint(request: HttpRequest) -> HttpResponse:
    cp = latest_checkpoint()
    if cp is None:
        return JsonResponse({"error": "no checkpoint yet"}, status=404)
    return JsonResponse({"size": cp.size, "root": cp.root, "note": cp.note, "verifier_key": signer().verifier_key()})


@login_required
@require_GET
def inclusion(request: HttpRequest) -> HttpResponse:
    try:
        bundle = inclusion_bundle(_int(request, "seq"))
    except ProofError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"seq": bundle.seq, "leaf": base64.b64encode(bundle.leaf).decode("ascii"),
                         "tlog_proof": bundle.tlog_proof})


@login_required
@require_GET
def consistency_view(request: HttpRequest) -> HttpResponse:
    try:
        old, new, proof = consistency(_int(request, "old"), _int(request, "new"))
    except ProofError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"old_checkpoint": old.note, "new_checkpoint": new.note,
                         "proof": [base64.b64encode(node).decode("ascii") for node in proof]})
