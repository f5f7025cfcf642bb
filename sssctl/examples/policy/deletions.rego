# No plan may delete anything as a side effect of a configuration edit in a pull request:
# app registrations, custom server profiles and mailbox access policies go only through
# a destroy plan (`sssctl plan --destroy --out F`), reviewed like any plan, then applied
# with `sssctl apply F`. A destroy plan says so in `sssctl.destroy`.
package main

import rego.v1

deny contains msg if {
	not input.sssctl.destroy
	some rc in input.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s: this plan deletes it; remove resources with a reviewed `sssctl plan --destroy`", [object_of(rc)])
}

# The object by its type, and its name or key (server_profile_custom Contoso EXO), not by
# its address: server_profile.custom["X"] holds double quotes, and some evaluators hand a
# message with quotes back broken (regopy 1.5 given a Python dict as input).
object_of(rc) := sprintf("%s %s", [rc.type, rc.index]) if {
	rc.index
} else := sprintf("%s %s", [rc.type, rc.name])
