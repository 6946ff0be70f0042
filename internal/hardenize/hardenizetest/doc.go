// Package hardenizetest is a fake Hardenize Organization API for tests, following the seed's
// contract: HTTP Basic authentication, ErrorResponse bodies, event hook CRUD, ;test delivering real
// signed submissions (valid or broken as invalid= asks) to the hook's destination and judging the
// answer as Hardenize does, /events paging with since/type/limit, the account's certificates
// (GET /certs with its filters, GET /certs/{sha256}, the paginated POST /certs/;listCerts as an
// asynchronous operation with status polls, 303 before done and "Range: pages=N-N" results), and
// 429 answers on demand.
// Servers are safe for concurrent use; they are never used outside tests.
package hardenizetest
