"""Signing key states follow from dates: `active` and `retired_at` go, `compromised_at` comes."""

from django.db import migrations, models
from django.db.models import F

import django.utils.timezone


def activation_dates(apps, schema_editor):
    # A key made before this migration without an activation date signed from its creation.
    SigningKey = apps.get_model("accounts", "SigningKey")
    SigningKey.objects.filter(activates_at__isnull=True).update(activates_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_throttlecounter")]

    operations = [
        migrations.RunPython(activation_dates, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="signingkey", name="accounts_signingkey_one_active"),
        migrations.RemoveField(model_name="signingkey", name="active"),
        migrations.RemoveField(model_name="signingkey", name="retired_at"),
        migrations.AlterField(
            model_name="signingkey",
            name="activates_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="Signs from then on (a rotated-in key is published first).",
            ),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="compromised_at",
            field=models.DateTimeField(
                blank=True, null=True, help_text="Distrusted: neither used nor published from then on."
            ),
        ),
        migrations.AddIndex(
            model_name="signingkey",
            index=models.Index(fields=["-activates_at"], name="accounts_signingkey_act_idx"),
        ),
    ]
