"""Tests of `hashwatch webhook` (alertmanager/receiver/): payloads, the store, the HTTP service, durability."""
