"""Settings for the in-process test suite: a private data directory, webhook captures
committed in the request's own transaction (the test's), not by the group-commit thread, and
passwords hashed with Argon2id at its least cost (tests/hashers.py: minutes of CI otherwise).

The environment is set here, before ``onfile.settings`` reads it, because pytest-django
loads the settings before any conftest runs.
"""

import os
import tempfile

os.environ["ONFILE_DATA_DIR"] = tempfile.mkdtemp(prefix="onfile-test-")
os.environ["ONFILE_WEBHOOK_GROUP_COMMIT"] = "0"
os.environ.setdefault("ONFILE_LOG_LEVEL", "WARNING")
os.environ.pop("ONFILE_MASTER_KEY", None)

from onfile.settings import *  # noqa: F403

# Same algorithm ("argon2"), so a hash made at the product's cost (by a subprocess) still verifies:
# Argon2 reads the cost from the hash.
PASSWORD_HASHERS = ["tests.hashers.QuickArgon2PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
