"""notify: notifications, their templates and inboxes (webhooks, SMS and email come later)."""
