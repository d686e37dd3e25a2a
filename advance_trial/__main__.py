"""Allow ``python -m advance_trial``."""

from advance_trial.cli.main import main

if __name__ == "__main__":
    main()
