package apiwire

import "time"

// AuthorizationRequest is the body of POST /api/v1/authorizations: one issuance by tbsSha256, or
// a key by spkiSha256 for names (".example.com" = it and every name below), as in the rules file.
type AuthorizationRequest struct {
	TBSSHA256  string   `json:"tbsSha256,omitempty"`
	SPKISHA256 string   `json:"spkiSha256,omitempty"`
	Names      []string `json:"names,omitempty"`
	Note       string   `json:"note,omitempty"`
	Author     string   `json:"author,omitempty"` // who asked, e.g. "hzctl"; "api" when empty
}

// Authorization is an authorization stored in the inventory database.
type Authorization struct {
	ID         string    `json:"id"`
	TBSSHA256  string    `json:"tbsSha256,omitempty"`
	SPKISHA256 string    `json:"spkiSha256,omitempty"`
	Names      []string  `json:"names,omitempty"`
	Note       string    `json:"note"`
	Author     string    `json:"author"`
	CreatedAt  time.Time `json:"createdAt"`
}

// AuthorizationResult answers POST /api/v1/authorizations: the authorization as stored, whether
// this request added it (false: it was stored before, unchanged), and how many findings it
// authorized now (their alerts, if not yet sent, are not sent).
type AuthorizationResult struct {
	Authorization Authorization `json:"authorization"`
	Added         bool          `json:"added"`
	Findings      int           `json:"findings"`
}
