"""System checks for search (ids onfile.E040…)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register("onfile")
def check_default_region(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    region = getattr(settings, "DEFAULT_REGION", "GB")
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        return [Error(f"ONFILE_DEFAULT_REGION={region!r} is not a region phone numbers are known for",
                      id="onfile.E040",
                      hint="Use a two-letter ISO 3166 code such as GB, US, DE; it says how to read numbers "
                           "written without a country code (07700 900123).")]
    return []
