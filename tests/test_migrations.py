"""The migrations describe the models: a model change without its migration fails here."""

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from settings import get_settings, tortoise_config


async def test_no_model_change_lacks_a_migration(database):
    apps_config = tortoise_config(get_settings(), database)["apps"]
    assert isinstance(apps_config, dict)
    detector = MigrationAutodetector(Tortoise.apps, apps_config)  # type: ignore[arg-type]
    writers = await detector.changes()
    assert writers == [], "run `tortoise -c settings.TORTOISE_ORM makemigrations`: " + ", ".join(
        f"{w.app_label}.{w.name}" for w in writers
    )
