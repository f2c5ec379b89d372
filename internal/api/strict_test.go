package api

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestCheckStrictJSON(t *testing.T) {
	tests := []struct {
		name, body string
		wantMsg    string // "" for accepted
	}{
		{"an object", `{"a":1,"b":"x","c":[1,2,{"d":null}],"e":{"f":true}}`, ""},
		{"the same key in different objects", `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`, ""},
		{"escapes", `{"a\n":"\"\\\/\b\f\n\r\t","a":"\u00e9\ud83d\ude00"}`, ""},
		{"UTF-8", `{"name":"Jérôme 😀"}`, ""},
		{"U+FFFD itself", "{\"a\":\"\uFFFD\\ufffd\"}", ""},
		{"empty", ``, ""},
		{"a syntax error is the decoder's to explain", `{"a":1,,"a":2}`, ""},
		{"a repeated key", `{"a":1,"a":2}`, `the key "a" appears twice`},
		{"a repeated key deep down", `{"x":[{"b":1,"c":2,"b":3}]}`, `the key "b" appears twice`},
		{"a repeated key spelled with an escape", `{"name":1,"nam\u0065":2}`, `the key "name" appears twice`},
		{"invalid UTF-8 in a value", "{\"a\":\"\xff\"}", "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"\xc3\x28\":1}", "not valid UTF-8"},
		{"an overlong encoding", "{\"a\":\"\xc0\xaf\"}", "not valid UTF-8"},
		{"a UTF-16 surrogate as UTF-8", "{\"a\":\"\xed\xa0\x80\"}", "not valid UTF-8"},
		{"a lone high surrogate", `{"a":"\ud800"}`, "lone UTF-16 surrogate"},
		{"a lone low surrogate", `{"a":"\udc00x"}`, "lone UTF-16 surrogate"},
		{"a high surrogate and no low one", `{"a":"\ud800\u0041"}`, "lone UTF-16 surrogate"},
		{"nested too deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), "nested more than"},
	}
	for _, tt := range tests {
		err := checkStrictJSON([]byte(tt.body))
		switch {
		case tt.wantMsg == "" && err != nil:
			t.Errorf("%s: refused %q: %v", tt.name, tt.body, err)
		case tt.wantMsg != "" && (herald.ErrorCode(err) != herald.EINVALID || !strings.Contains(err.Error(), tt.wantMsg)):
			t.Errorf("%s: checkStrictJSON(%q) = %v, want EINVALID with %q", tt.name, tt.body, err, tt.wantMsg)
		}
	}
}
