package events

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPermanent(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantNil bool
		wantMsg string
	}{
		{name: "nil stays nil", err: nil, wantNil: true},
		{name: "wraps", err: io.ErrUnexpectedEOF, wantMsg: "unexpected EOF"},
		{name: "wrapped context kept", err: fmt.Errorf("decode: %w", io.EOF), wantMsg: "decode: EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Permanent(tc.err)
			if tc.wantNil {
				require.NoError(t, got)
				return
			}
			require.Error(t, got)
			assert.Equal(t, tc.wantMsg, got.Error())
			assert.ErrorIs(t, got, tc.err)

			// Found through further wrapping, as a worker would see it.
			var perm *PermanentError
			require.True(t, errors.As(fmt.Errorf("handle: %w", got), &perm))
			assert.Equal(t, tc.err, perm.Unwrap())
		})
	}
}

func TestPermanentErrorNilErr(t *testing.T) {
	assert.Equal(t, "permanent error", (&PermanentError{}).Error())
}
