// Command hzctl is the hzhook operator tool. Run it without arguments for its commands.
package main
