from catalog_support import catalog, fake_upstream, private_nats  # noqa: F401 - fixtures
