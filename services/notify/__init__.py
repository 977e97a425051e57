"""notify: notifications, their templates and inboxes, and signed webhooks (SMS and email come later)."""
