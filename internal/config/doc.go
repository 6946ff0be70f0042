// Package config binds each setting of a binary to a command-line flag and an HZ_* environment
// variable from one definition, so --help, the parser and the deployment checks cannot drift apart.
//
// A flag given on the command line wins over its environment variable, which wins over the default.
// Invalid values stop parsing with an error that names the flag or the variable.
package config
