package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
)

// certSection is one section of the certificate page, rendered by the template of its name
// from certificateData. The page is this list: a new section is one entry and one template.
type certSection struct {
	ID, Title, Template string
}

var certificateSections = []certSection{
	{"summary", "Subject and issuer", "cert-summary"},
	{"names", "Names", "cert-names"},
	{"validity", "Validity", "cert-validity"},
	{"key", "Key and signature", "cert-key"},
	{"hashes", "Fingerprints", "cert-hashes"},
	{"twins", "Precertificate and certificate", "cert-twins"},
	{"ct", "CT log entries", "cert-ct"},
	{"findings", "Findings", "cert-findings"},
	{"lints", "Lints (zlint)", "cert-lints"},
	{"pem", "PEM", "cert-pem"},
}

type certificateData struct {
	Cert     inventory.CertificateDetail
	Payload  events.Certificate
	PEM      string
	Findings []inventory.Finding
	Lints    lintsView
	Now      time.Time
	Sections []renderedSection
}

type renderedSection struct {
	ID, Title string
	HTML      template.HTML // the output of one of our own templates, values escaped there
}

// loadCertificate reads the certificate with sha256 sha (a 400 when it is not one, a 404 when it
// is not stored) with its payload decoded.
func (con *Console) loadCertificate(ctx context.Context, sha string) (certificateData, error) {
	sha = strings.ToLower(sha)
	if !isHex64(sha) {
		return certificateData{}, echo.NewHTTPError(http.StatusBadRequest, "sha256: must be 64 hex digits")
	}
	d, err := con.d.Inventory.Certificate(ctx, sha)
	if errors.Is(err, inventory.ErrNotFound) {
		return certificateData{}, echo.NewHTTPError(http.StatusNotFound, "certificate not found")
	}
	if err != nil {
		return certificateData{}, err
	}
	data := certificateData{Cert: d, Now: con.now()}
	_ = json.Unmarshal(d.Payload, &data.Payload) // a payload we cannot read leaves its fields empty
	if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data.Payload.PEM), "")); err == nil && len(der) > 0 {
		data.PEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	return data, nil
}

func (con *Console) certificate(c echo.Context) error {
	data, err := con.loadCertificate(c.Request().Context(), c.Param("sha256"))
	if err != nil {
		return err
	}
	fs, err := con.d.Inventory.ListFindings(c.Request().Context(), inventory.FindingQuery{SHA256: data.Cert.SHA256, Page: 1, PageSize: 200})
	if err != nil {
		return err
	}
	data.Findings = fs.Items
	data.Lints = newLintsView(data.Cert.Lints, fs.Items)
	t := con.views.pages["certificate"]
	for _, s := range certificateSections {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, s.Template, data); err != nil {
			return err
		}
		data.Sections = append(data.Sections, renderedSection{ID: s.ID, Title: s.Title, HTML: template.HTML(buf.String())}) //nolint:gosec // our template's output
	}
	title := "Certificate " + short(data.Cert.SHA256)
	if data.Cert.Subject != "" {
		title = data.Cert.Subject
	}
	return con.render(c, http.StatusOK, "certificate", title, "certificates", data)
}

// certificatePEM downloads the certificate as a PEM file named by its sha256.
func (con *Console) certificatePEM(c echo.Context) error {
	data, err := con.loadCertificate(c.Request().Context(), c.Param("sha256"))
	if err != nil {
		return err
	}
	if data.PEM == "" {
		return echo.NewHTTPError(http.StatusNotFound, "no DER stored for this certificate")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+data.Cert.SHA256+`.pem"`)
	return c.Blob(http.StatusOK, "application/x-pem-file", []byte(data.PEM))
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
