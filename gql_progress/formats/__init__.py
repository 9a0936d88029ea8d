"""The formats operators write settings in (key files, JWK sets, URLs, host lists, manifests).

Settings check each value at start-up with these parsers, and the module that uses the value
parses it with the same one; they live here, below every layer, so that settings never imports
the layers that read it.
"""
