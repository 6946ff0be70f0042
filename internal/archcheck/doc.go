// Package archcheck holds no code, only a test: the package map in the README (package, job, and
// the hzhook packages it may import) is held against `go list`, so the map a newcomer reads stays
// true. A package missing from the map, a row for a package that is gone, or an import the map
// does not allow fails the test; test files may import anything.
package archcheck
