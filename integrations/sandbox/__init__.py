"""Local stand-ins for WeChat, the identity check, the agency registry and the tax bureau.

They follow `../shared/contract/INTEGRATIONS.md` exactly and run as their own process
(`flask --app wsgi sandbox`), reached only over HTTP, for the demo and the tests.
"""
