// Package apiwire is the JSON contract of hzhook's HTTP answers, shared by the servers that write
// them and hzctl that reads them: Hardenize's ErrorResponse (every error of every listener), the
// list envelope of the admin API, and the dead-letter records. It imports nothing that serves or
// stores, so a client links none of that.
package apiwire
