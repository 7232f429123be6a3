"""pytest plugin: the `skytells_emulator` fixture (placeholder until the emulator lands)."""
