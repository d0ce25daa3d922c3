"""Validated rows → ordered API calls: fulfilment planning, per-row replay, reconciliation and the order book."""
