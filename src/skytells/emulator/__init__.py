"""The offline twin of the Skytells API (placeholder until the emulator lands)."""
