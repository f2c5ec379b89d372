package ui

import (
	"bytes"
	"encoding/json"
)

func jsonIndent(out *bytes.Buffer, b []byte) error {
	return json.Indent(out, b, "", "  ")
}
