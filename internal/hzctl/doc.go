// Package hzctl is the operator CLI: one command per file, each with its own flags and --help.
package hzctl
