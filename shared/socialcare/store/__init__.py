"""Data access: one repository per table. Nothing outside this package builds DynamoDB keys."""
