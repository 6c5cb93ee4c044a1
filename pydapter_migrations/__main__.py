"""``python -m pydapter_migrations`` is ``pydapter-migrate``."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="pydapter-migrate")
