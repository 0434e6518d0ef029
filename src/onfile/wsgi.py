import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onfile.settings")
_django = get_wsgi_application()

from onfile.channels.whatsapp.fastpath import wrap  # noqa: E402  (needs the settings above)

# Signed webhook POSTs skip Django's request cycle (see fastpath.py); all else is Django.
application = wrap(_django)
