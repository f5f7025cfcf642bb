"""The OrgDBOrgSettings catalogue and the option vocabularies, as data. Imports nothing of sssctl."""

