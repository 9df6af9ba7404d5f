"""``python -m motionbench`` and the ``motionbench`` console script."""
from motionbench.cli.app import main

if __name__ == "__main__":
    main()
