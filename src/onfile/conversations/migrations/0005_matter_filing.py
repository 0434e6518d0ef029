# File-by-email: a matter's filing address (its document system's email address) and mode.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0004_notes_read_markers'),
    ]

    operations = [
        migrations.AddField(
            model_name='matter',
            name='filing_address',
            field=models.EmailField(blank=True, default='', max_length=254),
        ),
        migrations.AddField(
            model_name='matter',
            name='filing_mode',
            field=models.CharField(choices=[('message', 'each message'), ('day', 'daily digest')], default='message', max_length=10),
        ),
    ]
