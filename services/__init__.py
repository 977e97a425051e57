"""The four services of linli; each imports `shared`, none imports another."""
