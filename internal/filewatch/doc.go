// Package filewatch keeps a configuration file loaded: it re-reads the file when its content
// changes and hands the new bytes to the owner, who parses them and swaps them in. Comparing a hash
// of the content rather than the modification time also catches the symlink swap with which
// Kubernetes updates a mounted Secret or ConfigMap. A file that cannot be read or is invalid leaves
// the previous content active and is reported once at WARN; a successful reload is reported at INFO.
// Every check is counted in hz_config_checks_total{file,outcome}, so an operator (or a test) sees
// that a broken file was looked at and refused.
package filewatch
