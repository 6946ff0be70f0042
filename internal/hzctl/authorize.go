package hzctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/rules"
)

// runAuthorize appends an authorization to the rules file: one issuance by tbsSha256, or a key by
// spkiSha256 limited to names. Running workers pick the change up when they next poll the file.
// With --db it stores the authorization in the inventory database instead, through the worker's
// admin API (for a read-only rules file, as in Kubernetes): every replica applies it within
// seconds and the findings it covers are authorized at once.
func runAuthorize(ctx context.Context, args []string, cio IO) error {
	var (
		spec  rules.AuthorizationSpec
		path  string
		names []string
		toDB  bool
		api   adminOptions
	)
	set := config.NewSet("hzctl authorize", cio.Env)
	set.String(&spec.TBSSHA256, "tbs", "", "", "authorize one issuance: its tbsSha256 (precertificate and certificate share it)")
	set.String(&spec.SPKISHA256, "spki", "", "", "authorize a key: its spkiSha256 (renewals on a known key); needs --names")
	set.List(&names, "names", "", nil, "with --spki: the names (comma-separated) the key may appear with; .example.com = it and all subdomains")
	set.String(&path, "rules", "HZ_RULES_FILE", "", "rules file to edit (created if missing)")
	set.String(&spec.Note, "note", "", "", "why, for the next reader of the rules file")
	set.Bool(&toDB, "db", "", false, "store the authorization in the inventory database through the worker admin API (--api, HZ_ADMIN_TOKEN) instead of the rules file")
	bindAdminOptions(set, &api, "admin API (with --db)", 30*time.Second)
	if err := parse(set, args, cio); err != nil {
		return err
	}
	switch {
	case path == "" && !toDB:
		return errors.New("--rules (or HZ_RULES_FILE) is required, or --db to store the authorization in the inventory database")
	case (spec.TBSSHA256 == "") == (spec.SPKISHA256 == ""):
		return errors.New("give exactly one of --tbs or --spki")
	case spec.SPKISHA256 != "" && len(names) == 0:
		return errors.New("--spki needs --names: a key is authorized only for the names it is expected on")
	case spec.TBSSHA256 != "" && len(names) > 0:
		return errors.New("--names applies only to --spki")
	}
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			spec.Names = append(spec.Names, n)
		}
	}
	if toDB {
		return authorizeInDB(ctx, spec, api, cio)
	}
	added, err := rules.AddAuthorization(path, spec)
	if err != nil {
		return err
	}
	what := "tbsSha256 " + strings.ToLower(spec.TBSSHA256)
	if spec.SPKISHA256 != "" {
		what = fmt.Sprintf("spkiSha256 %s for %s", strings.ToLower(spec.SPKISHA256), strings.Join(spec.Names, ", "))
	}
	if !added {
		fmt.Fprintf(cio.Out, "already authorized: %s in %s\n", what, path)
		return nil
	}
	fmt.Fprintf(cio.Out, "authorized %s in %s\n", what, path)
	return nil
}

// authorizeInDB posts spec to POST /api/v1/authorizations.
func authorizeInDB(ctx context.Context, spec rules.AuthorizationSpec, o adminOptions, cio IO) error {
	req := apiwire.AuthorizationRequest{TBSSHA256: spec.TBSSHA256, SPKISHA256: spec.SPKISHA256, Names: spec.Names, Note: spec.Note, Author: "hzctl"}
	var res apiwire.AuthorizationResult
	raw, err := newAdminAPI(o).send(ctx, "POST", "/api/v1/authorizations", nil, req, &res)
	if o.JSON {
		return printJSON(cio.Out, raw, err)
	}
	if err != nil {
		return err
	}
	a := res.Authorization
	what := "tbsSha256 " + a.TBSSHA256
	if a.SPKISHA256 != "" {
		what = fmt.Sprintf("spkiSha256 %s for %s", a.SPKISHA256, strings.Join(a.Names, ", "))
	}
	if !res.Added {
		fmt.Fprintf(cio.Out, "already authorized in the inventory database: %s (%d findings authorized now)\n", what, res.Findings)
		return nil
	}
	fmt.Fprintf(cio.Out, "authorized %s in the inventory database (%d findings authorized)\n", what, res.Findings)
	return nil
}
