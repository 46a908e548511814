"""Local stand-ins for Microsoft Graph (mail) and Exchange Web Services, for Mailroom's tests."""
