"""Helpers the tests share: real servers on loopback, fixture loaders, hostile peers, exposition readers."""
