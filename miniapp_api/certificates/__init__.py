"""Payment certificates (R13): numbers, signed verification tokens, QR codes, the PDF, revocation."""
