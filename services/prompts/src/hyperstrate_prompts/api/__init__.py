"""Litestar controllers and msgspec DTOs."""
