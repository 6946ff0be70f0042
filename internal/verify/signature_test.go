package verify

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedHeader is the example from Hardenize's "Event Signatures" documentation.
const (
	seedHeader = "t=1539185809044; hmac-sha256=64d386808229f5c84fac665fb6f9376f24efca2971b51713032dca6b83566fd8"
	seedTS     = int64(1539185809044)
	seedMACHex = "64d386808229f5c84fac665fb6f9376f24efca2971b51713032dca6b83566fd8"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestParseSignature(t *testing.T) {
	t.Parallel()
	seedMAC := mustHex(t, seedMACHex)
	tests := []struct {
		name    string
		header  string
		want    Signature
		wantErr string // substring; empty means success
	}{
		{name: "seed header", header: seedHeader, want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "reversed order", header: "hmac-sha256=" + seedMACHex + ";t=1539185809044", want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "no space", header: "t=1539185809044;hmac-sha256=" + seedMACHex, want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "extra spaces", header: "  t = 1539185809044 ;\t hmac-sha256= " + seedMACHex + "  ", want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "empty parts", header: ";t=1539185809044;; hmac-sha256=" + seedMACHex + ";", want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "upper-case hex", header: "t=1539185809044; hmac-sha256=" + strings.ToUpper(seedMACHex), want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "unknown key ignored", header: seedHeader + "; hmac-sha512=abcd; v=2", want: Signature{Timestamp: seedTS, MAC: seedMAC}},
		{name: "smallest timestamp", header: "t=1; hmac-sha256=" + seedMACHex, want: Signature{Timestamp: 1, MAC: seedMAC}},
		{name: "max int64 timestamp", header: "t=9223372036854775807; hmac-sha256=" + seedMACHex, want: Signature{Timestamp: 9223372036854775807, MAC: seedMAC}},

		{name: "empty", header: "", wantErr: "missing t"},
		{name: "only separators", header: " ; ;", wantErr: "missing t"},
		{name: "missing t", header: "hmac-sha256=" + seedMACHex, wantErr: "missing t"},
		{name: "missing mac", header: "t=1539185809044", wantErr: "missing hmac-sha256"},
		{name: "upper-case key is not t", header: "T=1539185809044; hmac-sha256=" + seedMACHex, wantErr: "missing t"},
		{name: "duplicate t", header: seedHeader + "; t=1539185809045", wantErr: "duplicate t"},
		{name: "duplicate identical t", header: seedHeader + "; t=1539185809044", wantErr: "duplicate t"},
		{name: "duplicate mac", header: seedHeader + "; hmac-sha256=" + seedMACHex, wantErr: "duplicate hmac-sha256"},
		{name: "part without equals", header: seedHeader + "; garbage", wantErr: "without '='"},
		{name: "empty key", header: seedHeader + "; =x", wantErr: "empty key"},
		{name: "bad hex", header: "t=1539185809044; hmac-sha256=" + strings.Repeat("zz", 32), wantErr: "not hex"},
		{name: "mac 63 chars", header: "t=1539185809044; hmac-sha256=" + seedMACHex[:63], wantErr: "64 hex digits"},
		{name: "mac 66 chars", header: "t=1539185809044; hmac-sha256=" + seedMACHex + "00", wantErr: "64 hex digits"},
		{name: "mac empty", header: "t=1539185809044; hmac-sha256=", wantErr: "64 hex digits"},
		{name: "negative t", header: "t=-1539185809044; hmac-sha256=" + seedMACHex, wantErr: "decimal digits"},
		{name: "plus sign t", header: "t=+1539185809044; hmac-sha256=" + seedMACHex, wantErr: "decimal digits"},
		{name: "non-numeric t", header: "t=abc; hmac-sha256=" + seedMACHex, wantErr: "decimal digits"},
		{name: "fractional t", header: "t=1539185809.044; hmac-sha256=" + seedMACHex, wantErr: "decimal digits"},
		{name: "empty t", header: "t=; hmac-sha256=" + seedMACHex, wantErr: "1 to 19 decimal digits"},
		{name: "zero t", header: "t=0; hmac-sha256=" + seedMACHex, wantErr: "positive"},
		{name: "overflow t 19 digits", header: "t=9223372036854775808; hmac-sha256=" + seedMACHex, wantErr: "out of range"},
		{name: "overflow t 20 digits", header: "t=15391858090440000000; hmac-sha256=" + seedMACHex, wantErr: "1 to 19 decimal digits"},
		{name: "too long", header: seedHeader + ";x=" + strings.Repeat("a", maxHeaderLen), wantErr: "longer than 1024 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSignature(tc.header)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformedSignature)
				assert.ErrorContains(t, err, tc.wantErr)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// Expected value computed independently with
	//   printf '1539185809044;{"a":1}' | openssl dgst -sha256 -hmac 3685c06a966e4d0ea625d0b475719661
	got := Sign("3685c06a966e4d0ea625d0b475719661", time.UnixMilli(seedTS), []byte(`{"a":1}`))
	assert.Equal(t, "t=1539185809044; hmac-sha256=cd812f1fc9cf3de5b920537b182241cc73b9ed56ac4c4bd941f2bd100749ae70", got)

	sig, err := ParseSignature(got)
	require.NoError(t, err)
	assert.Equal(t, seedTS, sig.Timestamp)
	assert.Len(t, sig.MAC, 32)
}

func TestSignTruncatesToMilliseconds(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(seedTS).Add(999 * time.Microsecond)
	assert.Equal(t, Sign("s", time.UnixMilli(seedTS), nil), Sign("s", at, nil))
}

func FuzzParseSignature(f *testing.F) {
	for _, seed := range []string{
		seedHeader,
		"hmac-sha256=" + seedMACHex + ";t=1539185809044",
		" t = 1 ; hmac-sha256 = " + strings.ToUpper(seedMACHex) + " ; ",
		seedHeader + "; hmac-sha512=abcd",
		"t=9223372036854775808; hmac-sha256=" + seedMACHex,
		"t=-1; hmac-sha256=" + seedMACHex,
		"t=1;t=2",
		"",
		";;=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := ParseSignature(header)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedSignature)
			return
		}
		require.Len(t, sig.MAC, 32)
		require.Positive(t, sig.Timestamp)
		// The canonical form of an accepted header parses to the same value.
		again, err := ParseSignature(fmt.Sprintf("t=%d; hmac-sha256=%x", sig.Timestamp, sig.MAC))
		require.NoError(t, err)
		require.Equal(t, sig, again)
	})
}
