"""The ``exitkit`` command's entry point, also run by ``python -m exitkit``."""

import gc


def main() -> None:
    """Import the CLI with the garbage collector off, freeze what the import built, and
    run it.

    Importing the CLI leaves about 64,000 long-lived objects for the collector to track
    (132 pydantic models, typing, libcloud); collections during the import and every full
    collection after it, up to the one at interpreter exit, would walk them again. Frozen,
    they are skipped: ``python -c 'import exitkit.cli'`` so takes 0.33 s instead of 0.43 s
    here.
    """
    gc.disable()
    try:
        from exitkit.cli import app
    finally:
        gc.freeze()
        gc.enable()
    app()


if __name__ == "__main__":
    main()
