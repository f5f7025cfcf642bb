# No plan may let users approve their own mailbox again (Control 2).
#
# Written against Terraform's JSON plan representation, which `sssctl plan --json`
# follows: resource_changes[].type / name / change.actions / change.after.
# Removing the setting from the configuration restores its original value, which on a
# fresh organization is "(default: false)": any value but true after the change is denied.
package main

import rego.v1

self_approval := "RequirePrivilegeToSelfApproveEmailAddress"

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "org_setting"
	rc.name == self_approval
	some action in rc.change.actions
	action in {"create", "update", "delete"}
	not enforced(rc.change.after)
	msg := sprintf("%s: this plan lets users approve their own mailbox (value after apply: %v)", [rc.address, value_of(rc.change.after)])
}

enforced(after) if after.value == true

value_of(after) := v if {
	v := after.value
} else := "removed"
