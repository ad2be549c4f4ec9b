package callable

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// intReq has the integer fields an SDK may send as Firebase's 64-bit
// wrappers (Swift Int, Kotlin Long).
type intReq struct {
	I   int64  `json:"i"`
	U   uint64 `json:"u"`
	N   int    `json:"n"`
	S   string `json:"s"`
	Sub *struct {
		K int32 `json:"k"`
	} `json:"sub"`
}

func wrap(typ, value string) string {
	return `{"@type":"type.googleapis.com/google.protobuf.` + typ + `","value":` + value + `}`
}

func TestDecodeDataIntegers(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    intReq
		wantErr string // a substring of the INVALID_ARGUMENT message; "" means success
	}{
		{"plain numbers", `{"i":-5,"u":7,"n":3}`, intReq{I: -5, U: 7, N: 3}, ""},
		{"int64 wrapper", `{"i":` + wrap("Int64Value", `"-9223372036854775808"`) + `}`, intReq{I: math.MinInt64}, ""},
		{"uint64 wrapper", `{"u":` + wrap("UInt64Value", `"18446744073709551615"`) + `}`, intReq{U: math.MaxUint64}, ""},
		{"int64 wrapper into int", `{"n":` + wrap("Int64Value", `"42"`) + `}`, intReq{N: 42}, ""},
		{"wrapper nested", `{"sub":{"k":` + wrap("Int64Value", `"7"`) + `}}`, intReq{Sub: &struct {
			K int32 `json:"k"`
		}{K: 7}}, ""},
		{"keys in any order", `{"i":{"value":"5","@type":"type.googleapis.com/google.protobuf.Int64Value"}}`, intReq{I: 5}, ""},
		{"int64 out of range", `{"i":` + wrap("Int64Value", `"9223372036854775808"`) + `}`, intReq{}, `"i"`},
		{"uint64 negative", `{"u":` + wrap("UInt64Value", `"-1"`) + `}`, intReq{}, `"u"`},
		{"uint64 too big", `{"u":` + wrap("UInt64Value", `"18446744073709551616"`) + `}`, intReq{}, `"u"`},
		{"negative into uint64", `{"u":` + wrap("Int64Value", `"-1"`) + `}`, intReq{}, `"u"`},
		{"too big for int32", `{"sub":{"k":` + wrap("Int64Value", `"2147483648"`) + `}}`, intReq{}, `"sub.k"`},
		{"value not a string", `{"i":` + wrap("Int64Value", `5`) + `}`, intReq{}, `"i"`},
		{"value not decimal", `{"i":` + wrap("Int64Value", `"0x5"`) + `}`, intReq{}, `"i"`},
		{"value with plus", `{"i":` + wrap("Int64Value", `"+5"`) + `}`, intReq{}, `"i"`},
		{"value with space", `{"i":` + wrap("Int64Value", `" 5"`) + `}`, intReq{}, `"i"`},
		{"value empty", `{"i":` + wrap("Int64Value", `""`) + `}`, intReq{}, `"i"`},
		{"value missing", `{"i":{"@type":"type.googleapis.com/google.protobuf.Int64Value"}}`, intReq{}, `"i"`},
		{"extra key", `{"i":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5","x":1}}`, intReq{}, `"i"`},
		{"duplicate value", `{"i":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5","value":"6"}}`, intReq{}, `"i.value"`},
		{"unknown type", `{"i":` + wrap("DoubleValue", `"5"`) + `}`, intReq{}, `"i"`},
		{"wrapper into string", `{"s":` + wrap("Int64Value", `"5"`) + `}`, intReq{}, `"s"`},
		{"fraction", `{"i":1.5}`, intReq{}, `"i"`},
		{"string into int", `{"i":"5"}`, intReq{}, `"i"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeData[intReq]([]byte(tt.data))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			var cerr *Error
			require.True(t, errors.As(err, &cerr), "%v", err)
			require.Equal(t, InvalidArgument, cerr.Status)
			require.Contains(t, cerr.Message, tt.wantErr)
		})
	}
}

// TestDecodeDataStrict: exact names, no duplicates, no unknown fields, at
// every level of data.
func TestDecodeDataStrict(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"exact", `{"s":"x","sub":{"k":1}}`, ""},
		{"case", `{"S":"x"}`, `"S"`},
		{"case nested", `{"sub":{"K":1}}`, `"sub.K"`},
		{"duplicate", `{"s":"x","s":"y"}`, `duplicate field "s"`},
		{"duplicate nested", `{"sub":{"k":1,"k":2}}`, `duplicate field "sub.k"`},
		{"unknown", `{"s":"x","t":1}`, `unknown field "t"`},
		{"unknown nested", `{"sub":{"j":1}}`, `unknown field "sub.j"`},
		{"invalid UTF-8", "{\"s\":\"\xff\"}", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeData[intReq]([]byte(tt.data))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			var cerr *Error
			require.True(t, errors.As(err, &cerr), "%v", err)
			require.Equal(t, InvalidArgument, cerr.Status)
			require.Contains(t, cerr.Message, tt.wantErr)
		})
	}
}
