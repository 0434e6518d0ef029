# Lookups the access layer and the search make on every request: walled matters, and conversations by phone number.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0005_matter_filing'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['recipient'], name='conversation_recipient'),
        ),
        migrations.AddIndex(
            model_name='matter',
            index=models.Index(fields=['wall_mode'], name='matter_walled'),
        ),
        migrations.AddIndex(
            model_name='participant',
            index=models.Index(fields=['phone'], name='participant_phone'),
        ),
    ]
