package api

import (
	"encoding/json"
	"reflect"
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
		// encoding/json matches keys to fields regardless of case, with
		// Unicode's simple folding, and keeps the last.
		{"the same key in another case", `{"username":"bob","first_name":"B","USERNAME":"eve"}`, `the keys "username" and "USERNAME" are the same key`},
		{"a long s for an s", `{"first_name":"X","fir\u017ft_name":"Z"}`, `the keys "first_name" and "fir\u017ft_name" are the same key`},
		{"a long s in UTF-8", "{\"first_name\":\"X\",\"fir\u017ft_name\":\"Z\"}", "are the same key"},
		{"a Kelvin sign for a k", `{"\u212aey":1,"key":2}`, `the keys "\u212aey" and "key" are the same key`},
		{"Greek final sigma", `{"\u03c3":1,"\u03c2":2}`, "are the same key"},
		{"a titlecase digraph", `{"\u01c4":1,"\u01c5":2}`, "are the same key"},
		{"folded keys deep down", `{"a":[{"Name":1,"nAME":2}]}`, "are the same key"},
		{"other case in different objects", `{"a":{"x":1},"b":{"X":2}}`, ""},
		{"sharp s is not SS to encoding/json", `{"\u00df":1,"SS":2}`, ""},
		{"dotted capital I is not i to encoding/json", `{"i":1,"\u0130":2}`, ""},
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

// TestFoldKeyMatchesEncodingJSON: two keys fold alike exactly when
// encoding/json would fill a field named by one from the other, so the
// strict check refuses precisely the repeats the decoder would merge.
func TestFoldKeyMatchesEncodingJSON(t *testing.T) {
	pairs := [][2]string{
		{"username", "USERNAME"}, {"username", "UserName"}, {"first_name", "fir\u017ft_name"},
		{"key", "\u212aey"}, {"KEY", "\u212aey"}, {"\u03c3", "\u03c2"}, {"\u03a3", "\u03c2"},
		{"\u00e9", "\u00c9"}, {"\u01c6", "\u01c4"}, {"\u00df", "SS"}, {"\u00df", "\u1e9e"},
		{"i", "\u0130"}, {"i", "\u0131"}, {"first_name", "first-name"}, {"a1", "A1"}, {"a", "b"},
	}
	for _, p := range pairs {
		var tag, key string
		if err := json.Unmarshal([]byte(`"`+p[0]+`"`), &tag); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(`"`+p[1]+`"`), &key); err != nil {
			t.Fatal(err)
		}
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[*int](), Tag: reflect.StructTag(`json:"` + tag + `"`)}})
		v := reflect.New(typ)
		if err := json.Unmarshal([]byte(`{"`+p[1]+`":1}`), v.Interface()); err != nil {
			t.Fatal(err)
		}
		matched := !v.Elem().Field(0).IsNil()
		if folded := foldKey(tag) == foldKey(key); folded != matched {
			t.Errorf("key %q for field %q: encoding/json matches them: %v; foldKey says the same key: %v", key, tag, matched, folded)
		}
	}
}
