package store

import (
	"database/sql/driver"
	"slices"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/heraldhq/herald"
)

// The lists' searches (?q=): every word of the search must appear in a
// row's text, anywhere and without regard to case, so "sync crm" finds
// "CRM sync 01". Both the text and the words are lowered by the database,
// so that they are folded alike: on SQLite by unicodeLower, a function of
// Herald's own registered with the driver (SQLite's lower() folds ASCII
// letters only); on PostgreSQL by lower() under the database's default
// collation (a column's own, such as username's "C", would fold ASCII
// only), which follows the database's locale (docs/postgres.md).

// sqliteLower is the name unicodeLower is registered under.
const sqliteLower = "herald_lower"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLower, 1, unicodeLower)
}

// unicodeLower is SQL's lower() with Go's Unicode case folding.
func unicodeLower(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		return strings.ToLower(string(v)), nil
	default: // NULL, numbers: as they are
		return v, nil
	}
}

// Bounds of a search: each word is a LIKE over every row, so a search of
// thousands of words would keep the database busy for minutes (and make
// SQLite's expression tree too deep).
const (
	maxSearchWords = 16
	maxSearchBytes = 512
)

// searchWords returns the condition that every word of q (split on
// spaces) appears in the text expr, without regard to case, as
// " AND ..." to append to a WHERE clause, with args extended by each
// word's pattern; "" and args as they were when q has no words. LIKE's
// wildcards in q are plain characters; a word given twice counts once.
// Returns EINVALID (q) for a search longer than maxSearchBytes or of more
// than maxSearchWords words.
func (tx *Tx) searchWords(expr, q string, args []any) (string, []any, error) {
	if len(q) > maxSearchBytes {
		return "", nil, herald.Invalid("q", "a search is at most %d bytes long", maxSearchBytes)
	}
	words := strings.Fields(q)
	slices.Sort(words)
	words = slices.Compact(words)
	if len(words) > maxSearchWords {
		return "", nil, herald.Invalid("q", "a search has at most %d words", maxSearchWords)
	}
	if len(words) == 0 {
		return "", args, nil
	}
	lower, text := "lower", "("+expr+`) COLLATE "default"`
	if tx.dialect.kind == SQLite {
		lower, text = sqliteLower, expr
	}
	var cond strings.Builder
	for _, w := range words {
		args = append(args, "%"+likeEscaper.Replace(w)+"%")
		cond.WriteString(` AND ` + lower + `(` + text + `) LIKE ` + lower + `($` + strconv.Itoa(len(args)) + `) ESCAPE '\'`)
	}
	return cond.String(), args, nil
}
