"""Lethe's gateway: the web clients' JSON API over the services' gRPC APIs."""
