# "No new app registrations", as written for Terraform's azuread_application: any create
# of the app registration type is denied. Knows sssctl only by the type's name.
package main

deny[msg] {
	rc := input.resource_changes[_]
	rc.type == "app_registration"
	rc.change.actions[_] == "create"
	msg := sprintf("%v: new app registrations need a separate review", [rc.name])
}
