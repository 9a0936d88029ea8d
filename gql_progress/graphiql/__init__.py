"""GraphiQL, served by the app from its own origin in development mode (production serves no IDE).

The browser files are the published npm packages' own, vendored byte for byte under
``static/vendor/`` (``assets.py`` pins them, ``vendor.py`` refreshes and verifies them against the
registry); ``page.py`` serves the page that boots them and the files themselves.
"""
