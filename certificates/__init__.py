"""Payment certificates (R13): numbers, signed verification tokens, QR codes and the printable PDF."""
