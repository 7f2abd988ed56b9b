"""Session.refresh_token is the record of the newest refresh token, not a token: newest_record."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_signingkey_states_from_dates"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [
        migrations.RenameField(model_name="session", old_name="refresh_token", new_name="newest_record"),
        migrations.AlterField(
            model_name="session",
            name="newest_record",
            field=models.OneToOneField(
                help_text="The record of the session's newest refresh token.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="session",
                to="token_blacklist.outstandingtoken",
            ),
        ),
        migrations.AlterField(
            model_name="session",
            name="end_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("logout", "revoked by its user"),
                    ("logout_everywhere", "log out everywhere"),
                    ("reuse_detected", "a spent refresh token was presented again"),
                    ("password_changed", "the password was set"),
                    ("user_disabled", "the user was disabled"),
                    ("admin", "revoked by an administrator"),
                    ("session_limit", "the user started more sessions than SESSIONS_PER_USER_MAX"),
                ],
                max_length=32,
            ),
        ),
    ]
