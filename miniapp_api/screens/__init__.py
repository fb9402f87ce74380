"""The mini-program's screens as a mobile web app (`static/app/`), served at `/app/`; it talks only to `/api/v1`."""
