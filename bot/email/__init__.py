"""E-mail: the third channel (SMTP sender) and the signed Approve / Reject links it carries."""
