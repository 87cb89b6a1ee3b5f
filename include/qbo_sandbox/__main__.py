"""`python -m qbo_sandbox`: run the emulator."""

from qbo_sandbox.server import main

if __name__ == "__main__":
    main()
