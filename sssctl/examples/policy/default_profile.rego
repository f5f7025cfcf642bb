# No plan may switch the built-in "Microsoft Exchange Online" server profile back on
# (Controls 1 and 5): it synchronizes through Dataverse's first-party app, which can
# reach every mailbox, instead of your own scoped app registration.
package main

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "server_profile_default"
	some action in rc.change.actions
	action in {"create", "update", "delete"}
	rc.change.after.active == true
	not rc.change.before.active
	msg := sprintf("%s: this plan activates the first-party Exchange Online profile", [rc.address])
}
