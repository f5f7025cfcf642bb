# No plan may delete anything: app registrations, custom server profiles and mailbox
# access policies go only through a reviewed `sssctl destroy`, never as a side effect of
# a configuration edit in a pull request.
package main

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
	msg := sprintf("%s (%s): this plan deletes it; remove resources with a reviewed `sssctl destroy --target`", [rc.address, rc.type])
}
