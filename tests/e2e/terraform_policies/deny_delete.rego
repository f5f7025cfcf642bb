# A deny-delete rule as Terraform users write it for `terraform show -json` (Conftest's
# documented form), with nothing specific to sssctl.
package main

deny[msg] {
	rc := input.resource_changes[_]
	rc.change.actions[_] == "delete"
	msg := sprintf("%v: deleting %v is not allowed", [rc.name, rc.type])
}
