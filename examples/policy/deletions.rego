# No plan may delete anything: app registrations, custom server profiles and mailbox
# access policies go only through a reviewed `sssctl destroy`, never as a side effect of
# a configuration edit in a pull request.
package main

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s: this plan deletes it; remove resources with a reviewed `sssctl destroy --target`", [object_of(rc)])
}

# The object by its type, and its name or key (server_profile_custom Contoso EXO), not by
# its address: server_profile.custom["X"] holds double quotes, and some evaluators hand a
# message with quotes back broken (regopy 1.5 given a Python dict as input).
object_of(rc) := sprintf("%s %s", [rc.type, rc.index]) if {
	rc.index
} else := sprintf("%s %s", [rc.type, rc.name])
