"""What the tests share, imported from here and never from a test module or a conftest.py:

constants (the test clock, keys, paths), factories (rows, and paid orders credited by the app's own
crediting), callers (the caller set of a resident-scoped route), problems (`assert_problem`), miniapp
(login and real-name steps through the API), payments (signed tax bureau callbacks), certificates,
tax and upstream (the client tests' sandbox and fakes), database, concurrency, live_server, waiting
and skipping.
"""
