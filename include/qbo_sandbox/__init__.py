"""qbo_sandbox: a local QuickBooks Online v3 emulator reached by python-quickbooks and
intuit-oauth unchanged. See README.md; entry points are `server.create_app`,
`server.main` and `testing.running_sandbox`.
"""
