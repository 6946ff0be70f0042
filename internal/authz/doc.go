// Package authz keeps the authorizations made in the console or through the admin API: stored in
// the inventory database (shared by every replica, where the rules file may be a read-only
// mount), merged with the rules file's into the policy in force, and applied to the findings they
// cover, whose alerts are then never published.
package authz
