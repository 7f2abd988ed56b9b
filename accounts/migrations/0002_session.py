import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('token_blacklist', '0013_alter_blacklistedtoken_options_and_more'),
    ]

    operations = [
        migrations.CreateModel(
            name='Session',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField(help_text='Absolute end, however often it is refreshed.')),
                ('last_used_at', models.DateTimeField(help_text='Latest login or refresh.')),
                ('user_agent', models.CharField(blank=True, max_length=256)),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('end_reason', models.CharField(blank=True, choices=[('logout', 'revoked by its user'), ('logout_everywhere', 'log out everywhere'), ('reuse_detected', 'a spent refresh token was presented again'), ('password_changed', 'the password was set'), ('user_disabled', 'the user was disabled'), ('admin', 'revoked by an administrator')], max_length=32)),
                ('refresh_token', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='session', to='token_blacklist.outstandingtoken')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='token_sessions', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['user', '-created_at'], name='accounts_session_user_idx'),
        ),
    ]
