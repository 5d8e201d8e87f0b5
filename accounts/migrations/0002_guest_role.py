from django.db import migrations


def create_guest_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="guest")


def remove_guest_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="guest").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles")]
    operations = [migrations.RunPython(create_guest_role, remove_guest_role)]
