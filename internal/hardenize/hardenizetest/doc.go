// Package hardenizetest is a fake Hardenize Organization API for tests, following the seed's
// contract: HTTP Basic authentication, ErrorResponse bodies, event hook CRUD, ;test delivering real
// signed submissions (valid or broken as invalid= asks) to the hook's destination and judging the
// answer as Hardenize does, /events paging with since/type/limit, and 429 answers on demand.
// Servers are safe for concurrent use; they are never used outside tests.
package hardenizetest
