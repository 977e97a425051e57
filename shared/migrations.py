"""Alembic, per service: each service's `migrations/` folder, its own database, one shared env."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from linli.shared.service import Runtime


def alembic_config(runtime: Runtime) -> Config:
    config = Config()
    config.set_main_option("script_location", str(runtime.spec.migrations))
    config.set_main_option("sqlalchemy.url", runtime.settings.database_url.replace("%", "%%"))
    config.attributes["runtime"] = runtime
    return config


def upgrade(runtime: Runtime, revision: str = "head") -> None:
    config = alembic_config(runtime)
    with runtime.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def run_env() -> None:
    """The body of every service's `migrations/env.py`."""
    from alembic import context

    runtime: Runtime = context.config.attributes["runtime"]
    connection = context.config.attributes.get("connection")
    options = {
        "target_metadata": runtime.spec.all_metadata,
        "render_as_batch": runtime.engine.dialect.name == "sqlite",
        "compare_type": True,
    }
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    with runtime.engine.begin() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
