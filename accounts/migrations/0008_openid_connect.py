"""OpenID Connect: every user gets a stable public `sub`; emails can be marked verified; a
session keeps its authorization request's nonce (for the ID tokens of its refreshes)."""

import uuid

from django.db import migrations, models


def give_every_user_a_subject(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for pk in User.objects.filter(public_id__isnull=True).values_list("pk", flat=True):
        User.objects.filter(pk=pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_authorization_server")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="public_id",
            field=models.UUIDField(null=True, editable=False, verbose_name="subject identifier"),
        ),
        migrations.RunPython(give_every_user_a_subject, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="public_id",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="subject identifier"
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="email_verified",
            field=models.BooleanField(
                default=False,
                help_text="Whether an identity provider verified the email (email_verified in ID tokens).",
            ),
        ),
        migrations.AddField(
            model_name="session",
            name="nonce",
            field=models.CharField(blank=True, max_length=512, help_text="The authorization request's nonce."),
        ),
    ]
