"""NFC: card readers, card emulation and NTAG 424 DNA Secure Unique NFC (SUN) messages."""
