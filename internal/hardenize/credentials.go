package hardenize

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadCredentials reads a credentials file: YAML or JSON with user and password
// ({"user": "...", "password": "..."}), or one line "user:password". Errors never quote the file.
func LoadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file: %w", err)
	}
	data = bytes.TrimSpace(data)
	var c Credentials
	if line := string(data); !strings.ContainsAny(line, "\n{") && strings.Count(line, ":") >= 1 && !strings.Contains(line, ": ") {
		c.User, c.Password, _ = strings.Cut(line, ":")
	} else if err := yaml.Unmarshal(data, &c); err != nil {
		return Credentials{}, errors.New("credentials file " + path + ": not YAML/JSON with user and password, nor user:password")
	}
	if c.User == "" || c.Password == "" {
		return Credentials{}, errors.New("credentials file " + path + ": user and password must both be set")
	}
	return c, nil
}
