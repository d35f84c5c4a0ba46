"""Notifications: domain events written to an outbox with the change, delivered by workers."""
