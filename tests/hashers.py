"""Argon2id at the smallest cost, for the in-process tests only (onfile.settings_test).

Each account a test makes, and each sign-in, hashes a password: at Django's cost (100 MiB,
two passes) that is 0.1–0.4 s, and the suite makes thousands — minutes of CI. The algorithm
and the stored format are the product's (``argon2$argon2id$…``); only the cost differs, and
``tests/test_web.py`` checks that the product itself keeps Django's. Subprocess tests (``onfile
serve`` for the browser) run with the product's settings.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: argon2's least for one lane
    parallelism = 1
