package api

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// maxJSONDepth bounds the nesting of a request body; no request of the API
// nests more than a few levels.
const maxJSONDepth = 32

// checkStrictJSON refuses what encoding/json would let through silently:
// bytes that are not UTF-8 (it would store U+FFFD instead), \u escapes of
// lone surrogates (the same), and an object that repeats a key (it would
// keep the last one, so two readers of one body could disagree). Keys are
// compared as encoding/json matches them to fields, regardless of case
// (foldKey): "username" and "USERNAME" are one key twice. Syntax errors are
// left to the decoder, whose messages say where they are.
// Returns EINVALID.
func checkStrictJSON(b []byte) error {
	s := jsonScanner{b: b}
	s.value(0)
	return s.err
}

// jsonScanner walks a JSON text; it stops quietly at a syntax error.
type jsonScanner struct {
	b   []byte
	i   int
	err error // a strictness violation
	bad bool  // a syntax error: stop, let the decoder explain
}

func (s *jsonScanner) stopped() bool { return s.err != nil || s.bad }

func (s *jsonScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *jsonScanner) value(depth int) {
	if depth > maxJSONDepth {
		s.err = herald.Errorf(herald.EINVALID, "malformed JSON: nested more than %d levels deep", maxJSONDepth)
		return
	}
	s.space()
	if s.i >= len(s.b) {
		s.bad = true
		return
	}
	switch s.b[s.i] {
	case '[':
		s.list(']', func() { s.value(depth + 1) })
	case '{':
		seen := map[string]string{}
		s.list('}', func() { s.member(depth, seen) })
	case '"':
		s.str()
	default:
		// A number, true, false or null: the decoder checks them.
		for s.i < len(s.b) && !isDelim(s.b[s.i]) {
			s.i++
		}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\n', '\r', '"', '[', '{':
		return true
	}
	return false
}

// list reads the elements of an array or the members of an object, from
// its opening bracket to end: elem reads one, and commas separate them.
func (s *jsonScanner) list(end byte, elem func()) {
	s.i++ // [ or {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return
	}
	for !s.stopped() {
		elem()
		s.space()
		if s.stopped() || s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case end:
			s.i++
			return
		case ',':
			s.i++
		default:
			s.bad = true
			return
		}
	}
}

// member reads one "key": value of an object whose keys so far are seen
// (by their foldKey).
func (s *jsonScanner) member(depth int, seen map[string]string) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.bad = true
		return
	}
	key := s.str()
	if s.stopped() {
		return
	}
	folded := foldKey(key)
	if first, ok := seen[folded]; ok {
		if first == key {
			s.err = herald.Errorf(herald.EINVALID, "malformed JSON: the key %s appears twice in one object", strconv.Quote(key))
		} else {
			s.err = herald.Errorf(herald.EINVALID, "malformed JSON: the keys %s and %s are the same key (keys are matched regardless of case), given twice in one object",
				strconv.QuoteToASCII(first), strconv.QuoteToASCII(key))
		}
		return
	}
	seen[folded] = key
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		s.bad = true
		return
	}
	s.i++
	s.value(depth + 1)
}

// str reads a string starting at its opening quote and returns it decoded
// (keys are compared decoded: "a" and "\u0061" are the same key).
func (s *jsonScanner) str() string {
	s.i++ // "
	var out []byte
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(out)
		case c == '\\':
			if s.i+1 >= len(s.b) {
				s.bad = true
				return ""
			}
			if s.b[s.i+1] != 'u' {
				e, ok := jsonEscapes[s.b[s.i+1]]
				if !ok {
					s.bad = true
					return ""
				}
				out = append(out, e)
				s.i += 2
				continue
			}
			r, ok := s.hex4(s.i + 2)
			if !ok {
				s.bad = true
				return ""
			}
			s.i += 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					r2, ok2 = s.hex4(s.i + 2)
				}
				if r = utf16.DecodeRune(r, r2); !ok2 || r == utf8.RuneError {
					s.err = herald.Errorf(herald.EINVALID, "malformed JSON at byte %d: a \\u escape encodes half a character (a lone UTF-16 surrogate)", s.i-6)
					return ""
				}
				s.i += 6
			}
			out = utf8.AppendRune(out, r)
		case c < 0x80:
			out = append(out, c)
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size <= 1 {
				s.err = herald.Errorf(herald.EINVALID, "malformed JSON at byte %d: not valid UTF-8", s.i)
				return ""
			}
			out = append(out, s.b[s.i:s.i+size]...)
			s.i += size
		}
	}
	s.bad = true
	return ""
}

// foldKey folds a key the way encoding/json does before it matches a key
// to a struct field without regard to case (its foldName): ASCII letters
// to upper case, any other character to the smallest of its Unicode simple
// case folding orbit. So "k", "K" and the Kelvin sign U+212A fold alike, as
// do "s", "S" and the long s U+017F: encoding/json would fill one field
// from each, keeping the last.
func foldKey(key string) string {
	out := make([]byte, 0, len(key))
	for _, r := range key {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			out = append(out, byte(r))
			continue
		}
		out = utf8.AppendRune(out, smallestFold(r))
	}
	return string(out)
}

// smallestFold returns the smallest rune of r's simple case folding orbit.
func smallestFold(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func (s *jsonScanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.b[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
