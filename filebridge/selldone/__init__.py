"""The Selldone API boundary: the client, its transport and response classifier, the rate limiter and the payload models."""
